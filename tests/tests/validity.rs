//! Frame validity end to end: a real dvs-switchd with namespace VMs on AF_PACKET veths. Bad
//! frames (group source MACs, IPv4 with IHL 4 or a total length beyond the frame, IPv6 with a
//! payload length beyond the frame, tagged or not) are sent from one VM with a raw socket; each
//! must never reach the other VMs and must be counted under its reason both switch-wide and for
//! the ingress port, while valid frames sent in between (IPv4 with options, padded IPv6) arrive.
//! A 42-byte frame arrives zero-padded to 60 bytes and is counted as padded. The trace and
//! `dvsctl switch drops --ports` name what dropped.

use serde_json::{json, Value};
use std::time::Duration;
use tests::frames::{frame, parse, TEST_ETHERTYPE};
use tests::lab::{Lab, VmSpec};
use tests::{mac_str, require_root, RawSock};

const WINDOW: Duration = Duration::from_millis(600);

/// A marker that identifies one test frame wherever it sits in the frame.
fn marker(n: u32) -> [u8; 8] {
    let mut m = *b"vld\0\0\0\0\0";
    m[4..].copy_from_slice(&n.to_be_bytes());
    m
}

fn has_marker(f: &[u8], n: u32) -> bool {
    let m = marker(n);
    f.windows(m.len()).any(|w| w == m)
}

/// Ethernet header, optional 802.1Q tag, EtherType.
fn l2(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, ethertype: u16) -> Vec<u8> {
    let mut f = dst.to_vec();
    f.extend_from_slice(&src);
    if let Some(v) = vlan {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4/UDP packet: header of `ihl` words (options zero), `total` in the length field, and
/// a UDP payload that carries marker `n` (so the packet is 20 + 8 + 8 + pad bytes long).
fn ipv4(ihl: u8, total: Option<u16>, n: u32) -> Vec<u8> {
    let hl = usize::from(ihl.max(5)) * 4;
    let mut p = vec![0u8; hl];
    p[0] = 0x40 | ihl;
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 0, 9, 1]);
    p[16..20].copy_from_slice(&[10, 0, 9, 2]);
    let mut udp = vec![0x30, 0x39, 0x30, 0x39, 0, 0, 0, 0];
    udp.extend_from_slice(&marker(n));
    udp.extend_from_slice(&[0x55; 12]);
    let ulen = udp.len() as u16;
    udp[4..6].copy_from_slice(&ulen.to_be_bytes());
    p.extend_from_slice(&udp);
    let len = total.unwrap_or(p.len() as u16);
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p
}

/// An IPv6/UDP packet carrying marker `n`, with `plen` in the payload length field (the real
/// payload is 28 bytes) and `pad` bytes of Ethernet padding after it.
fn ipv6(plen: Option<u16>, pad: usize, n: u32) -> Vec<u8> {
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[6] = 17;
    p[7] = 64;
    p[8] = 0xfd;
    p[23] = 1;
    p[24] = 0xfd;
    p[39] = 2;
    let mut udp = vec![0x30, 0x39, 0x30, 0x39, 0, 28, 0, 0];
    udp.extend_from_slice(&marker(n));
    udp.extend_from_slice(&[0x66; 12]);
    let len = plen.unwrap_or(udp.len() as u16);
    p[4..6].copy_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&udp);
    p.extend_from_slice(&vec![0u8; pad]);
    p
}

fn port_drop(lab: &Lab, port: &str, reason: &str) -> u64 {
    lab.sw.port_stats(port)["drops"][reason]
        .as_u64()
        .unwrap_or(0)
}

/// Every drop reason's switch-wide count.
fn all_drops(lab: &Lab) -> Value {
    lab.sw.call("drop/stats", json!({}))
}

#[test]
fn bad_frames_are_dropped_and_counted_short_frames_padded() {
    if !require_root("bad_frames_are_dropped_and_counted_short_frames_padded") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.9.1/24"),
            VmSpec::access("vm2", 10, "10.0.9.2/24"),
            VmSpec::trunk("vm3", "10", None),
        ],
        &["table=0,priority=100,cookie=0xd5,ip,nw_dst=10.0.9.99,actions=drop"],
    );
    let (vm1, vm2, vm3) = (lab.vm("vm1"), lab.vm("vm2"), lab.vm("vm3"));
    assert!(
        vm1.ns.ping_ok("10.0.9.2"),
        "ARP and ping work through padding"
    );
    let tx1 = RawSock::open(&vm1.ns, "eth0");
    let tx3 = RawSock::open(&vm3.ns, "eth0");
    let cap2 = RawSock::open(&vm2.ns, "eth0");
    let cap3 = RawSock::open(&vm3.ns, "eth0");
    cap2.drain();
    cap3.drain();
    let before = all_drops(&lab);
    let delta = |reason: &str| {
        all_drops(&lab)[reason].as_u64().unwrap_or(0) - before[reason].as_u64().unwrap_or(0)
    };
    let (b_mc, b_v4, b_v6) = (
        port_drop(&lab, "vm1", "src_mac_multicast"),
        port_drop(&lab, "vm1", "bad_ipv4_header"),
        port_drop(&lab, "vm1", "bad_ipv6_length"),
    );
    let b_v4_trunk = port_drop(&lab, "vm3", "bad_ipv4_header");

    // Each case: (what, frame sent by vm1 or vm3 (tagged), whether it must arrive at vm2).
    let dst = vm2.mac;
    let mut n = 0u32;
    let mut next = || {
        n += 1;
        n
    };
    let mut cases: Vec<(&str, bool, Vec<u8>, bool, u32)> = Vec::new();
    let mut add = |what: &'static str, from3: bool, f: Vec<u8>, good: bool, m: u32| {
        cases.push((what, from3, f, good, m));
    };
    let m = next();
    let mut f = l2(dst, [0x01, 0x00, 0x5e, 0, 0, 1], None, 0x0800);
    f.extend(ipv4(5, None, m));
    add("multicast source MAC", false, f, false, m);
    let m = next();
    let mut f = l2(dst, [0xff; 6], None, 0x0800);
    f.extend(ipv4(5, None, m));
    add("broadcast source MAC", false, f, false, m);
    let m = next();
    let mut f = l2(dst, vm1.mac, None, 0x0800);
    f.extend(ipv4(4, None, m));
    add("IPv4 IHL 4", false, f, false, m);
    let m = next();
    let mut f = l2(dst, vm1.mac, None, 0x0800);
    f.extend(ipv4(5, Some(1000), m));
    add("IPv4 total length beyond the frame", false, f, false, m);
    let m = next();
    let mut f = l2(dst, vm1.mac, None, 0x86dd);
    f.extend(ipv6(Some(200), 0, m));
    add("IPv6 payload length beyond the frame", false, f, false, m);
    let m = next();
    let mut f = l2(dst, vm3.mac, Some(10), 0x0800);
    f.extend(ipv4(5, Some(1000), m));
    add(
        "tagged IPv4 total length beyond the frame",
        true,
        f,
        false,
        m,
    );
    let m = next();
    let mut f = l2(dst, vm1.mac, None, 0x0800);
    f.extend(ipv4(7, None, m));
    add("IPv4 with options", false, f, true, m);
    let m = next();
    let mut f = l2(dst, vm1.mac, None, 0x0800);
    let mut p = ipv4(5, None, m);
    let real = p.len() as u16;
    p.extend_from_slice(&[0u8; 10]);
    p[2..4].copy_from_slice(&real.to_be_bytes());
    f.extend(p);
    add("IPv4 followed by padding", false, f, true, m);
    let m = next();
    let mut f = l2(dst, vm1.mac, None, 0x86dd);
    f.extend(ipv6(None, 6, m));
    add("IPv6 followed by padding", false, f, true, m);
    let m = next();
    let mut f = l2(dst, vm3.mac, Some(10), 0x0800);
    f.extend(ipv4(6, None, m));
    add("tagged IPv4 with options", true, f, true, m);

    for (what, from3, f, good, m) in &cases {
        if *from3 {
            tx3.send(f);
        } else {
            tx1.send(f);
        }
        let got = cap2.collect(WINDOW, |g| has_marker(g, *m));
        if *good {
            assert_eq!(got.len(), 1, "{what}: vm2 receives the valid frame once");
            // vm2 is an access port: a frame from the trunk arrives with its tag popped.
            let mut want = f.clone();
            if *from3 {
                want.drain(12..16);
            }
            assert_eq!(&got[0][..], &want[..], "{what}: forwarded unchanged");
        } else {
            assert!(got.is_empty(), "{what}: must not reach vm2 ({got:02x?})");
        }
        // A valid test frame right after each: the port keeps forwarding.
        let v = next();
        tx1.send(&frame(dst, vm1.mac, None, v));
        let ok = cap2.collect(WINDOW, |g| parse(g).is_some_and(|p| p.3 == v));
        assert_eq!(ok.len(), 1, "after {what}: the next valid frame arrives");
    }
    // Nothing bad leaked to the trunk VM either (flooded copies would show there).
    let leaked = cap3.collect(Duration::from_millis(100), |g| {
        cases
            .iter()
            .any(|(_, _, _, good, m)| !good && has_marker(g, *m))
    });
    assert!(leaked.is_empty(), "vm3 saw {} bad frames", leaked.len());

    // Counted under their reasons, switch-wide and for the ingress port.
    assert_eq!(delta("src_mac_multicast"), 2);
    assert_eq!(delta("bad_ipv4_header"), 3);
    assert_eq!(delta("bad_ipv6_length"), 1);
    assert_eq!(port_drop(&lab, "vm1", "src_mac_multicast") - b_mc, 2);
    assert_eq!(port_drop(&lab, "vm1", "bad_ipv4_header") - b_v4, 2);
    assert_eq!(port_drop(&lab, "vm1", "bad_ipv6_length") - b_v6, 1);
    assert_eq!(port_drop(&lab, "vm3", "bad_ipv4_header") - b_v4_trunk, 1);
    assert_eq!(port_drop(&lab, "vm2", "bad_ipv4_header"), 0);

    // A 42-byte frame arrives as 60 bytes, zero-padded, and is counted as padded.
    let padded_before = lab.sw.port_stats("vm1")["rx_runts_padded"]
        .as_u64()
        .unwrap_or(0);
    let dropped_before = lab.sw.port_stats("vm1")["rx_dropped"].as_u64().unwrap_or(0);
    let m = next();
    let mut short = l2(dst, vm1.mac, None, TEST_ETHERTYPE);
    short.extend_from_slice(&marker(m));
    short.extend_from_slice(&[0xab; 20]);
    assert_eq!(short.len(), 42);
    tx1.send(&short);
    let got = cap2.collect(WINDOW, |g| has_marker(g, m));
    assert_eq!(got.len(), 1, "the short frame is forwarded");
    assert_eq!(got[0].len(), 60, "padded to the Ethernet minimum");
    assert_eq!(&got[0][..42], &short[..]);
    assert!(got[0][42..].iter().all(|&b| b == 0), "padding is zeros");
    let s1 = lab.sw.port_stats("vm1");
    assert!(s1["rx_runts_padded"].as_u64().unwrap_or(0) > padded_before);
    assert_eq!(
        s1["rx_dropped"].as_u64().unwrap_or(0),
        dropped_before,
        "padding is not a drop"
    );

    // The per-port view and the breakdown name the reasons.
    let (ok, out) = lab.sw.dvsctl(&["switch", "drops", "--ports"]);
    assert!(ok, "{out}");
    assert!(out.contains("by ingress port:"), "{out}");
    let vm1_line = out
        .lines()
        .find(|l| l.contains("(vm1)"))
        .unwrap_or_else(|| panic!("no vm1 line in:\n{out}"));
    for r in ["src_mac_multicast=", "bad_ipv4_header=", "bad_ipv6_length="] {
        assert!(vm1_line.contains(r), "{r} in {vm1_line}");
    }
    let (ok, out) = lab.sw.dvsctl(&["switch", "ports"]);
    assert!(ok, "{out}");
    assert!(out.contains("rx drops by reason: "), "{out}");
    assert!(out.contains("short frames padded to 60 bytes: "), "{out}");

    // Trace: a multicast source is refused before anything else; a drop rule is named.
    let (ok, out) = lab.sw.dvsctl(&[
        "switch",
        "trace",
        "br0",
        "in_port=vm1,dl_src=01:00:5e:00:00:01,ip,nw_dst=10.0.9.2",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("Datapath actions: drop (reason: src_mac_multicast)"),
        "{out}"
    );
    let (ok, out) = lab.sw.dvsctl(&[
        "switch",
        "trace",
        "br0",
        &format!(
            "in_port=vm1,dl_src={},ip,nw_src=10.0.9.1,nw_dst=10.0.9.99",
            mac_str(vm1.mac)
        ),
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains(
            "Datapath actions: drop (reason: rule_drop; table 0 priority 100 cookie 0xd5)"
        ),
        "{out}"
    );
}
