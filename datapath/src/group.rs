//! OpenFlow groups: all, select, indirect and fast-failover (OpenFlow 1.3 section 5.6).
//!
//! STUB: the interface translation uses; bucket selection, liveness and the group table's
//! management are filled in by the group work (issue 4).

use crate::bridge::BridgeView;
use flowtable::action::Action;
use flowtable::key::FlowKey;
use flowtable::pipeline::RuleStats;
use std::collections::HashMap;
use std::sync::Arc;

/// Group type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupKind {
    /// Execute every bucket.
    All,
    /// Execute one bucket, chosen by a hash of the flow.
    Select,
    /// Execute the one bucket.
    Indirect,
    /// Execute the first live bucket.
    FastFailover,
}

/// One bucket.
#[derive(Debug)]
pub struct GroupBucket {
    /// Weight (select).
    pub weight: u16,
    /// Port whose liveness gates the bucket, or OFPP_ANY.
    pub watch_port: u32,
    /// Group whose liveness gates the bucket, or OFPG_ANY.
    pub watch_group: u32,
    /// Actions applied to a copy of the packet.
    pub actions: Vec<Action>,
    /// Packets and bytes through this bucket.
    pub stats: Arc<RuleStats>,
}

/// One group.
#[derive(Debug)]
pub struct Group {
    /// Group id.
    pub id: u32,
    /// Type.
    pub kind: GroupKind,
    /// Buckets in order.
    pub buckets: Vec<GroupBucket>,
    /// Packets and bytes through the group.
    pub stats: Arc<RuleStats>,
}

impl Group {
    /// Append the indexes of the buckets a packet with `key` executes.
    pub fn choose(&self, _view: &BridgeView, _key: &FlowKey, out: &mut Vec<usize>) {
        match self.kind {
            GroupKind::All => out.extend(0..self.buckets.len()),
            _ => {
                if !self.buckets.is_empty() {
                    out.push(0)
                }
            }
        }
    }
}

/// A bridge's groups, published with its view (a GROUP_MOD publishes a new table).
#[derive(Clone, Debug, Default)]
pub struct GroupTable {
    groups: HashMap<u32, Arc<Group>>,
}

impl GroupTable {
    /// The group with id `id`.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&Arc<Group>> {
        self.groups.get(&id)
    }

    /// True when group `id` exists.
    pub fn contains(&self, id: u32) -> bool {
        self.groups.contains_key(&id)
    }
}
