//! Fuzz the packet parser: `flowtable::extract::extract` (the datapath's first stage, which must
//! never panic on any frame) and every `packet` view a slow path or the agent's filters walk over
//! untrusted frames: Ethernet, the VLAN tag stack, ARP, IPv4 (options), IPv6 (extension headers),
//! ICMP, ICMPv6 (ND options), TCP, UDP and DHCP (options).
//!
//! Besides "no panic" it checks two properties: extraction is deterministic (the key depends only
//! on the frame), and pushing a VLAN tag then popping it gives the frame back byte for byte.
#![no_main]

use flowtable::extract::extract;
use flowtable::FlowKey;
use libfuzzer_sys::fuzz_target;
use packet::vlan::{parse_tags, pop_tag, push_tag, Tag};
use packet::*;

/// Walk every view over the L3 payload the tag stack points at.
fn views(frame: &[u8]) {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return;
    };
    let _ = (eth.dst_addr(), eth.src_addr(), eth.ethertype());
    let Ok(tags) = parse_tags(frame) else {
        return;
    };
    let l3 = &frame[tags.payload_offset..];
    match tags.ethertype {
        0x0806 => {
            if let Ok(a) = ArpPacket::new_checked(l3) {
                let _ = (a.oper(), a.sha(), a.spa(), a.tha(), a.tpa());
            }
        }
        0x0800 => {
            if let Ok(ip) = Ipv4Packet::new_checked(l3) {
                let _ = ip.verify_checksum();
                for o in ip.option_iter() {
                    let _ = o;
                }
                l4(ip.protocol(), ip.payload(), None);
            }
        }
        0x86dd => {
            if let Ok(ip) = Ipv6Packet::new_checked(l3) {
                if let Ok((proto, payload)) = ip.upper_layer_payload() {
                    l4(proto, payload, Some((ip.src_addr(), ip.dst_addr())));
                }
            }
        }
        _ => {}
    }
}

fn l4(proto: u8, p: &[u8], v6: Option<(std::net::Ipv6Addr, std::net::Ipv6Addr)>) {
    match proto {
        1 => {
            if let Ok(i) = Icmpv4Packet::new_checked(p) {
                let _ = (
                    i.msg_type(),
                    i.echo_ident(),
                    i.verify_checksum(),
                    i.data().len(),
                );
            }
        }
        6 => {
            if let Ok(t) = TcpPacket::new_checked(p) {
                let _ = (
                    t.src_port(),
                    t.flags(),
                    t.options().len(),
                    t.payload().len(),
                );
            }
        }
        17 => {
            if let Ok(u) = UdpPacket::new_checked(p) {
                let _ = (u.src_port(), u.len());
                let _ = packet::dhcp::message_type_of(u.payload());
                if let Ok(d) = DhcpPacket::new_checked(u.payload()) {
                    for o in d.option_iter() {
                        let _ = o;
                    }
                    let _ = (d.message_type(), d.is_server_message(), d.chaddr());
                }
            }
        }
        58 => {
            if let Ok(i) = Icmpv6Packet::new_checked(p) {
                let _ = (
                    i.target_addr(),
                    i.redirect_dst_addr(),
                    i.ra_reachable_time(),
                );
                for o in i.ndp_option_iter() {
                    let _ = o;
                }
                let _ = (i.source_link_layer_addr(), i.target_link_layer_addr());
                if let Some((s, d)) = v6 {
                    let _ = i.verify_checksum(s, d);
                }
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let mut key = FlowKey::default();
    extract(data, 7, &mut key);
    let mut again = FlowKey::default();
    extract(data, 7, &mut again);
    assert_eq!(key, again, "extraction is deterministic");
    views(data);

    let mut buf = data.to_vec();
    buf.extend_from_slice(&[0; 4]);
    let tag = Tag {
        tpid: 0x8100,
        tci: 0x2005,
    };
    if let Ok(n) = push_tag(&mut buf, data.len(), tag) {
        let mut pushed = FlowKey::default();
        extract(&buf[..n], 7, &mut pushed);
        assert_eq!(pushed.vlan_tci & 0x0fff, 5, "pushed tag is the outer VLAN");
        let (t, m) = pop_tag(&mut buf, n).expect("pop what was pushed");
        assert_eq!(t, tag);
        assert_eq!(&buf[..m], data, "push then pop gives the frame back");
    }
});
