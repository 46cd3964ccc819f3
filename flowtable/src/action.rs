//! OpenFlow actions and instructions as the pipeline stores them.
//!
//! These are the *OpenFlow-level* actions a rule carries. The datapath translates the result of a
//! pipeline run (including NORMAL, which needs the MAC table and port VLAN modes) into its own
//! lower-level action list, which is what the caches hold. Keeping the two apart is what lets a
//! future megaflow tier cache translated actions without re-running the pipeline.

use crate::field::Field;
use serde::{Deserialize, Serialize};

/// OpenFlow reserved port: the ingress port.
pub const OFPP_IN_PORT: u32 = 0xffff_fff8;
/// OpenFlow reserved port: submit to table (PACKET_OUT only).
pub const OFPP_TABLE: u32 = 0xffff_fff9;
/// OpenFlow reserved port: NORMAL (MAC learning switch).
pub const OFPP_NORMAL: u32 = 0xffff_fffa;
/// OpenFlow reserved port: flood (all ports but ingress, same VLAN for NORMAL semantics).
pub const OFPP_FLOOD: u32 = 0xffff_fffb;
/// OpenFlow reserved port: all ports but ingress.
pub const OFPP_ALL: u32 = 0xffff_fffc;
/// OpenFlow reserved port: controller.
pub const OFPP_CONTROLLER: u32 = 0xffff_fffd;
/// OpenFlow reserved port: local (bridge internal port).
pub const OFPP_LOCAL: u32 = 0xffff_fffe;
/// OpenFlow wildcard port / "none".
pub const OFPP_ANY: u32 = 0xffff_ffff;
/// Highest ordinary port number.
pub const OFPP_MAX: u32 = 0xffff_ff00;

/// One OpenFlow action.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// Output to a port (ordinary or reserved: IN_PORT, NORMAL, FLOOD, ALL, CONTROLLER, LOCAL).
    /// `max_len` only matters for CONTROLLER.
    Output {
        /// Port number.
        port: u32,
        /// Bytes to send to the controller.
        max_len: u16,
    },
    /// Push a VLAN tag with this TPID (0x8100 or 0x88a8); the new tag copies VID/PCP from any
    /// existing tag, else zero, per OpenFlow 1.3.
    PushVlan(u16),
    /// Pop the outer VLAN tag.
    PopVlan,
    /// Set a field (the value is truncated to the field's width).
    SetField(Field, u128),
    /// Decrement IP TTL (drop when it would reach zero).
    DecTtl,
    /// Push a new outer MPLS label stack entry; the frame's ethertype becomes this one (0x8847
    /// or 0x8848). See `pipeline::exec::apply_to_key` for the entry's initial value.
    PushMpls(u16),
    /// Pop the outer MPLS entry; the frame's ethertype becomes this one (what follows it).
    PopMpls(u16),
    /// Decrement the outer MPLS TTL (drop when it would reach zero).
    DecMplsTtl,
    /// Copy the TTL inwards: outer MPLS TTL to the next entry, or to the IP TTL under the
    /// bottom of the stack.
    CopyTtlIn,
    /// Copy the TTL outwards: the next entry's TTL (or the IP TTL) to the outer MPLS TTL.
    CopyTtlOut,
    /// Apply a group.
    Group(u32),
    /// Set the egress queue.
    SetQueue(u32),
}

impl Action {
    /// Output to an ordinary port.
    pub fn output(port: u32) -> Action {
        Action::Output { port, max_len: 0 }
    }

    /// The NORMAL action.
    pub fn normal() -> Action {
        Action::Output {
            port: OFPP_NORMAL,
            max_len: 0,
        }
    }

    /// Sort order inside an action set (OpenFlow 1.3 section 5.10): copy TTL inwards, pops,
    /// push-MPLS, push-VLAN, copy TTL outwards, TTL decrements, set-field, qos, group, output.
    /// (Decrementing the IP TTL first, as this switch did before MPLS, gives the same packet
    /// without MPLS; with it the spec's order matters, so the spec's order it is.)
    pub fn set_order(&self) -> u8 {
        match self {
            Action::CopyTtlIn => 0,
            Action::PopVlan | Action::PopMpls(_) => 1,
            Action::PushMpls(_) => 2,
            Action::PushVlan(_) => 3,
            Action::CopyTtlOut => 4,
            Action::DecTtl | Action::DecMplsTtl => 5,
            Action::SetField(..) => 6,
            Action::SetQueue(_) => 7,
            Action::Group(_) => 8,
            Action::Output { .. } => 9,
        }
    }
}

/// A rule's instructions, at most one of each kind (OpenFlow 1.3 section 5.9).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Instructions {
    /// Meter to apply first.
    pub meter: Option<u32>,
    /// Actions applied immediately, in order.
    pub apply: Vec<Action>,
    /// Clear the action set.
    pub clear: bool,
    /// Actions merged into the action set.
    pub write: Vec<Action>,
    /// (value, mask) written into metadata.
    pub write_metadata: Option<(u64, u64)>,
    /// Next table.
    pub goto: Option<u8>,
}

impl Instructions {
    /// Instructions that just apply `actions`.
    pub fn apply(actions: Vec<Action>) -> Instructions {
        Instructions {
            apply: actions,
            ..Instructions::default()
        }
    }

    /// True when the rule does nothing (a drop).
    pub fn is_drop(&self) -> bool {
        self.apply.is_empty() && self.write.is_empty() && self.goto.is_none()
    }
}
