//! Unit tests of `extract.rs` (kept apart so the module reads in one sitting).

use super::*;

const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// Ethernet frame with optional tags `(tpid, tci)` in front of `ethertype`.
fn eth(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&DST);
    f.extend_from_slice(&SRC);
    for (tpid, tci) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// IPv4 header (`options` must be a multiple of 4 bytes) followed by `l4`.
fn ipv4(proto: u8, frag: u16, options: &[u8], l4: &[u8]) -> Vec<u8> {
    let hlen = 20 + options.len();
    let mut h = vec![0x40 | (hlen / 4) as u8, 0xb8];
    h.extend_from_slice(&((hlen + l4.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34]);
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    h.extend_from_slice(options);
    h.extend_from_slice(l4);
    h
}

fn v6addr(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfe;
    a[1] = 0x80;
    a[15] = last;
    a
}

/// IPv6 header with traffic class 0x2a, label 0xabcde, hop limit 255, then `rest`.
fn ipv6(next: u8, rest: &[u8]) -> Vec<u8> {
    let w0: u32 = (6 << 28) | (0x2a << 20) | 0xabcde;
    let mut h = w0.to_be_bytes().to_vec();
    h.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 255]);
    h.extend_from_slice(&v6addr(1));
    h.extend_from_slice(&v6addr(2));
    h.extend_from_slice(rest);
    h
}

fn ports(src: u16, dst: u16, len: usize) -> Vec<u8> {
    let mut l4 = vec![0u8; len];
    l4[0..2].copy_from_slice(&src.to_be_bytes());
    l4[2..4].copy_from_slice(&dst.to_be_bytes());
    l4
}

fn tcp(src: u16, dst: u16, flags: u16) -> Vec<u8> {
    let mut t = ports(src, dst, 20);
    t[12..14].copy_from_slice(&((5u16 << 12) | flags).to_be_bytes());
    t
}

fn key_of(frame: &[u8]) -> FlowKey {
    let mut k = FlowKey::all_ones();
    extract(frame, 7, &mut k);
    k
}

#[test]
fn ethernet_only_and_8023() {
    let k = key_of(&eth(&[], 0x88cc, &[0; 30]));
    assert_eq!(
        (k.in_port, k.eth_dst, k.eth_src, k.eth_type),
        (7, DST, SRC, 0x88cc)
    );
    assert_eq!((k.vlan_tci, k.ip_proto, k.metadata), (0, 0, 0));
    let k = key_of(&eth(&[], 46, &[0xaa; 46]));
    assert_eq!(k.eth_type, ETH_TYPE_NONE);
    let k = key_of(&DST);
    assert_eq!((k.in_port, k.eth_dst, k.eth_type), (7, [0; 6], 0));
}

#[test]
fn vlan_tags() {
    let udp = ipv4(IPPROTO_UDP, 0, &[], &ports(1, 2, 8));
    let k = key_of(&eth(
        &[(ETH_TYPE_VLAN, (5 << 13) | 100)],
        ETH_TYPE_IPV4,
        &udp,
    ));
    assert_eq!(k.vlan_tci, VLAN_PRESENT | (5 << 13) | 100);
    assert_eq!((k.vlan_vid(), k.vlan_pcp()), (Some(100), 5));
    assert_eq!((k.eth_type, k.tp_dst), (ETH_TYPE_IPV4, 2));
    // The legacy 0x9100 is an EtherType, not a tag (as in edit and the checksum code).
    let k = key_of(&eth(&[(0x9100, 100)], ETH_TYPE_IPV4, &udp));
    assert_eq!((k.vlan_tci, k.eth_type), (0, 0x9100));
    // 802.1ad outer, 802.1Q inner: the outer tag wins, the inner one is skipped. The DEI bit
    // of the outer tag must not leak into VLAN_PRESENT's position.
    let tags = [(ETH_TYPE_QINQ, 0x1000 | 300), (ETH_TYPE_VLAN, 42)];
    let k = key_of(&eth(&tags, ETH_TYPE_IPV4, &udp));
    assert_eq!(k.vlan_tci, VLAN_PRESENT | 300);
    assert_eq!(
        (k.eth_type, k.ipv4_src, k.tp_src),
        (ETH_TYPE_IPV4, 0x0a00_0001, 1)
    );
    // Truncated inner tag: outer VLAN known, eth_type unknown.
    let mut f = eth(&tags, ETH_TYPE_IPV4, &[]);
    f.truncate(20);
    let k = key_of(&f);
    assert_eq!((k.vlan_tci, k.eth_type), (VLAN_PRESENT | 300, 0));
}

#[test]
fn ipv4_udp_tcp_sctp_icmp() {
    let k = key_of(&eth(
        &[],
        ETH_TYPE_IPV4,
        &ipv4(IPPROTO_UDP, 0, &[], &ports(53, 5353, 8)),
    ));
    assert_eq!((k.ipv4_src, k.ipv4_dst), (0x0a00_0001, 0x0a00_0002));
    assert_eq!(
        (k.ip_proto, k.ip_tos, k.ip_ttl, k.ip_frag),
        (17, 0xb8, 64, 0)
    );
    assert_eq!((k.tp_src, k.tp_dst, k.tcp_flags), (53, 5353, 0));

    let k = key_of(&eth(
        &[],
        ETH_TYPE_IPV4,
        &ipv4(IPPROTO_TCP, 0, &[], &tcp(1234, 80, 0x112)),
    ));
    assert_eq!(
        (k.ip_proto, k.tp_src, k.tp_dst, k.tcp_flags),
        (6, 1234, 80, 0x112)
    );

    let k = key_of(&eth(
        &[],
        ETH_TYPE_IPV4,
        &ipv4(IPPROTO_SCTP, 0, &[], &ports(9, 10, 12)),
    ));
    assert_eq!((k.ip_proto, k.tp_src, k.tp_dst), (132, 9, 10));

    let icmp = [8u8, 3, 0, 0, 0, 1, 0, 1];
    let k = key_of(&eth(&[], ETH_TYPE_IPV4, &ipv4(IPPROTO_ICMP, 0, &[], &icmp)));
    assert_eq!((k.icmp_type, k.icmp_code, k.tp_src, k.tp_dst), (8, 3, 0, 0));
}

#[test]
fn ipv4_options_are_skipped() {
    let opts = [1, 1, 1, 0, 0x94, 4, 0, 0];
    let k = key_of(&eth(
        &[],
        ETH_TYPE_IPV4,
        &ipv4(IPPROTO_UDP, 0, &opts, &ports(7, 8, 8)),
    ));
    assert_eq!((k.ipv4_dst, k.tp_src, k.tp_dst), (0x0a00_0002, 7, 8));
    // IHL below 5 is not IPv4 we can trust: only the ethertype is known.
    let mut ip = ipv4(IPPROTO_UDP, 0, &[], &ports(7, 8, 8));
    ip[0] = 0x44;
    let k = key_of(&eth(&[], ETH_TYPE_IPV4, &ip));
    assert_eq!((k.eth_type, k.ipv4_src, k.tp_dst), (ETH_TYPE_IPV4, 0, 0));
}

#[test]
fn ipv4_fragments() {
    let l4 = ports(7, 8, 8);
    let first = key_of(&eth(
        &[],
        ETH_TYPE_IPV4,
        &ipv4(IPPROTO_UDP, 0x2000, &[], &l4),
    ));
    assert_eq!((first.ip_frag, first.tp_dst), (FRAG_ANY, 8));
    let later = key_of(&eth(
        &[],
        ETH_TYPE_IPV4,
        &ipv4(IPPROTO_UDP, 0x2004, &[], &l4),
    ));
    assert_eq!(
        (later.ip_frag, later.ip_proto, later.tp_dst),
        (FRAG_ANY | FRAG_LATER, 17, 0)
    );
    let last = key_of(&eth(
        &[],
        ETH_TYPE_IPV4,
        &ipv4(IPPROTO_UDP, 0x0004, &[], &l4),
    ));
    assert_eq!((last.ip_frag, last.tp_src), (FRAG_ANY | FRAG_LATER, 0));
    // DF alone is not a fragment.
    let df = key_of(&eth(
        &[],
        ETH_TYPE_IPV4,
        &ipv4(IPPROTO_UDP, 0x4000, &[], &l4),
    ));
    assert_eq!((df.ip_frag, df.tp_src), (0, 7));
}

#[test]
fn ipv4_total_length_bounds_l4() {
    // A bare 20-byte IPv4 header claiming UDP, padded to 60 bytes by Ethernet: the padding is
    // not a UDP header.
    let mut ip = ipv4(IPPROTO_UDP, 0, &[], &[]);
    ip.extend_from_slice(&[0x55; 26]);
    let k = key_of(&eth(&[], ETH_TYPE_IPV4, &ip));
    assert_eq!((k.ip_proto, k.tp_src, k.tp_dst), (17, 0, 0));
}

#[test]
fn ipv6_tcp_and_extension_headers() {
    let k = key_of(&eth(
        &[],
        ETH_TYPE_IPV6,
        &ipv6(IPPROTO_TCP, &tcp(40000, 443, 0x002)),
    ));
    assert_eq!((k.ipv6_src, k.ipv6_dst), (v6addr(1), v6addr(2)));
    assert_eq!((k.ip_tos, k.ipv6_label, k.ip_ttl), (0x2a, 0xabcde, 255));
    assert_eq!(
        (k.ip_proto, k.tp_src, k.tp_dst, k.tcp_flags),
        (6, 40000, 443, 2)
    );
    assert_eq!((k.ipv4_src, k.ip_frag), (0, 0));

    // hop-by-hop (8) -> routing (24) -> AH (16) -> dstopts (8) -> UDP.
    let mut rest = vec![IPV6_ROUTING, 0, 0, 0, 0, 0, 0, 0];
    rest.extend_from_slice(&[IPV6_AH, 2]);
    rest.extend_from_slice(&[0; 22]);
    rest.extend_from_slice(&[IPV6_DSTOPTS, 2]);
    rest.extend_from_slice(&[0; 14]);
    rest.extend_from_slice(&[IPPROTO_UDP, 0, 0, 0, 0, 0, 0, 0]);
    rest.extend_from_slice(&ports(546, 547, 8));
    let k = key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(IPV6_HOPOPTS, &rest)));
    assert_eq!((k.ip_proto, k.tp_src, k.tp_dst), (17, 546, 547));
    assert_eq!(
        k.ipv6_exthdr,
        IPV6_EXTHDR_HOP | IPV6_EXTHDR_ROUTER | IPV6_EXTHDR_AUTH | IPV6_EXTHDR_DEST
    );

    // Truncated extension header: proto is the header we could not walk, no L4.
    let k = key_of(&eth(
        &[],
        ETH_TYPE_IPV6,
        &ipv6(IPV6_ROUTING, &[IPPROTO_UDP]),
    ));
    assert_eq!((k.ip_proto, k.tp_dst), (IPV6_ROUTING, 0));
    assert_eq!(
        k.ipv6_exthdr, IPV6_EXTHDR_ROUTER,
        "announced, then cut short"
    );
}

/// One 8-byte extension header whose next header is `next`.
fn ext8(next: u8) -> Vec<u8> {
    vec![next, 0, 0, 0, 0, 0, 0, 0]
}

/// `ipv6_exthdr` of a UDP packet behind the extension headers `chain`, 8 bytes each.
fn exthdr_of(chain: &[u8]) -> u16 {
    let mut rest = Vec::new();
    for (i, _) in chain.iter().enumerate() {
        rest.extend_from_slice(&ext8(chain.get(i + 1).copied().unwrap_or(IPPROTO_UDP)));
    }
    rest.extend_from_slice(&ports(1, 2, 8));
    let first = chain.first().copied().unwrap_or(IPPROTO_UDP);
    key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(first, &rest))).ipv6_exthdr
}

#[test]
fn ipv6_exthdr_flags() {
    // No extension headers, and anything that is not IPv6: no flags.
    assert_eq!(exthdr_of(&[]), 0);
    let k = key_of(&eth(
        &[],
        ETH_TYPE_IPV4,
        &ipv4(IPPROTO_UDP, 0, &[], &ports(1, 2, 8)),
    ));
    assert_eq!(k.ipv6_exthdr, 0);
    // Hop-by-hop then a (first) fragment.
    let hop_frag = exthdr_of(&[IPV6_HOPOPTS, IPV6_FRAGMENT]);
    assert_eq!(hop_frag, IPV6_EXTHDR_HOP | IPV6_EXTHDR_FRAG);
    // Destination options before routing and as the final header: allowed twice.
    let two_dest = exthdr_of(&[IPV6_DSTOPTS, IPV6_ROUTING, IPV6_DSTOPTS]);
    assert_eq!(two_dest, IPV6_EXTHDR_DEST | IPV6_EXTHDR_ROUTER);
    // A repeated routing header.
    let rep = exthdr_of(&[IPV6_ROUTING, IPV6_ROUTING]);
    assert_eq!(rep, IPV6_EXTHDR_ROUTER | IPV6_EXTHDR_UNREP);
    // Two destination options headers in a row: repeated.
    let dd = exthdr_of(&[IPV6_DSTOPTS, IPV6_DSTOPTS]);
    assert_eq!(dd, IPV6_EXTHDR_DEST | IPV6_EXTHDR_UNREP);
    // Fragment before routing, and hop-by-hop not first: out of sequence.
    let fr = exthdr_of(&[IPV6_FRAGMENT, IPV6_ROUTING]);
    assert_eq!(
        fr,
        IPV6_EXTHDR_FRAG | IPV6_EXTHDR_ROUTER | IPV6_EXTHDR_UNSEQ
    );
    let rh = exthdr_of(&[IPV6_ROUTING, IPV6_HOPOPTS]);
    assert_eq!(rh, IPV6_EXTHDR_ROUTER | IPV6_EXTHDR_HOP | IPV6_EXTHDR_UNSEQ);
    // "No next header" straight away, and after a hop-by-hop header.
    let k = key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(IPV6_NONXT, &[0; 8])));
    assert_eq!(
        (k.ipv6_exthdr, k.ip_proto),
        (IPV6_EXTHDR_NONEXT, IPV6_NONXT)
    );
    let k = key_of(&eth(
        &[],
        ETH_TYPE_IPV6,
        &ipv6(IPV6_HOPOPTS, &ext8(IPV6_NONXT)),
    ));
    assert_eq!(k.ipv6_exthdr, IPV6_EXTHDR_HOP | IPV6_EXTHDR_NONEXT);
    // ESP ends the walk (what follows is encrypted); AH before it is fine.
    let mut ah = vec![IPV6_ESP, 2];
    ah.extend_from_slice(&[0; 14]);
    ah.extend_from_slice(&[0; 16]);
    let k = key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(IPV6_AH, &ah)));
    assert_eq!(
        (k.ipv6_exthdr, k.ip_proto),
        (IPV6_EXTHDR_AUTH | IPV6_EXTHDR_ESP, IPV6_ESP)
    );
}

#[test]
fn ipv6_fragments() {
    let mut first = vec![IPPROTO_UDP, 0, 0x00, 0x01, 0, 0, 0, 1];
    first.extend_from_slice(&ports(1, 2, 8));
    let k = key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(IPV6_FRAGMENT, &first)));
    assert_eq!((k.ip_frag, k.ip_proto, k.tp_dst), (FRAG_ANY, 17, 2));
    let mut later = vec![IPPROTO_UDP, 0, 0x05, 0x01, 0, 0, 0, 1];
    later.extend_from_slice(&ports(1, 2, 8));
    let k = key_of(&eth(&[], ETH_TYPE_IPV6, &ipv6(IPV6_FRAGMENT, &later)));
    assert_eq!(
        (k.ip_frag, k.ip_proto, k.tp_dst),
        (FRAG_ANY | FRAG_LATER, 17, 0)
    );
}

#[test]
fn arp() {
    let mut a = vec![0, 1, 0x08, 0, 6, 4, 0, 2];
    a.extend_from_slice(&SRC);
    a.extend_from_slice(&[192, 168, 0, 1]);
    a.extend_from_slice(&DST);
    a.extend_from_slice(&[192, 168, 0, 2]);
    let k = key_of(&eth(&[], ETH_TYPE_ARP, &a));
    assert_eq!((k.eth_type, k.arp_op, k.ip_proto), (ETH_TYPE_ARP, 2, 0));
    assert_eq!((k.ipv4_src, k.ipv4_dst), (0xc0a8_0001, 0xc0a8_0002));
    assert_eq!((k.arp_sha, k.arp_tha), (SRC, DST));
    // Not Ethernet/IPv4 ARP: nothing beyond the ethertype.
    a[1] = 6;
    let k = key_of(&eth(&[], ETH_TYPE_ARP, &a));
    assert_eq!((k.arp_op, k.ipv4_src), (0, 0));
}

#[test]
fn mpls_outer_entry_and_ip_under_the_stack() {
    use crate::Field;
    // label 1000, tc 5, bos 1, ttl 63; then IPv4/UDP, parsed into the L3/L4 slots.
    let lse: u32 = (1000 << 12) | (5 << 9) | (1 << 8) | 63;
    let mut l3 = lse.to_be_bytes().to_vec();
    l3.extend_from_slice(&ipv4(IPPROTO_UDP, 0, &[], &ports(7, 9, 8)));
    let k = key_of(&eth(&[], crate::field::ETH_TYPE_MPLS, &l3));
    assert_eq!(k.mpls_lse, lse);
    assert_eq!(Field::MplsLabel.get(&k), 1000);
    assert_eq!(Field::MplsTc.get(&k), 5);
    assert_eq!(Field::MplsBos.get(&k), 1);
    assert_eq!(Field::MplsTtl.get(&k), 63);
    assert_eq!(k.eth_type, crate::field::ETH_TYPE_MPLS);
    assert_eq!((k.ip_proto, k.ipv4_src, k.tp_dst), (17, 0x0a00_0001, 9));
    // Two entries: the outer one is keyed, IPv6 under the bottom one is parsed.
    let outer: u32 = (16 << 12) | 7;
    let mut two = outer.to_be_bytes().to_vec();
    two.extend_from_slice(&lse.to_be_bytes());
    two.extend_from_slice(&ipv6(IPPROTO_TCP, &ports(1, 2, 20)));
    let k = key_of(&eth(&[], crate::field::ETH_TYPE_MPLS_MC, &two));
    assert_eq!((k.mpls_lse, k.ip_proto, k.tp_src), (outer, 6, 1));
    assert_eq!(k.ipv6_dst, v6addr(2));
    // No bottom of stack within the walk: nothing under it is parsed.
    let deep: Vec<u8> = (0..9)
        .flat_map(|_| outer.to_be_bytes())
        .chain(l3.clone())
        .collect();
    let k = key_of(&eth(&[], crate::field::ETH_TYPE_MPLS, &deep));
    assert_eq!((k.mpls_lse, k.ip_proto), (outer, 0));
    // Neither IPv4 nor IPv6 under the stack.
    let mut other = lse.to_be_bytes().to_vec();
    other.extend_from_slice(&[0x12; 30]);
    let k = key_of(&eth(&[], crate::field::ETH_TYPE_MPLS, &other));
    assert_eq!((k.mpls_lse, k.ip_proto, k.ip_ttl), (lse, 0, 0));
    // Cut inside the entry: the ethertype only.
    let k = key_of(&eth(&[], crate::field::ETH_TYPE_MPLS, &l3[..3]));
    assert_eq!((k.eth_type, k.mpls_lse), (crate::field::ETH_TYPE_MPLS, 0));
}

fn nd(ty: u8, code: u8, options: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&v6addr(9));
    m.extend_from_slice(options);
    ipv6(IPPROTO_ICMPV6, &m)
}

#[test]
fn icmpv6_and_neighbour_discovery() {
    let echo = ipv6(IPPROTO_ICMPV6, &[128, 0, 0, 0, 0, 0, 0, 0]);
    let k = key_of(&eth(&[], ETH_TYPE_IPV6, &echo));
    assert_eq!((k.ip_proto, k.icmp_type, k.icmp_code), (58, 128, 0));
    assert_eq!(k.nd_target, [0; 16]);

    let mut sll = vec![ND_OPT_SLL, 1];
    sll.extend_from_slice(&SRC);
    let mut unknown = vec![14, 1, 0, 0, 0, 0, 0, 0];
    unknown.extend_from_slice(&sll);
    let k = key_of(&eth(&[], ETH_TYPE_IPV6, &nd(135, 0, &unknown)));
    assert_eq!(
        (k.icmp_type, k.nd_target, k.arp_sha, k.arp_tha),
        (135, v6addr(9), SRC, [0; 6])
    );

    let mut tll = vec![ND_OPT_TLL, 1];
    tll.extend_from_slice(&DST);
    let k = key_of(&eth(&[], ETH_TYPE_IPV6, &nd(136, 0, &tll)));
    assert_eq!(
        (k.icmp_type, k.nd_target, k.arp_sha, k.arp_tha),
        (136, v6addr(9), [0; 6], DST)
    );

    // Zero-length option: malformed, ND fields cleared; type/code stay.
    let k = key_of(&eth(
        &[],
        ETH_TYPE_IPV6,
        &nd(135, 0, &[ND_OPT_SLL, 0, 1, 2, 3, 4, 5, 6]),
    ));
    assert_eq!(
        (k.icmp_type, k.nd_target, k.arp_sha),
        (135, [0; 16], [0; 6])
    );
    // Duplicate SLL: malformed too.
    let dup = [sll.clone(), sll.clone()].concat();
    let k = key_of(&eth(&[], ETH_TYPE_IPV6, &nd(135, 0, &dup)));
    assert_eq!((k.nd_target, k.arp_sha), ([0; 16], [0; 6]));
    // Non-zero code: not ND as far as the key goes.
    let k = key_of(&eth(&[], ETH_TYPE_IPV6, &nd(135, 1, &sll)));
    assert_eq!((k.icmp_code, k.nd_target, k.arp_sha), (1, [0; 16], [0; 6]));
}

/// Every prefix of a valid frame parses to a key whose bytes are each either zero or the byte
/// of the full frame's key: truncation only ever loses fields.
#[test]
fn truncation_only_loses_fields() {
    let mut sll = vec![ND_OPT_SLL, 1];
    sll.extend_from_slice(&SRC);
    let frames = [
        eth(
            &[(ETH_TYPE_VLAN, 10)],
            ETH_TYPE_IPV4,
            &ipv4(6, 0, &[1, 1, 1, 0], &tcp(1, 2, 3)),
        ),
        eth(&[], ETH_TYPE_IPV6, &nd(135, 0, &sll)),
    ];
    for frame in &frames {
        let full = key_of(frame);
        for len in 0..frame.len() {
            let k = key_of(&frame[..len]);
            let (kb, fb) = (bytemuck::bytes_of(&k), bytemuck::bytes_of(&full));
            for (i, (a, b)) in kb.iter().zip(fb).enumerate() {
                assert!(*a == 0 || a == b, "len {len} byte {i}: {a:#x} vs {b:#x}");
            }
        }
    }
}

#[test]
fn batch_fills_each_key() {
    let a = eth(
        &[],
        ETH_TYPE_IPV4,
        &ipv4(IPPROTO_UDP, 0, &[], &ports(1, 2, 8)),
    );
    let b = eth(&[], ETH_TYPE_IPV6, &ipv6(IPPROTO_TCP, &tcp(3, 4, 0)));
    let mut keys = [FlowKey::all_ones(); 3];
    extract_batch(&[&a, &b], 3, &mut keys);
    assert_eq!(
        (keys[0].eth_type, keys[0].tp_dst, keys[0].in_port),
        (0x0800, 2, 3)
    );
    assert_eq!((keys[1].eth_type, keys[1].tp_dst), (0x86dd, 4));
    assert_eq!(keys[2], FlowKey::all_ones());
}
