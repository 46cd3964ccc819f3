//! Fuzz-style property tests: arbitrary bytes through every checked
//! constructor and every accessor must never panic, and checksum helpers
//! must agree with each other.
//!
//! Purely random bytes rarely get past a version check or a DHCP magic
//! cookie, so the inputs also include valid frames from `build` with random
//! byte overwrites and truncation; those reach the deeper accessors.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use packet::{build, checksum, dhcp, ipv6, vlan};
use packet::{
    ArpPacket, DhcpPacket, EthernetFrame, Icmpv4Packet, Icmpv6Packet, Ipv4Packet, Ipv6Packet,
    PseudoHeader, TcpPacket, UdpPacket, VlanTag,
};
use proptest::prelude::*;

const V4S: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const V4D: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const V6S: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const V6D: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

fn pseudo_headers() -> [PseudoHeader; 2] {
    [
        PseudoHeader::V4 { src: V4S, dst: V4D },
        PseudoHeader::V6 { src: V6S, dst: V6D },
    ]
}

fn touch_all(d: &[u8]) {
    if let Ok(p) = EthernetFrame::new_checked(d) {
        black_box((p.dst_addr(), p.src_addr(), p.ethertype(), p.payload()));
    }
    if let Ok(p) = VlanTag::new_checked(d) {
        black_box((
            p.tci(),
            p.pcp(),
            p.dei(),
            p.vid(),
            p.ethertype(),
            p.payload(),
        ));
    }
    let _ = black_box(vlan::parse_tags(d).map(|s| s.depth()));
    if let Ok(p) = ArpPacket::new_checked(d) {
        black_box((p.htype(), p.ptype(), p.hlen(), p.plen(), p.oper()));
        black_box((p.sha(), p.spa(), p.tha(), p.tpa()));
    }
    if let Ok(p) = Ipv4Packet::new_checked(d) {
        black_box((
            p.version(),
            p.header_len(),
            p.dscp(),
            p.ecn(),
            p.total_len(),
            p.ident(),
        ));
        black_box((
            p.dont_frag(),
            p.more_frags(),
            p.frag_offset(),
            p.is_fragment(),
            p.ttl(),
        ));
        black_box((
            p.protocol(),
            p.checksum(),
            p.src_addr(),
            p.dst_addr(),
            p.options(),
        ));
        black_box((p.payload(), p.verify_checksum(), p.option_iter().count()));
        let mut owned = d.to_vec();
        let mut m = Ipv4Packet::new_checked(&mut owned[..]).unwrap();
        m.fill_checksum();
        assert!(m.verify_checksum());
        m.decrement_ttl();
        assert!(m.verify_checksum());
    }
    if let Ok(p) = Ipv6Packet::new_checked(d) {
        black_box((
            p.version(),
            p.traffic_class(),
            p.flow_label(),
            p.payload_len(),
        ));
        black_box((
            p.next_header(),
            p.hop_limit(),
            p.src_addr(),
            p.dst_addr(),
            p.payload(),
        ));
        let _ = black_box(p.upper_layer());
        let _ = black_box(p.upper_layer_payload());
        if let Ok(ul) = p.upper_layer() {
            assert!(ul.offset <= d.len());
            black_box(ul.is_later_fragment());
        }
    }
    let _ = black_box(ipv6::skip_extension_headers(
        d.first().copied().unwrap_or(0),
        d,
    ));
    if let Ok(p) = Icmpv4Packet::new_checked(d) {
        black_box((p.msg_type(), p.msg_code(), p.checksum(), p.rest_of_header()));
        black_box((
            p.echo_ident(),
            p.echo_seq_no(),
            p.data(),
            p.verify_checksum(),
        ));
        let mut owned = d.to_vec();
        let mut m = Icmpv4Packet::new_checked(&mut owned[..]).unwrap();
        m.fill_checksum();
        assert!(m.verify_checksum());
    }
    if let Ok(p) = Icmpv6Packet::new_checked(d) {
        black_box((
            p.msg_type(),
            p.msg_code(),
            p.checksum(),
            p.echo_ident(),
            p.echo_seq_no(),
        ));
        black_box((
            p.payload(),
            p.is_ndp(),
            p.na_router_flag(),
            p.na_solicited_flag(),
        ));
        black_box((
            p.na_override_flag(),
            p.ra_cur_hop_limit(),
            p.ra_managed_flag(),
        ));
        black_box((
            p.ra_other_flag(),
            p.ra_router_lifetime(),
            p.ra_reachable_time(),
        ));
        black_box((p.ra_retrans_timer(), p.target_addr(), p.redirect_dst_addr()));
        black_box((p.ndp_options(), p.ndp_option_iter().count()));
        black_box((p.source_link_layer_addr(), p.target_link_layer_addr()));
        black_box(p.verify_checksum(V6S, V6D));
        let mut owned = d.to_vec();
        let mut m = Icmpv6Packet::new_checked(&mut owned[..]).unwrap();
        m.fill_checksum(V6S, V6D);
        assert!(m.verify_checksum(V6S, V6D));
    }
    if let Ok(p) = UdpPacket::new_checked(d) {
        black_box((
            p.src_port(),
            p.dst_port(),
            p.len(),
            p.checksum(),
            p.payload(),
        ));
        for ph in pseudo_headers() {
            black_box(p.verify_checksum(&ph));
            let mut owned = d.to_vec();
            let mut m = UdpPacket::new_checked(&mut owned[..]).unwrap();
            m.fill_checksum(&ph);
            assert!(m.verify_checksum(&ph));
        }
    }
    if let Ok(p) = TcpPacket::new_checked(d) {
        black_box((p.src_port(), p.dst_port(), p.seq_number(), p.ack_number()));
        black_box((
            p.header_len(),
            p.flags(),
            p.fin(),
            p.syn(),
            p.rst(),
            p.psh(),
            p.ack(),
        ));
        black_box((
            p.urg(),
            p.window_len(),
            p.checksum(),
            p.urgent_at(),
            p.options(),
        ));
        black_box(p.payload());
        for ph in pseudo_headers() {
            black_box(p.verify_checksum(&ph));
            let mut owned = d.to_vec();
            let mut m = TcpPacket::new_checked(&mut owned[..]).unwrap();
            m.fill_checksum(&ph);
            assert!(m.verify_checksum(&ph));
        }
    }
    if let Ok(p) = DhcpPacket::new_checked(d) {
        black_box((
            p.op(),
            p.htype(),
            p.hlen(),
            p.hops(),
            p.xid(),
            p.secs(),
            p.flags(),
        ));
        black_box((p.ciaddr(), p.yiaddr(), p.siaddr(), p.giaddr(), p.chaddr()));
        black_box((p.magic_cookie(), p.options(), p.option_iter().count()));
        black_box((p.find_option(50), p.message_type(), p.is_server_message()));
    }
    let _ = black_box(dhcp::message_type_of(d));
}

/// Parse top-down as the datapath would, following the length fields.
fn walk_frame(d: &[u8]) {
    let Ok(st) = vlan::parse_tags(d) else { return };
    let l3 = &d[st.payload_offset..];
    let (proto, l4) = match st.ethertype {
        0x0800 => match Ipv4Packet::new_checked(l3) {
            Ok(ip) => (ip.protocol(), ip.into_payload()),
            Err(_) => return,
        },
        0x86dd => match Ipv6Packet::new_checked(l3).map(|ip| ip.into_upper_layer_payload().ok()) {
            Ok(Some(x)) => x,
            _ => return,
        },
        _ => return touch_all(l3),
    };
    black_box(proto);
    touch_all(l4);
    if let Ok(u) = UdpPacket::new_checked(l4) {
        touch_all(u.into_payload());
    }
}

fn exercise(d: &[u8]) {
    for off in 0..d.len().min(64) {
        touch_all(&d[off..]);
    }
    walk_frame(d);
}

fn seed_frames() -> Vec<Vec<u8>> {
    let (a, b) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
    let udp = build::udp_ipv4_frame(a, b, V4S, V4D, 1, 2, &[9; 20]);
    vec![
        build::arp_request(a, V4S, V4D),
        udp.clone(),
        build::vlan_tagged(&build::vlan_tagged(&udp, 0x8100, 5), 0x88a8, 6),
        build::tcp_ipv4_frame(a, b, V4S, V4D, 1, 2, 0x12, b"x"),
        build::udp_ipv6_frame(a, b, V6S, V6D, 1, 2, b"y"),
        build::icmp_echo_ipv4(a, b, V4S, V4D, 1, 2, b"z"),
        build::icmpv6_echo(a, b, V6S, V6D, 1, 2, b"z"),
        build::neighbor_solicitation(a, V6S, V6D),
        build::neighbor_advertisement(a, V6S, b, V6D, true),
        build::router_advertisement(a, V6S, 100),
        build::dhcp_client_frame(a, 1, 7),
        build::dhcp_server_frame(b, V4S, a, V4D, 5, 7),
    ]
}

/// A valid frame with some bytes overwritten and possibly truncated.
fn mutated_frame() -> impl Strategy<Value = Vec<u8>> {
    let seeds = seed_frames();
    (
        0..seeds.len(),
        prop::collection::vec((any::<u16>(), any::<u8>()), 0..6),
        any::<u16>(),
    )
        .prop_map(move |(i, edits, cut)| {
            let mut f = seeds[i].clone();
            for (pos, val) in edits {
                let n = f.len();
                f[usize::from(pos) % n] = val;
            }
            let keep = f.len() - usize::from(cut) % (f.len() / 4 + 1);
            f.truncate(keep);
            f
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(d in prop::collection::vec(any::<u8>(), 0..400)) {
        exercise(&d);
    }

    #[test]
    fn mutated_frames_never_panic(d in mutated_frame()) {
        exercise(&d);
    }

    #[test]
    fn vlan_push_pop_roundtrip(mut d in prop::collection::vec(any::<u8>(), 14..100), tci in any::<u16>()) {
        let len = d.len();
        d.extend_from_slice(&[0; 4]);
        let orig = d.clone();
        let tag = vlan::Tag { tpid: 0x8100, tci };
        let n = vlan::push_tag(&mut d, len, tag).unwrap();
        let (t, m) = vlan::pop_tag(&mut d, n).unwrap();
        prop_assert_eq!((t, m), (tag, len));
        prop_assert_eq!(&d[..len], &orig[..len]);

        let mut h = vec![0u8; 8];
        h.extend_from_slice(&orig[..len]);
        let s = vlan::push_tag_front(&mut h, 8, len, tag).unwrap();
        prop_assert_eq!(&h[s + 12..s + 16], &[0x81, 0x00, (tci >> 8) as u8, tci as u8]);
        let (t, s) = vlan::pop_tag_front(&mut h, s, len + 4).unwrap();
        prop_assert_eq!((t, s), (tag, 8));
        prop_assert_eq!(&h[8..], &orig[..len]);
    }

    #[test]
    fn sum_matches_naive_16bit_sum(d in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut acc: u32 = 0;
        for c in d.chunks(2) {
            acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        prop_assert_eq!(u32::from(checksum::sum(&d)), acc);
    }

    #[test]
    fn incremental_update_matches_recompute(
        mut d in prop::collection::vec(any::<u8>(), 20..120),
        word in any::<usize>(),
        new32 in any::<u32>(),
    ) {
        d.truncate(d.len() & !1);
        let at = (word % (d.len() / 2 - 1)) * 2;
        let c0 = checksum::internet_checksum(&d);
        let old16 = u16::from_be_bytes([d[at], d[at + 1]]);
        let mut e = d.clone();
        e[at..at + 2].copy_from_slice(&(new32 as u16).to_be_bytes());
        let c1 = checksum::update16(c0, old16, new32 as u16);
        prop_assert!(equivalent(c1, checksum::internet_checksum(&e)));

        let at = at.min(d.len() - 4);
        let old32 = u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
        let mut f = d.clone();
        f[at..at + 4].copy_from_slice(&new32.to_be_bytes());
        prop_assert!(equivalent(checksum::update32(c0, old32, new32), checksum::internet_checksum(&f)));
        let c3 = checksum::update_bytes(c0, &d[at..at + 4], &new32.to_be_bytes());
        prop_assert!(equivalent(c3, checksum::internet_checksum(&f)));
    }
}

/// Ones'-complement equality: 0x0000 and 0xffff are both "zero". RFC 1624's
/// equation 3 can produce either where a full recompute produces the other
/// only when the data sums to zero, which a receiver accepts either way.
fn equivalent(a: u16, b: u16) -> bool {
    a == b || (a | b == 0xffff && (a == 0 || b == 0))
}
