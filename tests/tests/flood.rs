//! A flood of new flows against established traffic, end to end: a real dvs-switchd with
//! namespace VMs on AF_PACKET veths. While vm1 pings vm2, vm3 sends thousands of frames to vm2,
//! each from a new source MAC (a new flow for NORMAL every time). The flood is cut at vm3's port
//! budget (`upcall_rate_per_port`) and counted as `upcall_limited` on vm3's port; vm1's pings
//! all come back, and the flood's new addresses do not invalidate the established flows' cached
//! decisions (the slow path runs about once per admitted flood frame, not once per ping besides).

use serde_json::json;
use std::time::Duration;
use tests::lab::{Lab, VmSpec};
use tests::netns::ping_counts;
use tests::{require_root, RawSock};

const FLOOD: u32 = 20_000;

fn upcalls(lab: &Lab) -> u64 {
    let s = lab.sw.call("pmd/stats", json!({}));
    s.as_array()
        .expect("pmds")
        .iter()
        .map(|p| p["upcalls"].as_u64().unwrap_or(0))
        .sum()
}

fn port_drop(lab: &Lab, port: &str, reason: &str) -> u64 {
    lab.sw.port_stats(port)["drops"][reason]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_flood_of_new_flows_is_cut_at_its_port_and_spares_established_traffic() {
    if !require_root("a_flood_of_new_flows_is_cut_at_its_port_and_spares_established_traffic") {
        return;
    }
    let lab = Lab::with_switch(
        &[
            VmSpec::access("vm1", 10, "10.0.7.1/24"),
            VmSpec::access("vm2", 10, "10.0.7.2/24"),
            VmSpec::access("vm3", 10, "10.0.7.3/24"),
        ],
        &[],
        "upcall_rate_per_port = 2000\n",
    );
    let (vm1, vm2, vm3) = (lab.vm("vm1"), lab.vm("vm2"), lab.vm("vm3"));
    assert!(vm1.ns.ping_ok("10.0.7.2"), "established before the flood");
    let dst = vm2.mac;
    let flooder = RawSock::open(&vm3.ns, "eth0");
    let up0 = upcalls(&lab);
    let sender = std::thread::spawn(move || {
        for i in 0..FLOOD {
            let mut f = dst.to_vec();
            f.extend_from_slice(&[0x02, 0x55, 0, 0]);
            f.extend_from_slice(&(i as u16).to_be_bytes());
            f.extend_from_slice(&0x88b5u16.to_be_bytes());
            f.extend_from_slice(&[0u8; 46]);
            flooder.send(&f);
        }
    });
    let (ok, out) = vm1.ns.exec(&[
        "ping", "-n", "-q", "-c", "30", "-i", "0.05", "-W", "1", "10.0.7.2",
    ]);
    sender.join().expect("flood sender");
    std::thread::sleep(Duration::from_millis(300));
    let (sent, got) = ping_counts(&out);
    assert!(
        ok && sent == got,
        "every ping answered during the flood: {out}"
    );
    let limited = port_drop(&lab, "vm3", "upcall_limited");
    let rx3 = lab.sw.port_stats("vm3")["rx_packets"].as_u64().unwrap_or(0);
    // The veth ring may overflow before the switch reads it: judge what the switch received.
    assert!(rx3 > 2000, "the flood reached the switch: {rx3} frames");
    assert!(
        limited > rx3 / 2,
        "most of the flood was cut at vm3's budget: {limited} of {rx3} received"
    );
    assert_eq!(
        port_drop(&lab, "vm1", "upcall_limited"),
        0,
        "vm1 kept its budget"
    );
    let admitted = rx3.saturating_sub(limited);
    let extra = (upcalls(&lab) - up0).saturating_sub(admitted);
    assert!(
        extra <= 20,
        "besides the admitted flood frames ({admitted}), only a few upcalls: {extra}"
    );
}
