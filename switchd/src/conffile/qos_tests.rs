//! The `qos` and `tcp_checksum_fill` port keys.

use super::tests::{err, ok, one_port};

#[test]
fn shaper_with_queues() {
    let c = ok(&one_port(
        "qos = { type = \"dvs-shaper\", cir = 5000000, cbs = 100000, pir = 10000000, \
         pbs = 20000, queue_packets = 500, queues = { \"0\" = { priority = 0 }, \
         \"1\" = { priority = 1 }, \"2\" = { priority = 3 } } }\ntcp_checksum_fill = true\n",
    ));
    let p = &c.bridges[0].ports[0];
    let q = p.qos.as_ref().expect("qos");
    assert_eq!(q.cir_bytes_per_s, 5_000_000);
    assert_eq!(q.cbs_bytes, 100_000);
    assert_eq!(q.pir_bytes_per_s, 10_000_000);
    assert_eq!(q.pbs_bytes, 20_000);
    assert_eq!(q.queue_packets, 500);
    let queues: Vec<(u32, u8)> = q.queues.iter().map(|(a, b)| (*a, *b)).collect();
    assert_eq!(queues, vec![(0, 0), (1, 1), (2, 3)]);
    assert!(p.tcp_checksum_fill);
}

#[test]
fn defaults_and_absence() {
    let c = ok(&one_port(""));
    assert!(c.bridges[0].ports[0].qos.is_none());
    assert!(!c.bridges[0].ports[0].tcp_checksum_fill);
    let c = ok(&one_port("qos = { type = \"dvs-shaper\", cir = 1000 }\n"));
    let q = c.bridges[0].ports[0].qos.as_ref().expect("qos");
    assert_eq!((q.cbs_bytes, q.pir_bytes_per_s), (0, 0));
    assert_eq!(q.queue_packets, datapath::config::DEFAULT_QUEUE_PACKETS);
    assert!(q.queues.is_empty());
}

#[test]
fn refusals_name_the_field() {
    let e = err(&one_port("qos = { type = \"linux-htb\", cir = 1000 }\n"));
    assert!(
        e.contains("bridge[0].port[0].qos.type") && e.contains("linux-htb"),
        "{e}"
    );
    let e = err(&one_port("qos = { type = \"dvs-shaper\" }\n"));
    assert!(e.contains("qos needs cir"), "{e}");
    let e = err(&one_port("qos = { type = \"dvs-shaper\", cir = 0 }\n"));
    assert!(e.contains("cir must be"), "{e}");
    let e = err(&one_port(
        "qos = { type = \"dvs-shaper\", cir = 10, queues = { \"9\" = { priority = 1 } } }\n",
    ));
    assert!(e.contains("queue id must be 0..=7"), "{e}");
    let e = err(&one_port(
        "qos = { type = \"dvs-shaper\", cir = 10, queues = { \"x\" = { priority = 1 } } }\n",
    ));
    assert!(e.contains("queue id \"x\""), "{e}");
    let e = err(&one_port(
        "qos = { type = \"dvs-shaper\", cir = 10, queues = { \"1\" = { priority = 8 } } }\n",
    ));
    assert!(e.contains("priority 8 out of range 0..7"), "{e}");
    let e = err(&one_port(
        "qos = { type = \"dvs-shaper\", cir = 10, rate = 1 }\n",
    ));
    assert!(e.contains("rate"), "{e}");
}
