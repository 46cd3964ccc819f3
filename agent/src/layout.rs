//! The flow table layout (see the crate docs for the table) and the cookies that name each flow.
//!
//! [`crate::policy::compile`] turns one bridge's plan plus the OpenFlow numbers of its ports into
//! the exact set of flows it should hold, keyed by cookie. A cookie is
//! `0xd5 << 56 | kind << 48 | fnv16(origin) << 32 | fnv32(table, priority, match, instructions)`,
//! so it names where a flow comes from (`ovs-ofctl dump-flows` shows it: `0xd5010a3b...` is a
//! classification flow of some port) and changes whenever its content does. Diffing is then a
//! set difference on cookies; the hash is FNV-1a over the flow's wire encoding, stable across
//! runs and builds (std's hasher is randomized per process, which would make a restarted agent
//! rewrite every flow).

use openflow::oxm::encode_match;
use openflow::{Instruction, OxmField};

/// The marker in a cookie's top byte.
pub const MARKER: u64 = 0xd5;
/// Mask selecting the marker byte.
pub const MARKER_MASK: u64 = 0xff << 56;

/// Table numbers (see [`crate::policy`] for what each holds).
pub mod table {
    /// Classification by ingress port.
    pub const CLASSIFY: u8 = 0;
    /// Port security (source MAC).
    pub const PORT_SECURITY: u8 = 10;
    /// IP-MAC binding, ARP and ND inspection.
    pub const BINDING: u8 = 11;
    /// DHCP isolation and RA guard.
    pub const DHCP_GUARD: u8 = 12;
    /// Broadcast suppression.
    pub const BROADCAST: u8 = 20;
    /// Policing and egress queue.
    pub const POLICING: u8 = 21;
    /// Security groups (later).
    pub const SECURITY_GROUPS: u8 = 30;
    /// L2 forwarding.
    pub const L2: u8 = 40;
}

/// Flow kinds (a cookie's second byte). Each drop has its own, so its flow counter is the
/// per-port count of that reason ([`kind::reason`]).
pub mod kind {
    /// Table 0: a VM port -> port security.
    pub const CLASSIFY_VM: u8 = 0x01;
    /// Table 0: the uplink -> L2.
    pub const CLASSIFY_UPLINK: u8 = 0x02;
    /// A table's default (miss) flow.
    pub const DEFAULT: u8 = 0x03;
    /// Table 10: a VM port's own source MAC.
    pub const PORT_SECURITY: u8 = 0x10;
    /// Table 10: any other source MAC (drop).
    pub const MAC_SPOOF: u8 = 0x11;
    /// Table 11: the port's other traffic goes on (every VM port).
    pub const BIND_PASS: u8 = 0x20;
    /// Table 11: IPv4 from a bound address.
    pub const BIND_IPV4: u8 = 0x21;
    /// Table 11: a DHCP client without an address yet.
    pub const BIND_DHCP: u8 = 0x22;
    /// Table 11: ARP (and ARP probes) for a bound address.
    pub const BIND_ARP: u8 = 0x23;
    /// Table 11: IPv6 from a bound or the link-local address, ICMPv6 from `::`.
    pub const BIND_IPV6: u8 = 0x24;
    /// Table 11: NS/NA that pass inspection.
    pub const BIND_ND: u8 = 0x25;
    /// Table 11: other IPv4 (drop).
    pub const IP_SPOOF: u8 = 0x28;
    /// Table 11: other ARP (drop).
    pub const ARP_SPOOF: u8 = 0x29;
    /// Table 11: other NS/NA (drop).
    pub const ND_SPOOF: u8 = 0x2a;
    /// Table 11: other IPv6 (drop).
    pub const IPV6_SPOOF: u8 = 0x2b;
    /// Table 12: DHCPv4 server traffic (drop).
    pub const DHCP_SERVER: u8 = 0x30;
    /// Table 12: DHCPv6 server traffic (drop).
    pub const DHCPV6_SERVER: u8 = 0x31;
    /// Table 12: router advertisement (drop).
    pub const ROUTER_ADVERTISEMENT: u8 = 0x32;
    /// Table 20: broadcast through the port's broadcast meter.
    pub const BROADCAST: u8 = 0x40;
    /// Table 21: the port's policer and queue.
    pub const POLICE: u8 = 0x41;

    /// The drop reason a flow kind counts, if it is a drop.
    pub fn reason(kind: u8) -> Option<&'static str> {
        Some(match kind {
            MAC_SPOOF => "mac_spoof",
            IP_SPOOF => "ip_spoof",
            ARP_SPOOF => "arp_spoof",
            ND_SPOOF => "nd_spoof",
            IPV6_SPOOF => "ipv6_spoof",
            DHCP_SERVER => "dhcp_server",
            DHCPV6_SERVER => "dhcpv6_server",
            ROUTER_ADVERTISEMENT => "router_advertisement",
            _ => return None,
        })
    }
}

/// One flow the agent wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    /// Table.
    pub table: u8,
    /// Priority.
    pub priority: u16,
    /// Match.
    pub matches: Vec<OxmField>,
    /// Instructions (empty: drop).
    pub instructions: Vec<Instruction>,
    /// Origin key (`port/vm1`, `uplink/u1`, `dvs/d1`).
    pub origin: String,
    /// Kind (see [`kind`]).
    pub kind: u8,
}

impl Flow {
    /// Its cookie.
    pub fn cookie(&self) -> u64 {
        cookie(
            self.kind,
            &self.origin,
            self.table,
            self.priority,
            &self.matches,
            &self.instructions,
        )
    }
}

/// FNV-1a, 64 bits.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Fold a 64-bit hash to `bits` bits.
fn fold(h: u64, bits: u32) -> u64 {
    let mut x = h;
    let mut out = 0;
    while x != 0 {
        out ^= x & ((1 << bits) - 1);
        x >>= bits;
    }
    out
}

/// The 16 origin bits of a cookie (bits 32..48) for origin key `origin` (`port/vm1`).
pub fn origin_bits(origin: &str) -> u16 {
    fold(fnv1a(origin.as_bytes()), 16) as u16
}

/// The cookie of a flow (see the module docs).
pub fn cookie(
    kind: u8,
    origin: &str,
    table: u8,
    priority: u16,
    matches: &[OxmField],
    instructions: &[Instruction],
) -> u64 {
    let mut content = vec![table];
    content.extend_from_slice(&priority.to_be_bytes());
    encode_match(matches, &mut content);
    openflow::instruction::encode_instructions(instructions, &mut content);
    MARKER << 56
        | u64::from(kind) << 48
        | u64::from(origin_bits(origin)) << 32
        | fold(fnv1a(&content), 32)
}

/// Whether a cookie is one of the agent's.
pub fn is_ours(cookie: u64) -> bool {
    cookie & MARKER_MASK == MARKER << 56
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_the_reference() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
