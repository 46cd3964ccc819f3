//! OpenFlow groups: all, select, indirect and fast-failover (OpenFlow 1.3 section 5.6).
//!
//! A [`Group`] is immutable once built: a GROUP_MOD builds a new one, and the bridge publishes a
//! new [`GroupTable`] with its view, so the translator (`xlate`) reads groups without locks and
//! every change bumps the cache epoch. The translator asks [`Group::choose`] which buckets a flow
//! executes; that answer is cached per exact flow key until the next epoch bump (a view publish,
//! including PORT_MOD, or a link change noticed by the housekeeping thread), so `choose` may
//! depend on the key, the view and port liveness, and it runs on the slow path only.
//!
//! Bucket choice:
//! - **all**: every bucket; **indirect**: its single bucket.
//! - **fast-failover**: the first live bucket.
//! - **select**: one live bucket of non-zero weight, by *weighted rendezvous hashing*
//!   (highest random weight): every candidate bucket scores `weight / -ln(u)`, where `u` in (0, 1)
//!   is a hash of the flow's L2/L3/L4 fields ([`flow_hash`]) mixed with the bucket's identity,
//!   and the highest score wins. A flow always lands on the same bucket; flows spread in
//!   proportion to the weights; and when a bucket dies (or is removed, or is added) only the
//!   flows that were on it (or move to it) change bucket, because every other bucket's score
//!   for a flow is unchanged. A bucket's identity is a hash of its actions and watch fields (not
//!   its position or weight), so a GROUP_MOD that drops or reorders buckets keeps the flows of
//!   the surviving ones where they were.
//!
//! Liveness (OpenFlow 1.3 section 6.5): a bucket is live when its `watch_port` is OFPP_ANY or
//! a live port of the bridge (link up and not PORT_DOWN) and its `watch_group` is OFPG_ANY or a
//! live group. A group is live when choosing for it would execute some bucket. Liveness through
//! watched groups is followed at most [`MAX_CHAIN`] levels deep.

use crate::bridge::BridgeView;
use flowtable::action::{Action, OFPP_ANY};
use flowtable::key::{FlowKey, VLAN_VID_MASK};
use flowtable::pipeline::RuleStats;
use flowtable::Field;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// OFPG_ANY: "no group" in a bucket's `watch_group`.
pub const OFPG_ANY: u32 = 0xffff_ffff;

/// Longest chain of groups (a bucket naming a group whose bucket names a group...) the switch
/// accepts; the translator cuts chains at the same depth.
pub const MAX_CHAIN: usize = 8;

/// Group type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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
    /// Identity for select hashing (see the module documentation); set by [`Group::new`].
    ident: u64,
}

impl GroupBucket {
    /// A bucket with fresh counters.
    pub fn new(weight: u16, watch_port: u32, watch_group: u32, actions: Vec<Action>) -> Self {
        GroupBucket {
            weight,
            watch_port,
            watch_group,
            actions,
            stats: Arc::new(RuleStats::default()),
            ident: 0,
        }
    }

    /// True when the bucket watches a port or a group.
    pub fn has_watch(&self) -> bool {
        self.watch_port != OFPP_ANY || self.watch_group != OFPG_ANY
    }

    /// The groups this bucket forwards to (its group actions).
    pub fn forwards_to(&self) -> impl Iterator<Item = u32> + '_ {
        self.actions.iter().filter_map(|a| match a {
            Action::Group(g) => Some(*g),
            _ => None,
        })
    }

    /// OpenFlow liveness: the watched port and the watched group (if any) are live.
    pub fn is_live(&self, view: &BridgeView) -> bool {
        self.live_at(view, 0)
    }

    fn live_at(&self, view: &BridgeView, depth: usize) -> bool {
        (self.watch_port == OFPP_ANY || view.port_live(self.watch_port))
            && (self.watch_group == OFPG_ANY
                || view
                    .groups
                    .get(self.watch_group)
                    .is_some_and(|g| g.live_at(view, depth + 1)))
    }
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
    /// The buckets exactly as the controller sent them (group description replies).
    pub wire: Vec<openflow::Bucket>,
    /// When the group was added (monotonic ns; kept by a modify, like the counters).
    pub created_ns: u64,
}

impl Group {
    /// A group with fresh counters; gives every bucket its hashing identity.
    pub fn new(
        id: u32,
        kind: GroupKind,
        mut buckets: Vec<GroupBucket>,
        wire: Vec<openflow::Bucket>,
        created_ns: u64,
    ) -> Group {
        let mut seen: HashMap<u64, u64> = HashMap::new();
        for b in &mut buckets {
            let mut h = Fnv::default();
            b.actions.hash(&mut h);
            b.watch_port.hash(&mut h);
            b.watch_group.hash(&mut h);
            let base = h.finish();
            // Identical buckets still get distinct identities (by occurrence).
            let n = seen.entry(base).or_default();
            b.ident = mix(base ^ mix(*n));
            *n += 1;
        }
        Group {
            id,
            kind,
            buckets,
            stats: Arc::new(RuleStats::default()),
            wire,
            created_ns,
        }
    }

    /// Append the indexes of the buckets a packet with `key` executes.
    pub fn choose(&self, view: &BridgeView, key: &FlowKey, out: &mut Vec<usize>) {
        match self.kind {
            GroupKind::All => out.extend(0..self.buckets.len()),
            GroupKind::Indirect => out.extend((!self.buckets.is_empty()).then_some(0)),
            GroupKind::FastFailover => out.extend(self.first_live(view, 0)),
            GroupKind::Select => out.extend(self.select(view, flow_hash(key))),
        }
    }

    /// Add to `wc` the key bits [`Group::choose`] reads: a select group's hash fields (see
    /// [`flow_hash`]); the other kinds choose without looking at the packet.
    pub fn read_mask(&self, wc: &mut FlowKey) {
        if self.kind == GroupKind::Select {
            for f in [
                Field::EthSrc,
                Field::EthDst,
                Field::EthType,
                Field::IpProto,
                Field::Ipv4Src,
                Field::Ipv4Dst,
                Field::Ipv6Src,
                Field::Ipv6Dst,
                Field::TcpSrc,
                Field::TcpDst,
            ] {
                f.set(wc, f.full_mask());
            }
            wc.vlan_tci |= VLAN_VID_MASK;
        }
    }

    /// The groups this group's buckets forward to (with repeats).
    pub fn forwards_to(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets.iter().flat_map(GroupBucket::forwards_to)
    }

    /// OpenFlow liveness: a packet sent to the group would execute at least one bucket.
    pub fn is_live(&self, view: &BridgeView) -> bool {
        self.live_at(view, 0)
    }

    fn live_at(&self, view: &BridgeView, depth: usize) -> bool {
        if depth >= MAX_CHAIN {
            return false;
        }
        match self.kind {
            GroupKind::All | GroupKind::Indirect => {
                self.buckets.iter().any(|b| b.live_at(view, depth))
            }
            GroupKind::FastFailover => self.first_live(view, depth).is_some(),
            GroupKind::Select => self
                .buckets
                .iter()
                .any(|b| b.weight > 0 && b.live_at(view, depth)),
        }
    }

    fn first_live(&self, view: &BridgeView, depth: usize) -> Option<usize> {
        self.buckets.iter().position(|b| b.live_at(view, depth))
    }

    /// Weighted rendezvous hashing over the live buckets of non-zero weight.
    fn select(&self, view: &BridgeView, flow: u64) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        for (i, b) in self.buckets.iter().enumerate() {
            if b.weight == 0 || !b.is_live(view) {
                continue;
            }
            let s = score(flow, b.ident, b.weight);
            if best.is_none_or(|(top, _)| s > top) {
                best = Some((s, i));
            }
        }
        best.map(|(_, i)| i)
    }
}

/// Rendezvous score of a bucket for a flow: `weight / -ln(u)`, `u` uniform in (0, 1). The
/// largest score over the buckets lands on bucket `i` with probability `w_i / sum(w)`.
fn score(flow: u64, bucket: u64, weight: u16) -> f64 {
    let r = mix(flow ^ bucket);
    // 53 random bits, centred in their interval: never 0, never 1.
    let u = ((r >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    f64::from(weight) / -u.ln()
}

/// Hash of the fields a select group spreads flows by: Ethernet source and destination,
/// ethertype, VLAN id, IPv4/IPv6 source and destination, IP protocol and L4 ports. Other
/// fields (in_port, TTL, TCP flags, metadata) do not move a flow.
pub fn flow_hash(k: &FlowKey) -> u64 {
    let mac = |m: [u8; 6]| {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&m);
        u64::from_be_bytes(b)
    };
    let halves = |a: [u8; 16]| {
        let (hi, lo) = a.split_at(8);
        [
            u64::from_be_bytes(hi.try_into().unwrap_or_default()),
            u64::from_be_bytes(lo.try_into().unwrap_or_default()),
        ]
    };
    let [s6h, s6l] = halves(k.ipv6_src);
    let [d6h, d6l] = halves(k.ipv6_dst);
    let words = [
        mac(k.eth_src),
        mac(k.eth_dst),
        u64::from(k.eth_type)
            | u64::from(k.vlan_tci & VLAN_VID_MASK) << 16
            | u64::from(k.ip_proto) << 32,
        u64::from(k.ipv4_src) << 32 | u64::from(k.ipv4_dst),
        s6h,
        s6l,
        d6h,
        d6l,
        u64::from(k.tp_src) << 16 | u64::from(k.tp_dst),
    ];
    words
        .iter()
        .fold(0x243f_6a88_85a3_08d3, |h, w| mix(h.rotate_left(23) ^ w))
}

/// A 64-bit finalizer (the splitmix64 one): every input bit flips about half the output bits.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a, for bucket identities: deterministic across runs and toolchains, unlike the
/// standard library's default hasher.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Why a group table change would break group chaining.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// A chain would come back to the group it started from.
    Loop,
    /// A chain would be longer than [`MAX_CHAIN`] groups.
    TooDeep,
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

    /// Add or replace a group; returns the one it replaced.
    pub fn insert(&mut self, g: Arc<Group>) -> Option<Arc<Group>> {
        self.groups.insert(g.id, g)
    }

    /// Remove group `id`.
    pub fn remove(&mut self, id: u32) -> Option<Arc<Group>> {
        self.groups.remove(&id)
    }

    /// Remove every group.
    pub fn clear(&mut self) {
        self.groups.clear()
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when there are no groups.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Every group, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Group>> {
        self.groups.values()
    }

    /// Every group, by id.
    pub fn sorted(&self) -> Vec<&Arc<Group>> {
        let mut v: Vec<&Arc<Group>> = self.groups.values().collect();
        v.sort_by_key(|g| g.id);
        v
    }

    /// Number of groups of type `kind`.
    pub fn count(&self, kind: GroupKind) -> usize {
        self.groups.values().filter(|g| g.kind == kind).count()
    }

    /// The groups (other than `id` itself) with a bucket that forwards to group `id`.
    pub fn referrers(&self, id: u32) -> Vec<u32> {
        self.groups
            .values()
            .filter(|g| g.id != id && g.forwards_to().any(|t| t == id))
            .map(|g| g.id)
            .collect()
    }

    /// Check the chains through group `id` after it was added or replaced: no loop, and no
    /// chain longer than [`MAX_CHAIN`] groups. Assumes the rest of the table already passed
    /// this check (so any loop goes through `id`). Every group named must exist.
    pub fn check_chains(&self, id: u32) -> Result<(), ChainError> {
        let mut memo = HashMap::new();
        let down = self.longest_from(id, id, 0, &mut memo)?;
        let up = self.longest_to(id, 0);
        if up + down - 1 > MAX_CHAIN {
            return Err(ChainError::TooDeep);
        }
        Ok(())
    }

    /// Groups in the longest chain starting at `g` (1 for a group that names none).
    fn longest_from(
        &self,
        g: u32,
        origin: u32,
        depth: usize,
        memo: &mut HashMap<u32, usize>,
    ) -> Result<usize, ChainError> {
        if let Some(n) = memo.get(&g) {
            return Ok(*n);
        }
        if depth > MAX_CHAIN {
            // Longer than any acceptable chain: no need to look further.
            return Err(ChainError::TooDeep);
        }
        let Some(group) = self.groups.get(&g) else {
            return Ok(1);
        };
        let mut longest = 0;
        for t in group.forwards_to() {
            if t == origin {
                return Err(ChainError::Loop);
            }
            longest = longest.max(self.longest_from(t, origin, depth + 1, memo)?);
        }
        memo.insert(g, longest + 1);
        Ok(longest + 1)
    }

    /// Groups in the longest chain ending at `g`.
    fn longest_to(&self, g: u32, depth: usize) -> usize {
        if depth > MAX_CHAIN {
            return depth;
        }
        1 + self
            .referrers(g)
            .into_iter()
            .map(|r| self.longest_to(r, depth + 1))
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::{BridgePort, OFPPC_PORT_DOWN};
    use crate::config::VlanMode;
    use crate::meter::MeterTable;
    use crate::port::mock::{MockHandle, MockPort};
    use flowtable::pipeline::Pipeline;

    /// A view with ports 1..=n (all up) and `groups`, plus the ports' link handles.
    fn view(n: u32, groups: Vec<Group>) -> (BridgeView, Vec<MockHandle>) {
        let mut ports = Vec::new();
        let mut handles = Vec::new();
        for i in 1..=n {
            let (p, h) = MockPort::new(&format!("p{i}"));
            ports.push(BridgePort {
                name: format!("p{i}"),
                ofport: i,
                gidx: i as usize - 1,
                vlan: VlanMode::None,
                port: Arc::new(p),
                config: 0,
                policer: None,
            });
            handles.push(h);
        }
        let mut table = GroupTable::default();
        for g in groups {
            table.insert(Arc::new(g));
        }
        let v = BridgeView {
            by_ofport: ports
                .iter()
                .enumerate()
                .map(|(i, p)| (p.ofport, i))
                .collect(),
            ports,
            pipeline: Arc::new(Pipeline::default()),
            groups: Arc::new(table),
            meters: Arc::new(MeterTable::default()),
        };
        (v, handles)
    }

    fn out(port: u32) -> GroupBucket {
        GroupBucket::new(1, OFPP_ANY, OFPG_ANY, vec![Action::output(port)])
    }

    fn weighted(port: u32, weight: u16) -> GroupBucket {
        GroupBucket::new(weight, OFPP_ANY, OFPG_ANY, vec![Action::output(port)])
    }

    fn watching(port: u32, watch_port: u32, watch_group: u32) -> GroupBucket {
        GroupBucket::new(0, watch_port, watch_group, vec![Action::output(port)])
    }

    fn group(id: u32, kind: GroupKind, buckets: Vec<GroupBucket>) -> Group {
        Group::new(id, kind, buckets, Vec::new(), 0)
    }

    fn udp(sport: u16) -> FlowKey {
        FlowKey {
            eth_src: [2, 0, 0, 0, 0, 0xa],
            eth_dst: [2, 0, 0, 0, 0, 0xb],
            eth_type: 0x0800,
            ip_proto: 17,
            ipv4_src: 0x0a00_0001,
            ipv4_dst: 0x0a00_0002,
            tp_src: sport,
            tp_dst: 80,
            ..FlowKey::default()
        }
    }

    fn pick(g: &Group, v: &BridgeView, k: &FlowKey) -> Vec<usize> {
        let mut o = Vec::new();
        g.choose(v, k, &mut o);
        o
    }

    fn one(g: &Group, v: &BridgeView, k: &FlowKey) -> usize {
        let o = pick(g, v, k);
        assert_eq!(o.len(), 1, "{o:?}");
        o[0]
    }

    #[test]
    fn all_indirect_and_empty_groups() {
        let (v, _) = view(3, vec![]);
        let all = group(1, GroupKind::All, vec![out(1), out(2), out(3)]);
        assert_eq!(pick(&all, &v, &udp(1)), vec![0, 1, 2]);
        let ind = group(2, GroupKind::Indirect, vec![out(2)]);
        assert_eq!(pick(&ind, &v, &udp(1)), vec![0]);
        for kind in [GroupKind::All, GroupKind::Select, GroupKind::FastFailover] {
            let empty = group(3, kind, vec![]);
            assert!(pick(&empty, &v, &udp(1)).is_empty(), "{kind:?}");
            assert!(!empty.is_live(&v));
        }
        assert!(all.is_live(&v) && ind.is_live(&v));
    }

    #[test]
    fn select_is_stable_and_spreads() {
        let (v, _) = view(3, vec![]);
        let g = group(1, GroupKind::Select, vec![out(1), out(2), out(3)]);
        let mut count = [0usize; 3];
        for sport in 0..3000u16 {
            let k = udp(sport);
            let b = one(&g, &v, &k);
            assert_eq!(one(&g, &v, &k), b, "same key, same bucket");
            count[b] += 1;
        }
        for c in count {
            assert!((800..1200).contains(&c), "{count:?}");
        }
        // Fields outside the hash do not move a flow.
        let mut k = udp(7);
        let b = one(&g, &v, &k);
        k.in_port = 9;
        k.ip_ttl = 3;
        k.metadata = 77;
        assert_eq!(one(&g, &v, &k), b);
    }

    #[test]
    fn select_follows_weights_and_skips_zero() {
        let (v, _) = view(3, vec![]);
        let g = group(
            1,
            GroupKind::Select,
            vec![weighted(1, 1), weighted(2, 3), weighted(3, 0)],
        );
        let mut count = [0usize; 3];
        for sport in 0..4000u16 {
            count[one(&g, &v, &udp(sport))] += 1;
        }
        assert_eq!(count[2], 0, "weight 0 is never chosen");
        assert!((800..1200).contains(&count[0]), "{count:?}");
        assert!((2800..3200).contains(&count[1]), "{count:?}");
        let zero = group(2, GroupKind::Select, vec![weighted(1, 0)]);
        assert!(pick(&zero, &v, &udp(1)).is_empty());
        assert!(!zero.is_live(&v));
    }

    #[test]
    fn select_dead_bucket_moves_only_its_flows() {
        let (mut v, _) = view(3, vec![]);
        let b = |p| GroupBucket::new(1, p, OFPG_ANY, vec![Action::output(p)]);
        let g = group(1, GroupKind::Select, vec![b(1), b(2), b(3)]);
        let before: Vec<usize> = (0..600).map(|s| one(&g, &v, &udp(s))).collect();
        v.ports[1].config = OFPPC_PORT_DOWN;
        let mut moved = 0;
        for (s, was) in before.iter().enumerate() {
            let now = one(&g, &v, &udp(s as u16));
            assert_ne!(now, 1, "the dead bucket is not chosen");
            if *was != 1 {
                assert_eq!(now, *was, "a flow on a live bucket stays");
            } else {
                moved += 1;
            }
        }
        assert!(moved > 100, "{moved}");
        // Removing a bucket by a modify keeps the others' flows too (identity is not position).
        let smaller = group(1, GroupKind::Select, vec![b(3), b(1)]);
        v.ports[1].config = 0;
        for (s, was) in before.iter().enumerate() {
            let now = one(&smaller, &v, &udp(s as u16));
            match was {
                0 => assert_eq!(now, 1),
                2 => assert_eq!(now, 0),
                _ => {}
            }
        }
    }

    #[test]
    fn fast_failover_takes_the_first_live_bucket() {
        let (mut v, links) = view(3, vec![]);
        let g = group(
            1,
            GroupKind::FastFailover,
            vec![watching(2, 2, OFPG_ANY), watching(3, 3, OFPG_ANY)],
        );
        assert_eq!(pick(&g, &v, &udp(1)), vec![0]);
        links[1].set_link(false);
        assert_eq!(pick(&g, &v, &udp(1)), vec![1]);
        links[2].set_link(false);
        assert!(pick(&g, &v, &udp(1)).is_empty());
        assert!(!g.is_live(&v));
        links[1].set_link(true);
        assert_eq!(pick(&g, &v, &udp(1)), vec![0]);
        v.ports[1].config = OFPPC_PORT_DOWN;
        assert!(pick(&g, &v, &udp(1)).is_empty(), "PORT_DOWN is not live");
        // A port the bridge lacks is never live.
        let ghost = group(2, GroupKind::FastFailover, vec![watching(9, 9, OFPG_ANY)]);
        assert!(pick(&ghost, &v, &udp(1)).is_empty());
    }

    #[test]
    fn watched_groups_gate_buckets() {
        let inner = group(10, GroupKind::FastFailover, vec![watching(2, 2, OFPG_ANY)]);
        let outer = group(
            1,
            GroupKind::FastFailover,
            vec![
                GroupBucket::new(0, OFPP_ANY, 10, vec![Action::Group(10)]),
                watching(3, 3, OFPG_ANY),
            ],
        );
        let (v, links) = view(3, vec![inner]);
        assert_eq!(pick(&outer, &v, &udp(1)), vec![0]);
        links[1].set_link(false);
        assert_eq!(pick(&outer, &v, &udp(1)), vec![1], "group 10 is dead");
        // A watch loop is cut, not followed forever: both are dead.
        let a = group(20, GroupKind::FastFailover, vec![watching(1, OFPP_ANY, 21)]);
        let b = group(21, GroupKind::FastFailover, vec![watching(1, OFPP_ANY, 20)]);
        let (v, _) = view(1, vec![a, b]);
        assert!(!v.groups.get(20).expect("20").is_live(&v));
    }

    #[test]
    fn chains_refuse_loops_and_depth() {
        let fwd = |id, to: u32| {
            group(
                id,
                GroupKind::Indirect,
                vec![GroupBucket::new(
                    0,
                    OFPP_ANY,
                    OFPG_ANY,
                    vec![Action::Group(to)],
                )],
            )
        };
        let mut t = GroupTable::default();
        t.insert(Arc::new(group(1, GroupKind::All, vec![out(1)])));
        for id in 2..=8 {
            t.insert(Arc::new(fwd(id, id - 1)));
            assert_eq!(t.check_chains(id), Ok(()), "{id}");
        }
        t.insert(Arc::new(fwd(9, 8)));
        assert_eq!(t.check_chains(9), Err(ChainError::TooDeep));
        t.remove(9);
        // Group 1 modified to forward to 5: 1 -> 5 -> 4 -> 3 -> 2 -> 1.
        t.insert(Arc::new(fwd(1, 5)));
        assert_eq!(t.check_chains(1), Err(ChainError::Loop));
        t.insert(Arc::new(fwd(1, 1)));
        assert_eq!(t.check_chains(1), Err(ChainError::Loop));
        // A modify in the middle counts the chain on both sides.
        t.insert(Arc::new(group(1, GroupKind::All, vec![out(1)])));
        assert_eq!(t.check_chains(4), Ok(()));
        assert_eq!(t.referrers(4), vec![5]);
        t.insert(Arc::new(group(
            4,
            GroupKind::All,
            vec![
                GroupBucket::new(0, OFPP_ANY, OFPG_ANY, vec![Action::Group(3)]),
                out(2),
            ],
        )));
        assert_eq!(t.check_chains(4), Ok(()));
    }
}
