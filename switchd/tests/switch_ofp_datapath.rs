//! The datapath side of OpenFlow features, without any OpenFlow connection: fail-open mode,
//! PORT_MOD config bits (no_recv, no_fwd, port down, no_packet_in), CONTROLLER actions reaching
//! the packet-in queue with the right header fields, and injected packets (the PACKET_OUT path:
//! translate on the control thread, execute on PMD 0, including output:TABLE).

use datapath::bridge::{OFPPC_NO_FWD, OFPPC_NO_PACKET_IN, OFPPC_NO_RECV, OFPPC_PORT_DOWN};
use datapath::switch::Switch;
use datapath::xlate::{self, InPort, Mode, OFPR_ACTION, OFPR_NO_MATCH};
use flowtable::action::{Action, OFPP_CONTROLLER, OFPP_TABLE};
use flowtable::extract::extract;
use flowtable::key::FlowKey;
use flowtable::pipeline::{Origin, PipelineResult};
use packet::build;
use serde_json::json;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchd::control::Control;
use switchd_api::rpc::RpcHandler;

const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

struct Rig {
    sw: Arc<Switch>,
    ctl: Control,
}

impl Rig {
    fn new(flows: &[&str]) -> Rig {
        let flows: String = flows.iter().map(|f| format!("  \"{f}\",\n")).collect();
        let port = |n: &str, o: u32| {
            format!("[[bridge.port]]\nname = \"{n}\"\nkind = \"mock\"\nofport = {o}\n")
        };
        let text = format!(
            "[switch]\npmd_cores = [0]\npool_frames = 1024\npmd_sleep_max_us = 100\n\n\
             [[bridge]]\nname = \"br0\"\nflows = [\n{flows}]\n{}{}{}",
            port("a", 1),
            port("b", 2),
            port("c", 3)
        );
        let cfg = switchd::conffile::parse(&text, Path::new("ofp-dp.toml")).expect("config");
        let sw = Arc::new(Switch::build(cfg).expect("build"));
        sw.start().expect("start");
        let ctl = Control::new(sw.clone(), Arc::new(AtomicBool::new(false)));
        Rig { sw, ctl }
    }

    /// Inject into `from`; collect (port, frame) until `expect` came out (or 150 ms for none).
    fn send(&self, from: &str, frame: Vec<u8>, expect: usize) -> Vec<(String, Vec<u8>)> {
        self.sw.mock(from).expect("mock").inject(frame);
        self.collect(expect)
    }

    fn collect(&self, expect: usize) -> Vec<(String, Vec<u8>)> {
        let wait = if expect == 0 { 150 } else { 3000 };
        let deadline = Instant::now() + Duration::from_millis(wait);
        let mut out = Vec::new();
        while Instant::now() < deadline {
            for (name, h) in &self.sw.mock_handles {
                for f in h.take_sent() {
                    out.push((name.clone(), f));
                }
            }
            if expect > 0 && out.len() >= expect {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        out
    }

    fn drops(&self, reason: &str) -> u64 {
        self.ctl.call("drop/stats", json!({})).expect("drops")[reason]
            .as_u64()
            .expect(reason)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.sw.stop();
    }
}

fn udp(src: [u8; 6], dst: [u8; 6], port: u16, payload_len: usize) -> Vec<u8> {
    build::udp_ipv4_frame(
        src,
        dst,
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        1234,
        port,
        &vec![7u8; payload_len],
    )
}

fn names(out: &[(String, Vec<u8>)]) -> Vec<&str> {
    let mut v: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    v.sort();
    v
}

#[test]
fn fail_open_bypasses_the_tables_with_normal() {
    let r = Rig::new(&["priority=100,actions=drop"]);
    assert!(
        r.send("a", udp(A, B, 80, 10), 0).is_empty(),
        "the drop flow"
    );
    let b = &r.sw.bridges()[0];
    b.set_fail_open(true);
    assert_eq!(names(&r.send("a", udp(A, B, 80, 10), 2)), ["b", "c"]);
    b.set_fail_open(false);
    assert!(
        r.send("a", udp(A, B, 80, 10), 0).is_empty(),
        "back to the flows"
    );
}

#[test]
fn port_config_bits_are_enforced() {
    let r = Rig::new(&[]);
    let b = &r.sw.bridges()[0];
    // no_fwd on c: flooding skips it, explicit output to it is dropped and counted.
    assert_eq!(
        b.set_port_config(3, OFPPC_NO_FWD, OFPPC_NO_FWD),
        Some((0, OFPPC_NO_FWD))
    );
    assert_eq!(names(&r.send("a", udp(A, [0xff; 6], 80, 10), 1)), ["b"]);
    // no_recv on a: nothing it receives is processed.
    let before = r.drops("port_no_recv");
    b.set_port_config(1, OFPPC_NO_RECV, OFPPC_NO_RECV);
    assert!(r.send("a", udp(A, [0xff; 6], 80, 10), 0).is_empty());
    assert_eq!(r.drops("port_no_recv"), before + 1);
    b.set_port_config(1, 0, OFPPC_NO_RECV);
    // port down on b: neither receives nor forwards.
    b.set_port_config(2, OFPPC_PORT_DOWN, OFPPC_PORT_DOWN);
    b.set_port_config(3, 0, OFPPC_NO_FWD);
    assert_eq!(names(&r.send("a", udp(A, [0xff; 6], 80, 10), 1)), ["c"]);
    assert!(r.send("b", udp(B, A, 80, 10), 0).is_empty());
    assert!(!b.view().port_live(2), "administratively down is not live");
    assert_eq!(
        b.set_port_config(99, 0, OFPPC_PORT_DOWN),
        None,
        "no such port"
    );
}

#[test]
fn controller_actions_queue_packet_ins_with_their_origin() {
    let r = Rig::new(&[
        "table=0,priority=0,actions=goto_table:1",
        "table=1,priority=0,cookie=0x77,actions=CONTROLLER:65535",
        "table=1,priority=5,cookie=0x55,udp,tp_dst=99,actions=CONTROLLER:64,output:2",
    ]);
    let b = &r.sw.bridges()[0];
    let rx = b
        .packet_in
        .take_receiver()
        .expect("nobody else drains it here");
    // Table miss entry of table 1: reason no_match, whole packet.
    r.send("a", udp(A, B, 80, 200), 0);
    let m = rx.recv_timeout(Duration::from_secs(3)).expect("packet-in");
    assert_eq!(
        (m.reason, m.table, m.cookie, m.in_port),
        (OFPR_NO_MATCH, 1, 0x77, 1)
    );
    assert_eq!(m.data.len(), m.total_len);
    assert_eq!(m.data, udp(A, B, 80, 200));
    // An ordinary rule: reason action, truncated to 64, and the output still happens.
    let out = r.send("a", udp(A, B, 99, 200), 1);
    assert_eq!(names(&out), ["b"]);
    let m = rx.recv_timeout(Duration::from_secs(3)).expect("packet-in");
    assert_eq!((m.reason, m.table, m.cookie), (OFPR_ACTION, 1, 0x55));
    assert_eq!((m.data.len(), m.total_len), (64, udp(A, B, 99, 200).len()));
    // no_packet_in on the ingress port: nothing queued, counted.
    b.set_port_config(1, OFPPC_NO_PACKET_IN, OFPPC_NO_PACKET_IN);
    r.send("a", udp(A, B, 80, 10), 0);
    assert!(rx.try_recv().is_err());
    assert_eq!(r.drops("no_packet_in"), 1);
}

/// Translate `actions` for a frame from the controller, as PACKET_OUT does.
fn inject(r: &Rig, frame: &[u8], actions: Vec<Action>) {
    let b = &r.sw.bridges()[0];
    let view = b.view();
    let mut key = FlowKey::default();
    extract(frame, OFPP_CONTROLLER, &mut key);
    let n = actions.len();
    let res = PipelineResult {
        actions,
        origins: vec![Origin::default(); n],
        final_key: key,
        ..PipelineResult::default()
    };
    let (dec, _) = {
        let mut macs = b.macs();
        let len = frame.len() as u32;
        xlate::translate(
            &view,
            InPort::controller(),
            &key,
            res,
            &mut macs,
            0,
            len,
            Mode::Learn,
        )
    };
    b.inject
        .send_and_wait(frame.to_vec(), dec)
        .expect("PMD 0 executes it");
}

#[test]
fn injected_packets_go_out_through_pmd_zero_and_table_output_runs_the_pipeline() {
    let r = Rig::new(&["priority=10,udp,tp_dst=99,actions=output:3"]);
    let f = udp(A, B, 80, 20);
    inject(&r, &f, vec![Action::output(2)]);
    // send_and_wait returned: the frame is already on b's transmit side.
    let out = r.collect(1);
    assert_eq!(out, vec![("b".to_string(), f.clone())]);
    let g = udp(A, B, 99, 20);
    inject(&r, &g, vec![Action::output(OFPP_TABLE)]);
    assert_eq!(r.collect(1), vec![("c".to_string(), g)]);
    // NORMAL from the controller floods (nothing learned, and the controller is not learned).
    inject(&r, &f, vec![Action::normal()]);
    let out = r.collect(3);
    assert_eq!(names(&out), ["a", "b", "c"]);
    let view = r.sw.bridges()[0].view();
    let flows = view.pipeline.flows(Some(0));
    let hit = flows.iter().find(|e| e.priority == 10).expect("flow");
    assert_eq!(
        hit.stats.snapshot().packets,
        1,
        "output:TABLE counts the rule"
    );
}
