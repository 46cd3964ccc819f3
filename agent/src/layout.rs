//! The flow table layout (see the crate docs for the table) and the cookies that name each flow.
//!
//! [`flows`] turns one bridge's plan plus the OpenFlow numbers of its ports into the exact set of
//! flows it should hold, keyed by cookie. A cookie is
//! `0xd5 << 56 | kind << 48 | fnv16(origin) << 32 | fnv32(table, priority, match, instructions)`,
//! so it names where a flow comes from (`ovs-ofctl dump-flows` shows it: `0xd5010a3b...` is a
//! classification flow of some port) and changes whenever its content does. Diffing is then a
//! set difference on cookies; the hash is FNV-1a over the flow's wire encoding, stable across
//! runs and builds (std's hasher is randomized per process, which would make a restarted agent
//! rewrite every flow).
//!
//! A port without an OpenFlow number yet (dvs-switchd has not opened it) has no flows: its
//! traffic meets table 0's drop until the number appears in the database.

use crate::plan::{BridgePlan, Role};
use flowtable::action::OFPP_NORMAL;
use flowtable::Field;
use openflow::oxm::encode_match;
use openflow::{Action, Instruction, OxmField};
use std::collections::BTreeMap;

/// The marker in a cookie's top byte.
pub const MARKER: u64 = 0xd5;
/// Mask selecting the marker byte.
pub const MARKER_MASK: u64 = 0xff << 56;

/// Table numbers.
pub mod table {
    /// Classification by ingress port.
    pub const CLASSIFY: u8 = 0;
    /// Port security (source MAC).
    pub const PORT_SECURITY: u8 = 10;
    /// Policing (meters, later).
    pub const POLICING: u8 = 20;
    /// Security groups (later).
    pub const SECURITY_GROUPS: u8 = 30;
    /// L2 forwarding.
    pub const L2: u8 = 40;
}

/// Flow kinds (a cookie's second byte).
pub mod kind {
    /// Table 0: a VM port -> port security.
    pub const CLASSIFY_VM: u8 = 0x01;
    /// Table 0: the uplink -> L2.
    pub const CLASSIFY_UPLINK: u8 = 0x02;
    /// A table's default (miss) flow.
    pub const DEFAULT: u8 = 0x03;
    /// Table 10: a VM port's own source MAC.
    pub const PORT_SECURITY: u8 = 0x10;
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

fn goto(t: u8) -> Vec<Instruction> {
    vec![Instruction::GotoTable(t)]
}

/// The flows bridge `b` should hold, by cookie. `ofport` gives a port's OpenFlow number (by
/// port name) once dvs-switchd has one.
pub fn flows(b: &BridgePlan, ofport: &dyn Fn(&str) -> Option<u32>) -> BTreeMap<u64, Flow> {
    let dvs = format!("dvs/{}", b.dvs);
    let mut v = vec![
        Flow {
            table: table::CLASSIFY,
            priority: 0,
            matches: Vec::new(),
            instructions: Vec::new(),
            origin: dvs.clone(),
            kind: kind::DEFAULT,
        },
        Flow {
            table: table::PORT_SECURITY,
            priority: 0,
            matches: Vec::new(),
            instructions: Vec::new(),
            origin: dvs.clone(),
            kind: kind::DEFAULT,
        },
        Flow {
            table: table::POLICING,
            priority: 0,
            matches: Vec::new(),
            instructions: goto(table::SECURITY_GROUPS),
            origin: dvs.clone(),
            kind: kind::DEFAULT,
        },
        Flow {
            table: table::SECURITY_GROUPS,
            priority: 0,
            matches: Vec::new(),
            instructions: goto(table::L2),
            origin: dvs.clone(),
            kind: kind::DEFAULT,
        },
        Flow {
            table: table::L2,
            priority: 0,
            matches: Vec::new(),
            instructions: vec![Instruction::ApplyActions(vec![Action::Output {
                port: OFPP_NORMAL,
                max_len: 0,
            }])],
            origin: dvs,
            kind: kind::DEFAULT,
        },
    ];
    for p in b.ports.values() {
        let Some(n) = ofport(&p.name) else { continue };
        let in_port = OxmField::exact(Field::InPort, u128::from(n));
        let origin = p.key.to_string();
        match &p.role {
            Role::Uplink { .. } => v.push(Flow {
                table: table::CLASSIFY,
                priority: 100,
                matches: vec![in_port],
                instructions: goto(table::L2),
                origin,
                kind: kind::CLASSIFY_UPLINK,
            }),
            Role::Vm { mac, .. } => {
                v.push(Flow {
                    table: table::CLASSIFY,
                    priority: 100,
                    matches: vec![in_port],
                    instructions: goto(table::PORT_SECURITY),
                    origin: origin.clone(),
                    kind: kind::CLASSIFY_VM,
                });
                let m = mac_value(mac);
                v.push(Flow {
                    table: table::PORT_SECURITY,
                    priority: 100,
                    matches: vec![in_port, OxmField::exact(Field::EthSrc, m)],
                    instructions: goto(table::POLICING),
                    origin,
                    kind: kind::PORT_SECURITY,
                });
            }
        }
    }
    v.into_iter().map(|f| (f.cookie(), f)).collect()
}

/// A MAC's text as the OXM value.
fn mac_value(mac: &str) -> u128 {
    mac.split(':')
        .filter_map(|p| u8::from_str_radix(p, 16).ok())
        .fold(0u128, |acc, b| acc << 8 | u128::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{PortPlan, PortVlan};
    use proto::{Key, Kind};

    fn bridge() -> BridgePlan {
        let mut ports = BTreeMap::new();
        for (name, id, mac) in [
            ("v1", "vm1", "02:00:00:00:00:01"),
            ("v2", "vm2", "02:00:00:00:00:02"),
        ] {
            ports.insert(
                name.to_string(),
                PortPlan {
                    name: name.into(),
                    key: Key::new(Kind::Port, id),
                    role: Role::Vm {
                        id: id.into(),
                        mac: mac.into(),
                    },
                    iface_type: "system",
                    options: BTreeMap::new(),
                    vlan: PortVlan {
                        tag: Some(10),
                        trunks: Vec::new(),
                        mode: "access",
                    },
                },
            );
        }
        BridgePlan {
            dvs: "d1".into(),
            ports,
        }
    }

    #[test]
    fn fnv_is_the_reference() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn cookies_name_origin_and_are_stable() {
        let b = bridge();
        let ofp = |n: &str| match n {
            "v1" => Some(1),
            "v2" => Some(2),
            _ => None,
        };
        let f = flows(&b, &ofp);
        assert_eq!(f.len(), 5 + 4);
        assert!(f.keys().all(|c| is_ours(*c)));
        // Same input, same cookies (no per-process randomness).
        assert_eq!(
            f.keys().collect::<Vec<_>>(),
            flows(&b, &ofp).keys().collect::<Vec<_>>()
        );
        let port_bits = fold(fnv1a(b"port/vm1"), 16) << 32;
        let mine: Vec<_> = f
            .keys()
            .filter(|c| *c & (0xffff << 32) == port_bits)
            .collect();
        assert_eq!(mine.len(), 2, "vm1 has two flows");
        // A port without an ofport has no flows; the others' cookies do not move.
        let only1 = |n: &str| (n == "v1").then_some(1);
        let g = flows(&b, &only1);
        assert_eq!(g.len(), 7);
        assert!(g.keys().all(|c| f.contains_key(c)));
        // A different number changes that port's cookies only.
        let moved = |n: &str| match n {
            "v1" => Some(1),
            _ => Some(7),
        };
        let h = flows(&b, &moved);
        assert_eq!(h.keys().filter(|c| !f.contains_key(c)).count(), 2);
    }
}
