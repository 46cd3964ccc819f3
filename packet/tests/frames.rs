//! Builders checked against hand-assembled bytes and re-parsed with the views.

use std::net::{Ipv4Addr, Ipv6Addr};

use packet::build;
use packet::ethernet::ethertype;
use packet::{checksum, dhcp, icmp, icmpv6, ip_protocol, tcp, vlan};
use packet::{
    ArpPacket, DhcpPacket, EthernetAddress, EthernetFrame, Icmpv4Packet, Icmpv6Packet, Ipv4Packet,
    Ipv6Packet, PseudoHeader, TcpPacket, UdpPacket,
};

const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

#[test]
fn arp_request_is_byte_exact() {
    let f = build::arp_request(
        A,
        Ipv4Addr::new(192, 168, 1, 1),
        Ipv4Addr::new(192, 168, 1, 2),
    );
    #[rustfmt::skip]
    let want: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06,
        0, 1, 0x08, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 192, 168, 1, 1,
        0, 0, 0, 0, 0, 0, 192, 168, 1, 2,
    ];
    assert_eq!(f, want);
    let reply = build::arp_reply(
        B,
        Ipv4Addr::new(192, 168, 1, 2),
        A,
        Ipv4Addr::new(192, 168, 1, 1),
    );
    let e = EthernetFrame::new_checked(&reply[..]).unwrap();
    assert_eq!(e.dst_addr(), EthernetAddress(A));
    let p = ArpPacket::new_checked(e.payload()).unwrap();
    assert_eq!(
        (p.oper(), p.sha(), p.tha()),
        (2, EthernetAddress(B), EthernetAddress(A))
    );
    let g = build::gratuitous_arp(A, Ipv4Addr::new(10, 0, 0, 9));
    let p = ArpPacket::new_checked(&g[14..]).unwrap();
    assert_eq!(p.spa(), p.tpa());
}

#[test]
fn udp_ipv4_frame_is_byte_exact() {
    let (s, d) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let f = build::udp_ipv4_frame(A, B, s, d, 1234, 53, b"hi");
    // IPv4 checksum by hand: 4500+001e+4011+0a00+0001+0a00+0002 = 0x9932 -> 0x66cd.
    #[rustfmt::skip]
    let want: [u8; 44] = [
        2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00,
        0x45, 0, 0, 30, 0, 0, 0, 0, 64, 17, 0x66, 0xcd, 10, 0, 0, 1, 10, 0, 0, 2,
        0x04, 0xd2, 0, 53, 0, 10, 0x7e, 0x67, b'h', b'i',
    ];
    assert_eq!(f, want);
}

#[test]
fn udp_ipv6_and_tcp_frames_verify() {
    let (s, d) = (v6("2001:db8::1"), v6("2001:db8::2"));
    let f = build::udp_ipv6_frame(A, B, s, d, 5000, 6000, &[7; 33]);
    let ip = Ipv6Packet::new_checked(&f[14..]).unwrap();
    let (proto, l4) = ip.upper_layer_payload().unwrap();
    assert_eq!(proto, ip_protocol::UDP);
    let u = UdpPacket::new_checked(l4).unwrap();
    assert!(u.verify_checksum(&PseudoHeader::V6 { src: s, dst: d }));
    assert_eq!(
        (u.src_port(), u.dst_port(), u.payload().len()),
        (5000, 6000, 33)
    );

    let (s4, d4) = (Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(5, 6, 7, 8));
    let syn_ack = tcp::flags::SYN | tcp::flags::ACK;
    let f = build::tcp_ipv4_frame(A, B, s4, d4, 80, 40000, syn_ack, b"xyz");
    let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
    assert!(ip.verify_checksum());
    let t = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(t.verify_checksum(&PseudoHeader::V4 { src: s4, dst: d4 }));
    assert!(t.syn() && t.ack() && t.ack_number() == 1 && t.payload() == b"xyz");

    let f = build::tcp_ipv6_frame(A, B, s, d, 1, 2, tcp::flags::RST, &[]);
    let ip = Ipv6Packet::new_checked(&f[14..]).unwrap();
    let t = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(t.verify_checksum(&PseudoHeader::V6 { src: s, dst: d }) && t.rst());
}

#[test]
fn icmp_echo_frames_verify() {
    let (s, d) = (Ipv4Addr::new(10, 1, 0, 1), Ipv4Addr::new(10, 1, 0, 2));
    let f = build::icmp_echo_ipv4(A, B, s, d, 0x77, 3, b"ping");
    let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
    assert_eq!(ip.protocol(), ip_protocol::ICMP);
    let p = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert!(p.verify_checksum());
    assert_eq!(
        (p.msg_type(), p.echo_ident(), p.echo_seq_no()),
        (icmp::msg_type::ECHO_REQUEST, 0x77, 3)
    );
    let r = build::icmp_echo_reply_ipv4(B, A, d, s, 0x77, 3, b"ping");
    let p = Icmpv4Packet::new_checked(&r[34..]).unwrap();
    assert!(p.verify_checksum() && p.msg_type() == icmp::msg_type::ECHO_REPLY);

    let (s6, d6) = (v6("fe80::1"), v6("fe80::2"));
    let f = build::icmpv6_echo(A, B, s6, d6, 9, 10, b"abc");
    let p = Icmpv6Packet::new_checked(&f[54..]).unwrap();
    assert!(p.verify_checksum(s6, d6));
    assert_eq!(
        (p.msg_type(), p.echo_ident(), p.echo_seq_no(), p.payload()),
        (128, 9, 10, &b"abc"[..])
    );
}

#[test]
fn neighbor_discovery_frames() {
    let (me, target) = (v6("fe80::1"), v6("2001:db8::abcd:1234"));
    let f = build::neighbor_solicitation(A, me, target);
    let e = EthernetFrame::new_checked(&f[..]).unwrap();
    assert_eq!(e.dst_addr().to_string(), "33:33:ff:cd:12:34");
    let ip = Ipv6Packet::new_checked(e.payload()).unwrap();
    assert_eq!(
        (ip.hop_limit(), ip.dst_addr()),
        (255, v6("ff02::1:ffcd:1234"))
    );
    let p = Icmpv6Packet::new_checked(ip.payload()).unwrap();
    assert!(p.verify_checksum(ip.src_addr(), ip.dst_addr()));
    assert_eq!(p.target_addr(), Some(target));
    assert_eq!(p.source_link_layer_addr(), Some(EthernetAddress(A)));

    let f = build::neighbor_advertisement(B, target, A, me, true);
    let p = Icmpv6Packet::new_checked(&f[54..]).unwrap();
    assert!(p.verify_checksum(target, me));
    assert!(p.na_solicited_flag() && p.na_override_flag() && !p.na_router_flag());
    assert_eq!(p.target_link_layer_addr(), Some(EthernetAddress(B)));

    let f = build::router_advertisement(B, v6("fe80::99"), 1800);
    let p = Icmpv6Packet::new_checked(&f[54..]).unwrap();
    assert_eq!(p.msg_type(), icmpv6::msg_type::ROUTER_ADVERT);
    assert!(p.verify_checksum(v6("fe80::99"), v6("ff02::1")));
    assert_eq!(
        (p.ra_router_lifetime(), p.ra_reachable_time()),
        (1800, Some(0))
    );
    assert_eq!(p.source_link_layer_addr(), Some(EthernetAddress(B)));
}

#[test]
fn vlan_tagged_and_padding() {
    let f = build::arp_request(A, Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(1, 1, 1, 2));
    let t = build::vlan_tagged(&f, ethertype::VLAN, vlan::tci(3, false, 42));
    assert_eq!(t.len(), f.len() + 4);
    assert_eq!(&t[12..16], &[0x81, 0x00, 0x60, 42]);
    let qq = build::vlan_tagged(&t, ethertype::QINQ, 7);
    let st = vlan::parse_tags(&qq).unwrap();
    assert_eq!(
        (st.depth(), st.ethertype, st.payload_offset),
        (2, ethertype::ARP, 22)
    );
    assert_eq!(
        (st.tags[0].unwrap().vid(), st.tags[1].unwrap().vid()),
        (7, 42)
    );
    assert_eq!(&qq[22..], &f[14..]);
    let mut p = f.clone();
    build::pad_to_min(&mut p);
    assert_eq!(p.len(), 60);
    assert_eq!(&p[..42], &f[..]);
}

#[test]
fn dhcp_frames() {
    let f = build::dhcp_client_frame(A, dhcp::message_type::DISCOVER, 0x1234_5678);
    let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
    assert_eq!(
        (ip.src_addr(), ip.dst_addr()),
        (Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST)
    );
    let u = UdpPacket::new_checked(ip.payload()).unwrap();
    assert!(u.verify_checksum(&PseudoHeader::V4 {
        src: ip.src_addr(),
        dst: ip.dst_addr()
    }));
    assert_eq!((u.src_port(), u.dst_port()), (68, 67));
    let d = DhcpPacket::new_checked(u.payload()).unwrap();
    assert_eq!(
        (d.op(), d.xid(), d.chaddr()),
        (1, 0x1234_5678, EthernetAddress(A))
    );
    assert_eq!(
        dhcp::message_type_of(u.payload()),
        Ok(dhcp::message_type::DISCOVER)
    );
    assert!(!d.is_server_message());

    let yi = Ipv4Addr::new(10, 0, 0, 50);
    let f = build::dhcp_server_frame(
        B,
        Ipv4Addr::new(10, 0, 0, 1),
        A,
        yi,
        dhcp::message_type::OFFER,
        1,
    );
    let e = EthernetFrame::new_checked(&f[..]).unwrap();
    assert_eq!(e.dst_addr(), EthernetAddress(A));
    let d = DhcpPacket::new_checked(&f[42..]).unwrap();
    assert!(d.is_server_message());
    assert_eq!((d.op(), d.yiaddr()), (2, yi));
}

#[test]
fn emitters_write_into_slices() {
    let mut buf = [0u8; 14 + 20 + 8 + 4];
    build::emit_ethernet(
        &mut buf,
        EthernetAddress(A),
        EthernetAddress(B),
        ethertype::IPV4,
    )
    .unwrap();
    let (s, d) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    buf[42..].copy_from_slice(b"data");
    build::emit_udp(&mut buf[34..], &PseudoHeader::V4 { src: s, dst: d }, 1, 2).unwrap();
    build::emit_ipv4(&mut buf[14..], s, d, ip_protocol::UDP, 12).unwrap();
    assert_eq!(
        &buf[..],
        &build::udp_ipv4_frame(A, B, s, d, 1, 2, b"data")[..]
    );
    assert!(build::emit_ipv4(&mut buf[..19], s, d, 17, 0).is_err());
    assert!(build::emit_udp(&mut buf[..7], &PseudoHeader::V4 { src: s, dst: d }, 1, 2).is_err());
    assert_eq!(checksum::internet_checksum(&buf[14..34]), 0);
}
