//! MPLS over OpenFlow 1.3 on a running switch, driven by Debian's `ovs-ofctl -O OpenFlow13`:
//! matches on `mpls_label`, `mpls_tc` and `mpls_bos` select frames by their outermost label
//! stack entry, `set_field` on the label and TC and `set_mpls_ttl` rewrite exactly that entry,
//! `push_mpls`/`pop_mpls` change the stack and later tables (goto_table) match the headers they
//! leave, `dec_mpls_ttl` drops (counted) at TTL 1, and the TTL copies (sent raw: ovs-ofctl has no
//! spelling for them) move the TTL between the entry and the IP header. Frames are checked byte
//! for byte against frames built here, and flows read back with `dump-flows` as `ovs-ofctl
//! parse-flow` prints what was sent.

#[allow(dead_code)]
#[path = "ofctl/client.rs"]
mod client;
#[path = "ofctl/readback.rs"]
mod readback;
#[path = "ofctl/rig.rs"]
mod rig;
#[path = "ofctl/wire.rs"]
mod wire;

use packet::build;
use readback::{canonical, outputs};
use rig::*;
use std::net::Ipv4Addr;
use std::time::Duration;

/// An MPLS unicast frame A -> B with one label stack entry over a UDP/IPv4 packet.
fn mpls_frame(label: u32, tc: u32, ttl: u32) -> Vec<u8> {
    let ip = build::udp_ipv4_frame(
        A,
        B,
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        1234,
        80,
        &[0x5a; 30],
    );
    let lse = (label << 12) | (tc << 9) | (1 << 8) | ttl;
    let mut f = ip[..12].to_vec();
    f.extend_from_slice(&wire::MPLS.to_be_bytes());
    f.extend_from_slice(&lse.to_be_bytes());
    f.extend_from_slice(&ip[14..]);
    f
}

fn dumped(r: &Rig) -> Vec<String> {
    let dump = r.ofctl("dump-flows", &[]);
    lines_with(&dump, "priority=")
        .iter()
        .map(|l| {
            l[l.find("priority=").expect("priority")..]
                .trim()
                .to_string()
        })
        .collect()
}

#[test]
fn mpls_matches_select_by_label_and_set_field_rewrites_the_entry() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl("del-flows", &[]);
    let flow = "priority=100,in_port=1,mpls,mpls_label=1000,mpls_tc=5,mpls_bos=1,\
                actions=set_field:2000->mpls_label,set_field:3->mpls_tc,set_mpls_ttl(9),output:2";
    r.ofctl("add-flow", &[flow]);
    let other = "priority=90,in_port=1,mpls,mpls_label=1001,actions=output:3";
    r.ofctl("add-flow", &[other]);
    let mut want = dumped(&r);
    want.sort();
    let mut sent = vec![canonical(flow), canonical(other)];
    sent.sort();
    assert_eq!(want, sent, "flows read back");

    // Label 1000, TC 5: rewritten to label 2000, TC 3, TTL 9, out of b; nothing else changes.
    let input = mpls_frame(1000, 5, 63);
    r.sw.mock("a").expect("a").inject_all([input.clone()]);
    let out = outputs(&r, 1, Duration::from_secs(3));
    let expect = mpls_frame(2000, 3, 9);
    assert_eq!(
        out.len(),
        1,
        "{:?}",
        out.iter().map(|o| &o.0).collect::<Vec<_>>()
    );
    assert_eq!(out[0].0, "b");
    assert_eq!(out[0].1, expect, "{}", wire::diff(&expect, &out[0].1));
    assert!(wire::checksums_ok(&out[0].1));

    // Label 1001 goes to c untouched; TC 4 on label 1000 matches neither flow (dropped).
    let input = mpls_frame(1001, 5, 63);
    r.sw.mock("a").expect("a").inject_all([input.clone()]);
    let out = outputs(&r, 1, Duration::from_secs(3));
    assert_eq!(out, vec![("c".to_string(), input)]);
    r.sw.mock("a")
        .expect("a")
        .inject_all([mpls_frame(1000, 4, 63)]);
    assert!(outputs(&r, 0, Duration::from_millis(200)).is_empty());
    assert_eq!(drops(&r, "edit_failed"), 0);
}

#[test]
fn mpls_fields_need_an_mpls_match_and_bos_is_read_only() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    r.ofctl("del-flows", &[]);
    // ovs-ofctl itself insists on the prerequisite; the switch does too (raw OXM is checked
    // in of_set_field.rs): a label match without an MPLS ethertype is BAD_PREREQ.
    let (ok, _, err) = r.ofctl_status("add-flow", &["priority=100,mpls_label=5,actions=drop"]);
    assert!(!ok, "{err}");
    let (ok, _, err) = r.ofctl_status(
        "add-flow",
        &["priority=100,mpls,actions=set_field:1->mpls_bos,output:2"],
    );
    assert!(!ok && err.contains("read-only"), "{err}");
}

/// The UDP/IPv4 frame A -> B that `mpls_frame` labels.
fn ip_frame() -> Vec<u8> {
    let f = mpls_frame(0, 0, 0);
    let mut ip = f[..12].to_vec();
    ip.extend_from_slice(&0x0800u16.to_be_bytes());
    ip.extend_from_slice(&f[18..]);
    ip
}

/// Install `flows` and check they read back exactly.
fn install(r: &Rig, flows: &[&str]) {
    r.ofctl("del-flows", &[]);
    for f in flows {
        r.ofctl("add-flow", &[f]);
    }
    let mut got = dumped(r);
    got.sort();
    let mut sent: Vec<String> = flows.iter().map(|f| canonical(f)).collect();
    sent.sort();
    assert_eq!(got, sent, "flows read back");
}

/// Inject `input` on a and expect exactly `expect` out of `port`.
fn expect_out(r: &Rig, input: Vec<u8>, port: &str, expect: &[u8]) {
    r.sw.mock("a").expect("a").inject_all([input]);
    let out = outputs(r, 1, Duration::from_secs(3));
    assert_eq!(
        out.iter().map(|o| o.0.as_str()).collect::<Vec<_>>(),
        vec![port]
    );
    assert_eq!(out[0].1, expect, "{}", wire::diff(expect, &out[0].1));
    assert!(wire::checksums_ok(&out[0].1));
}

#[test]
fn push_in_table_0_then_table_1_matches_the_new_label() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    install(
        &r,
        &[
            "priority=100,in_port=1,ip,\
             actions=push_mpls:0x8847,set_field:1000->mpls_label,goto_table:1",
            "table=1,priority=100,mpls,mpls_label=1000,mpls_tc=0,mpls_bos=1,\
             actions=dec_mpls_ttl,output:2",
            "table=1,priority=50,actions=output:3",
        ],
    );
    // Label 1000 (set), TC 0 and bottom of stack (new entry), TTL from the IP TTL, then
    // decremented; the IP packet under it is untouched.
    let ip = ip_frame();
    let ttl = u32::from(ip[22]);
    expect_out(&r, ip, "b", &mpls_frame(1000, 0, ttl - 1));
    assert_eq!(drops(&r, "ttl_expired"), 0);
}

#[test]
fn pop_in_table_0_then_table_1_matches_the_ip_header_underneath() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    install(
        &r,
        &[
            "priority=100,in_port=1,mpls,mpls_label=1000,actions=pop_mpls:0x0800,goto_table:1",
            "table=1,priority=100,udp,nw_dst=10.0.0.2,tp_dst=80,actions=output:2",
            "table=1,priority=50,actions=output:3",
        ],
    );
    expect_out(&r, mpls_frame(1000, 5, 63), "b", &ip_frame());
    // A label table 0 does not know: table miss, nothing out.
    r.sw.mock("a")
        .expect("a")
        .inject_all([mpls_frame(1001, 5, 63)]);
    assert!(outputs(&r, 0, Duration::from_millis(200)).is_empty());
    assert_eq!(drops(&r, "edit_failed"), 0);
}

#[test]
fn dec_mpls_ttl_drops_at_one_and_counts_it() {
    if !have_ofctl() {
        return;
    }
    let r = Rig::new(false);
    install(
        &r,
        &["priority=100,in_port=1,mpls,actions=dec_mpls_ttl,set_mpls_ttl(9),dec_mpls_ttl,output:2"],
    );
    expect_out(&r, mpls_frame(7, 1, 2), "b", &mpls_frame(7, 1, 8));
    let before = drops(&r, "ttl_expired");
    r.sw.mock("a").expect("a").inject_all([mpls_frame(7, 1, 1)]);
    assert!(outputs(&r, 0, Duration::from_millis(200)).is_empty());
    assert_eq!(drops(&r, "ttl_expired"), before + 1);
}

#[test]
fn ttl_copies_move_the_ttl_between_the_entry_and_the_ip_header() {
    if !have_ofctl() {
        return;
    }
    use openflow::oxm::OxmField;
    use openflow::Action as A;
    let r = Rig::new(false);
    r.ofctl("del-flows", &[]);
    let mut c = client::Client::connect(&switchd::ofp::mgmt_path(&r.rundir, "br0"));
    let label = |l: u128| {
        vec![
            OxmField::exact(flowtable::Field::InPort, 1),
            OxmField::exact(flowtable::Field::EthType, u128::from(wire::MPLS)),
            OxmField::exact(flowtable::Field::MplsLabel, l),
        ]
    };
    let out = A::Output {
        port: 2,
        max_len: 0,
    };
    let flows = [
        (
            label(8),
            vec![A::CopyTtlIn, A::PopMpls(0x0800), out.clone()],
        ),
        (label(9), vec![A::CopyTtlOut, out.clone()]),
    ];
    for (xid, (m, a)) in flows.iter().enumerate() {
        let fm = client::flow_mod(openflow::FlowModCommand::Add, m.clone(), a.clone());
        c.send(30 + xid as u32, &openflow::Message::FlowMod(fm));
    }
    // Read back exactly, actions in order.
    let mut stats = client::flow_stats(&mut c, 40);
    stats.sort_by_key(|s| format!("{:?}", s.matches));
    assert_eq!(stats.len(), 2);
    for (s, (m, a)) in stats.iter().zip(&flows) {
        assert_eq!(&s.matches, m);
        assert_eq!(
            s.instructions,
            vec![openflow::Instruction::ApplyActions(a.clone())]
        );
    }
    // copy_ttl_in then pop: the IP TTL becomes the entry's (20), its checksum fixed.
    let mut want = ip_frame();
    want[22] = 20;
    wire::fix_checksums(&mut want);
    expect_out(&r, mpls_frame(8, 0, 20), "b", &want);
    // copy_ttl_out: the entry's TTL becomes the IP TTL.
    let ip = ip_frame();
    expect_out(
        &r,
        mpls_frame(9, 2, 3),
        "b",
        &mpls_frame(9, 2, u32::from(ip[22])),
    );
}
