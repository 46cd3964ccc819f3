//! Datapath actions as text: what `dvsctl switch trace` prints after the pipeline and what a
//! megaflow dump shows per entry. Kept apart from translation, which builds the actions, so that
//! both readers print them one way.

use crate::drops::DropReason;
use crate::xlate::{Decision, DpAction, OFPR_NO_MATCH};

/// Datapath actions as `dvsctl switch trace` and megaflow dumps print them, naming ports by
/// switch-wide index through `port_name`.
pub fn describe_actions(actions: &[DpAction], port_name: &dyn Fn(usize) -> String) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            DpAction::Output(g) => format!("output:{}", port_name(*g)),
            DpAction::PushVlan { tpid, tci } => {
                format!(
                    "push_vlan(tpid=0x{tpid:04x},vid={},pcp={})",
                    tci & 0xfff,
                    tci >> 13
                )
            }
            DpAction::PopVlan => "pop_vlan".to_string(),
            DpAction::SetField(f, v) => format!("set_field:{v:#x}->{}", f.name()),
            DpAction::DecTtl => "dec_ttl".to_string(),
            DpAction::Mpls(op) => format!("mpls({op:?})"),
            DpAction::SetQueue(q) => format!("set_queue:{q}"),
            DpAction::Meter(m) => format!("meter({})", m.0.id),
            DpAction::Controller(c) => format!(
                "controller(reason={},table={},max_len={})",
                if c.reason == OFPR_NO_MATCH {
                    "no_match"
                } else {
                    "action"
                },
                c.table,
                c.max_len
            ),
            DpAction::Clone(sub) => {
                format!("clone({})", describe_actions(sub, port_name).join(","))
            }
        })
        .collect()
}

/// A decision in one line: its actions, or `drop(reason)`.
pub fn describe(dec: &Decision, port_name: &dyn Fn(usize) -> String) -> String {
    if dec.outputs() {
        describe_actions(&dec.actions, port_name).join(",")
    } else {
        format!("drop({})", dec.drop.unwrap_or(DropReason::RuleDrop).name())
    }
}
