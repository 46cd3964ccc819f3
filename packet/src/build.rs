//! Builders for complete, correctly checksummed frames.
//!
//! Tests and benchmarks across the workspace need realistic traffic: an ARP
//! request, a UDP flow, a tagged frame, a DHCP offer from a rogue server.
//! These functions return ready-to-send `Vec<u8>` frames (no FCS, no
//! padding to 60 bytes unless [`pad_to_min`] is called) with every length
//! and checksum filled in. They allocate, so they are for setting traffic
//! up, not for the forwarding path.
//!
//! They are layered: `emit_*` write one header into a caller's slice
//! without allocating; [`ethernet_frame`], [`ipv4_packet`],
//! [`ipv6_packet`], [`udp_datagram`] and [`tcp_segment`] wrap a payload in
//! one layer; the `*_frame` and protocol-named functions compose them. MAC
//! parameters take anything convertible to [`EthernetAddress`], so both
//! `[u8; 6]` and `EthernetAddress` work. The `Vec` builders panic if a
//! payload overflows a 16-bit length field (about 64 KiB); the `emit_*`
//! functions return an error instead.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::arp::{self, ArpPacket};
use crate::checksum::PseudoHeader;
use crate::dhcp::{self, DhcpPacket};
use crate::ethernet::{self, ethertype, EthernetAddress, EthernetFrame};
use crate::icmp::{self, Icmpv4Packet};
use crate::icmpv6::{self, msg_type as icmpv6_type, Icmpv6Packet};
use crate::ip_protocol as proto;
use crate::ipv4::{self, Ipv4Packet};
use crate::ipv6::{self, Ipv6Packet};
use crate::tcp::{self, TcpPacket};
use crate::udp::{self, UdpPacket};
use crate::{Error, Result};

/// TTL / hop limit used by the builders.
pub const DEFAULT_TTL: u8 = 64;
/// Minimum Ethernet frame length without FCS.
pub const MIN_FRAME_LEN: usize = 60;

/// Write an Ethernet header into `buf[..14]`; returns 14.
pub fn emit_ethernet(
    buf: &mut [u8],
    src: EthernetAddress,
    dst: EthernetAddress,
    ethertype: u16,
) -> Result<usize> {
    let mut f = EthernetFrame::new_checked(buf)?;
    f.set_dst_addr(dst);
    f.set_src_addr(src);
    f.set_ethertype(ethertype);
    Ok(ethernet::HEADER_LEN)
}

/// Write a 20-byte IPv4 header (TTL 64, DF clear, ident 0) for a payload of
/// `payload_len` bytes into `buf[..20]`, checksum filled; returns 20.
pub fn emit_ipv4(
    buf: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    payload_len: usize,
) -> Result<usize> {
    let hdr = buf
        .get_mut(..ipv4::MIN_HEADER_LEN)
        .ok_or(Error::Truncated)?;
    let total = u16::try_from(payload_len + ipv4::MIN_HEADER_LEN)
        .map_err(|_| Error::Unsupported("IPv4 packet longer than 65535 bytes"))?;
    hdr.fill(0);
    let mut p = Ipv4Packet::new_unchecked(hdr);
    p.set_version_and_header_len(ipv4::MIN_HEADER_LEN);
    p.set_total_len(total);
    p.set_ttl(DEFAULT_TTL);
    p.set_protocol(protocol);
    p.set_src_addr(src);
    p.set_dst_addr(dst);
    p.fill_checksum();
    Ok(ipv4::MIN_HEADER_LEN)
}

/// Write a 40-byte IPv6 header (hop limit 64) into `buf[..40]`; returns 40.
pub fn emit_ipv6(
    buf: &mut [u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next_header: u8,
    payload_len: usize,
) -> Result<usize> {
    let hdr = buf.get_mut(..ipv6::HEADER_LEN).ok_or(Error::Truncated)?;
    let len = u16::try_from(payload_len)
        .map_err(|_| Error::Unsupported("IPv6 payload longer than 65535 bytes"))?;
    let mut p = Ipv6Packet::new_unchecked(hdr);
    p.set_version_tc_flow(0, 0);
    p.set_payload_len(len);
    p.set_next_header(next_header);
    p.set_hop_limit(DEFAULT_TTL);
    p.set_src_addr(src);
    p.set_dst_addr(dst);
    Ok(ipv6::HEADER_LEN)
}

/// Write a UDP header in front of the payload already in `buf[8..]` (the
/// whole of `buf` is the datagram) and fill the checksum.
pub fn emit_udp(buf: &mut [u8], ph: &PseudoHeader, src_port: u16, dst_port: u16) -> Result<usize> {
    if buf.len() < udp::HEADER_LEN {
        return Err(Error::Truncated);
    }
    let len = u16::try_from(buf.len())
        .map_err(|_| Error::Unsupported("UDP datagram longer than 65535 bytes"))?;
    let mut p = UdpPacket::new_unchecked(buf);
    p.set_src_port(src_port);
    p.set_dst_port(dst_port);
    p.set_len(len);
    p.fill_checksum(ph);
    Ok(udp::HEADER_LEN)
}

/// `payload` behind an Ethernet header.
pub fn ethernet_frame(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut v = vec![0u8; ethernet::HEADER_LEN + payload.len()];
    let mut f = EthernetFrame::new_unchecked(&mut v[..]);
    f.set_dst_addr(dst_mac.into());
    f.set_src_addr(src_mac.into());
    f.set_ethertype(ethertype);
    f.payload_mut().copy_from_slice(payload);
    v
}

/// `payload` behind an IPv4 header. Panics if the payload exceeds 65515 bytes.
pub fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; ipv4::MIN_HEADER_LEN + payload.len()];
    v[ipv4::MIN_HEADER_LEN..].copy_from_slice(payload);
    emit_ipv4(&mut v, src, dst, protocol, payload.len()).expect("IPv4 payload too long");
    v
}

/// `payload` behind an IPv6 header. Panics if the payload exceeds 65535 bytes.
pub fn ipv6_packet(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; ipv6::HEADER_LEN + payload.len()];
    v[ipv6::HEADER_LEN..].copy_from_slice(payload);
    emit_ipv6(&mut v, src, dst, next_header, payload.len()).expect("IPv6 payload too long");
    v
}

/// A UDP datagram with its checksum.
pub fn udp_datagram(ph: &PseudoHeader, src_port: u16, dst_port: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; udp::HEADER_LEN + payload.len()];
    v[udp::HEADER_LEN..].copy_from_slice(payload);
    emit_udp(&mut v, ph, src_port, dst_port).expect("UDP payload too long");
    v
}

/// A TCP segment (no options, window 65535) with its checksum. `flags` are
/// [`tcp::flags`] bits.
pub fn tcp_segment(
    ph: &PseudoHeader,
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    flags: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut v = vec![0u8; tcp::MIN_HEADER_LEN + payload.len()];
    let mut p = TcpPacket::new_unchecked(&mut v[..]);
    p.set_src_port(src_port);
    p.set_dst_port(dst_port);
    p.set_seq_number(seq);
    p.set_ack_number(ack);
    p.set_header_len_and_flags(tcp::MIN_HEADER_LEN, flags);
    p.set_window_len(0xffff);
    p.payload_mut().copy_from_slice(payload);
    p.fill_checksum(ph);
    v
}

/// Ethernet + IPv4 + UDP.
pub fn udp_ipv4_frame(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let ph = PseudoHeader::V4 {
        src: src_ip,
        dst: dst_ip,
    };
    let l4 = udp_datagram(&ph, src_port, dst_port, payload);
    let l3 = ipv4_packet(src_ip, dst_ip, proto::UDP, &l4);
    ethernet_frame(src_mac, dst_mac, ethertype::IPV4, &l3)
}

/// Ethernet + IPv6 + UDP.
pub fn udp_ipv6_frame(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    src_ip: Ipv6Addr,
    dst_ip: Ipv6Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Vec<u8> {
    let ph = PseudoHeader::V6 {
        src: src_ip,
        dst: dst_ip,
    };
    let l4 = udp_datagram(&ph, src_port, dst_port, payload);
    let l3 = ipv6_packet(src_ip, dst_ip, proto::UDP, &l4);
    ethernet_frame(src_mac, dst_mac, ethertype::IPV6, &l3)
}

/// Ethernet + IPv4 + TCP (seq 1, ack 0 unless ACK is set, then ack 1).
#[allow(clippy::too_many_arguments)] // a test convenience mirroring udp_ipv4_frame
pub fn tcp_ipv4_frame(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    flags: u16,
    payload: &[u8],
) -> Vec<u8> {
    let ph = PseudoHeader::V4 {
        src: src_ip,
        dst: dst_ip,
    };
    let ack = u32::from(flags & tcp::flags::ACK != 0);
    let l4 = tcp_segment(&ph, src_port, dst_port, 1, ack, flags, payload);
    let l3 = ipv4_packet(src_ip, dst_ip, proto::TCP, &l4);
    ethernet_frame(src_mac, dst_mac, ethertype::IPV4, &l3)
}

/// Ethernet + IPv6 + TCP (seq 1, ack 0 unless ACK is set, then ack 1).
#[allow(clippy::too_many_arguments)] // a test convenience mirroring udp_ipv6_frame
pub fn tcp_ipv6_frame(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    src_ip: Ipv6Addr,
    dst_ip: Ipv6Addr,
    src_port: u16,
    dst_port: u16,
    flags: u16,
    payload: &[u8],
) -> Vec<u8> {
    let ph = PseudoHeader::V6 {
        src: src_ip,
        dst: dst_ip,
    };
    let ack = u32::from(flags & tcp::flags::ACK != 0);
    let l4 = tcp_segment(&ph, src_port, dst_port, 1, ack, flags, payload);
    let l3 = ipv6_packet(src_ip, dst_ip, proto::TCP, &l4);
    ethernet_frame(src_mac, dst_mac, ethertype::IPV6, &l3)
}

/// Ethernet + IPv4 + SCTP with one DATA chunk (see [`crate::sctp::data_packet`]), CRC32c filled.
pub fn sctp_ipv4_frame(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    (src_ip, dst_ip): (Ipv4Addr, Ipv4Addr),
    (src_port, dst_port): (u16, u16),
    payload: &[u8],
) -> Vec<u8> {
    let l4 = crate::sctp::data_packet(src_port, dst_port, 0x0102_0304, payload);
    let l3 = ipv4_packet(src_ip, dst_ip, proto::SCTP, &l4);
    ethernet_frame(src_mac, dst_mac, ethertype::IPV4, &l3)
}

/// Ethernet + IPv6 + SCTP with one DATA chunk, CRC32c filled.
pub fn sctp_ipv6_frame(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    (src_ip, dst_ip): (Ipv6Addr, Ipv6Addr),
    (src_port, dst_port): (u16, u16),
    payload: &[u8],
) -> Vec<u8> {
    let l4 = crate::sctp::data_packet(src_port, dst_port, 0x0102_0304, payload);
    let l3 = ipv6_packet(src_ip, dst_ip, proto::SCTP, &l4);
    ethernet_frame(src_mac, dst_mac, ethertype::IPV6, &l3)
}

fn arp_frame(
    oper: u16,
    eth_dst: EthernetAddress,
    sender: (EthernetAddress, Ipv4Addr),
    target: (EthernetAddress, Ipv4Addr),
) -> Vec<u8> {
    let mut body = [0u8; arp::PACKET_LEN];
    ArpPacket::new_unchecked(&mut body[..]).fill(oper, sender, target);
    ethernet_frame(sender.0, eth_dst, ethertype::ARP, &body)
}

/// Broadcast "who has `target_ip`? tell `src_ip`".
pub fn arp_request(
    src_mac: impl Into<EthernetAddress>,
    src_ip: Ipv4Addr,
    target_ip: Ipv4Addr,
) -> Vec<u8> {
    let sender = (src_mac.into(), src_ip);
    arp_frame(
        arp::OPER_REQUEST,
        EthernetAddress::BROADCAST,
        sender,
        (EthernetAddress::ZERO, target_ip),
    )
}

/// Unicast "`src_ip` is at `src_mac`" to `dst_mac`/`dst_ip`.
pub fn arp_reply(
    src_mac: impl Into<EthernetAddress>,
    src_ip: Ipv4Addr,
    dst_mac: impl Into<EthernetAddress>,
    dst_ip: Ipv4Addr,
) -> Vec<u8> {
    let dst = dst_mac.into();
    arp_frame(
        arp::OPER_REPLY,
        dst,
        (src_mac.into(), src_ip),
        (dst, dst_ip),
    )
}

/// Broadcast gratuitous ARP (a request for one's own address).
pub fn gratuitous_arp(mac: impl Into<EthernetAddress>, ip: Ipv4Addr) -> Vec<u8> {
    let sender = (mac.into(), ip);
    arp_frame(
        arp::OPER_REQUEST,
        EthernetAddress::BROADCAST,
        sender,
        (EthernetAddress::ZERO, ip),
    )
}

/// Write the broadcast RARP request ("reverse request, sender and target `mac`, no
/// addresses") that a hypervisor sends for a VM that has just moved, so switches relearn
/// where `mac` is. Writes `buf[..60]` (padded to the minimum frame) without allocating; returns 60.
pub fn emit_rarp_announce(buf: &mut [u8], mac: impl Into<EthernetAddress>) -> Result<usize> {
    let frame = buf.get_mut(..MIN_FRAME_LEN).ok_or(Error::Truncated)?;
    frame.fill(0);
    let mac = mac.into();
    emit_ethernet(frame, mac, EthernetAddress::BROADCAST, ethertype::RARP)?;
    let body = &mut frame[ethernet::HEADER_LEN..ethernet::HEADER_LEN + arp::PACKET_LEN];
    ArpPacket::new_unchecked(body).fill(
        arp::OPER_REVERSE_REQUEST,
        (mac, Ipv4Addr::UNSPECIFIED),
        (mac, Ipv4Addr::UNSPECIFIED),
    );
    Ok(MIN_FRAME_LEN)
}

fn icmpv4_echo(msg_type: u8, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; icmp::HEADER_LEN + payload.len()];
    let mut p = Icmpv4Packet::new_unchecked(&mut v[..]);
    p.set_msg_type(msg_type);
    p.set_echo_ident(ident);
    p.set_echo_seq_no(seq);
    p.data_mut().copy_from_slice(payload);
    p.fill_checksum();
    v
}

/// Ethernet + IPv4 + ICMP echo request.
pub fn icmp_echo_ipv4(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let l4 = icmpv4_echo(icmp::msg_type::ECHO_REQUEST, ident, seq, payload);
    let l3 = ipv4_packet(src_ip, dst_ip, proto::ICMP, &l4);
    ethernet_frame(src_mac, dst_mac, ethertype::IPV4, &l3)
}

/// Ethernet + IPv4 + ICMP echo reply.
pub fn icmp_echo_reply_ipv4(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let l4 = icmpv4_echo(icmp::msg_type::ECHO_REPLY, ident, seq, payload);
    let l3 = ipv4_packet(src_ip, dst_ip, proto::ICMP, &l4);
    ethernet_frame(src_mac, dst_mac, ethertype::IPV4, &l3)
}

/// An ICMPv6 message `msg_type`/`code` with `body` after the checksum,
/// checksummed, behind IPv6 (hop limit 255, as ND requires) and Ethernet.
pub fn icmpv6_frame(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    src_ip: Ipv6Addr,
    dst_ip: Ipv6Addr,
    msg_type: u8,
    body: &[u8],
) -> Vec<u8> {
    let mut l4 = vec![0u8; 4 + body.len()];
    l4[0] = msg_type;
    l4[4..].copy_from_slice(body);
    Icmpv6Packet::new_unchecked(&mut l4[..]).fill_checksum(src_ip, dst_ip);
    let mut l3 = ipv6_packet(src_ip, dst_ip, proto::ICMPV6, &l4);
    Ipv6Packet::new_unchecked(&mut l3[..]).set_hop_limit(255);
    ethernet_frame(src_mac, dst_mac, ethertype::IPV6, &l3)
}

/// Ethernet + IPv6 + ICMPv6 echo request.
pub fn icmpv6_echo(
    src_mac: impl Into<EthernetAddress>,
    dst_mac: impl Into<EthernetAddress>,
    src_ip: Ipv6Addr,
    dst_ip: Ipv6Addr,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut body = Vec::with_capacity(4 + payload.len());
    body.extend_from_slice(&ident.to_be_bytes());
    body.extend_from_slice(&seq.to_be_bytes());
    body.extend_from_slice(payload);
    icmpv6_frame(
        src_mac,
        dst_mac,
        src_ip,
        dst_ip,
        icmpv6_type::ECHO_REQUEST,
        &body,
    )
}

fn ll_option(kind: u8, mac: EthernetAddress) -> [u8; 8] {
    let m = mac.0;
    [kind, 1, m[0], m[1], m[2], m[3], m[4], m[5]]
}

/// Neighbor solicitation for `target` from `src_ip`, sent to the target's
/// solicited-node multicast group, with a source link-layer address option.
pub fn neighbor_solicitation(
    src_mac: impl Into<EthernetAddress>,
    src_ip: Ipv6Addr,
    target: Ipv6Addr,
) -> Vec<u8> {
    let mac = src_mac.into();
    let group = ipv6::solicited_node(target);
    let mut body = vec![0u8; 4];
    body.extend_from_slice(&target.octets());
    body.extend_from_slice(&ll_option(icmpv6::ndp_option::SOURCE_LL_ADDR, mac));
    let dst_mac = EthernetAddress::ipv6_multicast(group);
    icmpv6_frame(
        mac,
        dst_mac,
        src_ip,
        group,
        icmpv6_type::NEIGHBOR_SOLICIT,
        &body,
    )
}

/// Neighbor advertisement for `src_ip` (override set, router clear) with a
/// target link-layer address option, to `dst_mac`/`dst_ip`.
pub fn neighbor_advertisement(
    src_mac: impl Into<EthernetAddress>,
    src_ip: Ipv6Addr,
    dst_mac: impl Into<EthernetAddress>,
    dst_ip: Ipv6Addr,
    solicited: bool,
) -> Vec<u8> {
    let mac = src_mac.into();
    let mut body = vec![0x20 | (u8::from(solicited) << 6), 0, 0, 0];
    body.extend_from_slice(&src_ip.octets());
    body.extend_from_slice(&ll_option(icmpv6::ndp_option::TARGET_LL_ADDR, mac));
    icmpv6_frame(
        mac,
        dst_mac,
        src_ip,
        dst_ip,
        icmpv6_type::NEIGHBOR_ADVERT,
        &body,
    )
}

/// Router advertisement from `src_ip` (normally link-local) to all nodes
/// (ff02::1), hop limit 64, with a source link-layer address option.
pub fn router_advertisement(
    src_mac: impl Into<EthernetAddress>,
    src_ip: Ipv6Addr,
    router_lifetime: u16,
) -> Vec<u8> {
    let mac = src_mac.into();
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut body = vec![DEFAULT_TTL, 0];
    body.extend_from_slice(&router_lifetime.to_be_bytes());
    body.extend_from_slice(&[0u8; 8]); // reachable time, retrans timer
    body.extend_from_slice(&ll_option(icmpv6::ndp_option::SOURCE_LL_ADDR, mac));
    let dst_mac = EthernetAddress::ipv6_multicast(all_nodes);
    icmpv6_frame(
        mac,
        dst_mac,
        src_ip,
        all_nodes,
        icmpv6_type::ROUTER_ADVERT,
        &body,
    )
}

/// Insert one VLAN tag (`tpid`, `tci`) after the MAC addresses of `frame`.
/// Frames shorter than an Ethernet header are returned unchanged.
pub fn vlan_tagged(frame: &[u8], tpid: u16, tci: u16) -> Vec<u8> {
    if frame.len() < ethernet::HEADER_LEN {
        return frame.to_vec();
    }
    let mut v = Vec::with_capacity(frame.len() + 4);
    v.extend_from_slice(&frame[..12]);
    v.extend_from_slice(&tpid.to_be_bytes());
    v.extend_from_slice(&tci.to_be_bytes());
    v.extend_from_slice(&frame[12..]);
    v
}

/// Zero-pad a frame to the 60-byte Ethernet minimum.
pub fn pad_to_min(frame: &mut Vec<u8>) {
    if frame.len() < MIN_FRAME_LEN {
        frame.resize(MIN_FRAME_LEN, 0);
    }
}

/// A DHCP message (UDP payload): `op`, option 53 = `msg_type`, `xid`,
/// `chaddr`, `yiaddr`, Ethernet hardware type, broadcast flag, then END.
pub fn dhcp_payload(
    op: u8,
    msg_type: u8,
    xid: u32,
    chaddr: impl Into<EthernetAddress>,
    yiaddr: Ipv4Addr,
) -> Vec<u8> {
    let mut v = vec![0u8; dhcp::MIN_LEN + 4];
    let mut p = DhcpPacket::new_unchecked(&mut v[..]);
    p.set_op(op);
    p.set_hardware(1, 6);
    p.set_xid(xid);
    p.set_flags(0x8000);
    p.set_yiaddr(yiaddr);
    p.set_chaddr(chaddr.into());
    p.set_magic_cookie();
    p.options_mut()
        .copy_from_slice(&[dhcp::option::MESSAGE_TYPE, 1, msg_type, dhcp::option::END]);
    v
}

/// A client message (e.g. DISCOVER, REQUEST) broadcast from 0.0.0.0:68 to
/// 255.255.255.255:67.
pub fn dhcp_client_frame(
    client_mac: impl Into<EthernetAddress>,
    msg_type: u8,
    xid: u32,
) -> Vec<u8> {
    let mac = client_mac.into();
    let payload = dhcp_payload(
        dhcp::OP_BOOTREQUEST,
        msg_type,
        xid,
        mac,
        Ipv4Addr::UNSPECIFIED,
    );
    udp_ipv4_frame(
        mac,
        EthernetAddress::BROADCAST,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        dhcp::CLIENT_PORT,
        dhcp::SERVER_PORT,
        &payload,
    )
}

/// A server message (e.g. OFFER, ACK) from `server_ip`:67 to the client's
/// MAC at 255.255.255.255:68, assigning `yiaddr`.
pub fn dhcp_server_frame(
    server_mac: impl Into<EthernetAddress>,
    server_ip: Ipv4Addr,
    client_mac: impl Into<EthernetAddress>,
    yiaddr: Ipv4Addr,
    msg_type: u8,
    xid: u32,
) -> Vec<u8> {
    let client = client_mac.into();
    let payload = dhcp_payload(dhcp::OP_BOOTREPLY, msg_type, xid, client, yiaddr);
    udp_ipv4_frame(
        server_mac,
        client,
        server_ip,
        Ipv4Addr::BROADCAST,
        dhcp::SERVER_PORT,
        dhcp::CLIENT_PORT,
        &payload,
    )
}
