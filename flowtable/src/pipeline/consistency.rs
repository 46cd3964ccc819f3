//! Set-field prerequisites against the rule's own match (OpenFlow 1.3 section 7.2.5 and A.4.4:
//! `OFPBAC_MATCH_INCONSISTENT`, "Set-Field missing prerequisite").
//!
//! A rule may only set a field its packets are known to have: `tcp_dst` needs a match on TCP
//! (or an earlier action that makes the packet TCP, which no action does), `mpls_label` needs
//! an MPLS ethertype in the match or a `push_mpls` before it, `vlan_pcp` a tag in the match or a
//! `push_vlan` before it. The check walks the rule's matched values (unmatched fields are zero,
//! as in Open vSwitch) through its actions in order, as the pipeline would change a packet's key
//! (`apply_to_key`), and tests each set-field's prerequisite on the key at that point.
//! Apply-actions go first, in their order; write-actions follow in the action set's execution
//! order. Packets that do lack the field at run time (a rule on `ip` whose packet turns out to be
//! a later fragment) still have the edit skipped, not dropped.

use super::exec::apply_to_key;
use super::PipelineError;
use crate::action::{Action, Instructions};
use crate::key::FlowKey;

/// Check every set-field of `ins` against a rule whose match has values `value`.
pub fn check(value: &FlowKey, ins: &Instructions) -> Result<(), PipelineError> {
    let mut k = *value;
    let mut write: Vec<&Action> = ins.write.iter().collect();
    write.sort_by_key(|a| a.set_order());
    for a in ins.apply.iter().chain(write) {
        if let Action::SetField(f, _) = a {
            if !f.prereq().met_by(&k) {
                return Err(PipelineError::MatchInconsistent(f.name()));
            }
        }
        apply_to_key(&mut k, a);
    }
    Ok(())
}
