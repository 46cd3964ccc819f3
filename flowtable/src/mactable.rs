//! The MAC learning table behind the NORMAL action: one per bridge, keyed by (VLAN, MAC).
//!
//! Entries are `Arc<MacEntry>` whose `last_seen` is an atomic: a datapath cache that forwarded a
//! packet by a learned entry can refresh it on a cache hit without touching the table (no lock,
//! no hash lookup), and aging still sees the packet. What a cache must never miss is a *change*
//! of forwarding: a new address, a move to another port, an expiry or a flush. Those bump
//! [`MacTable::generation`] (a refresh does not), and a move installs a new `Arc` so that a stale
//! cache entry keeps refreshing an orphan rather than the live entry.
//!
//! Time is passed in as nanoseconds by the caller (the datapath's clock, or a fake clock in tests),
//! so aging is deterministic. Expired entries are invisible to [`MacTable::lookup`] even before
//! [`MacTable::expire`] sweeps them. Per-port learned counts back per-port limits (a VM spraying
//! source MACs cannot fill the table) and stay exact across moves, expiry and flushes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const NS_PER_SEC: u64 = 1_000_000_000;

/// A learned address: the port it was last seen on, and when.
#[derive(Debug)]
pub struct MacEntry {
    /// Port the address lives behind.
    pub port: u32,
    /// Last time a frame from the address was seen (ns).
    pub last_seen: AtomicU64,
    /// When the address moved to `port` (0 = learned fresh, never moved).
    pub moved_at_ns: u64,
}

impl MacEntry {
    /// Record a frame seen at `now_ns` (lock-free; never moves time backwards).
    #[inline]
    pub fn touch(&self, now_ns: u64) {
        if self.last_seen.load(Ordering::Relaxed) < now_ns {
            self.last_seen.store(now_ns, Ordering::Relaxed);
        }
    }

    fn seen(&self) -> u64 {
        self.last_seen.load(Ordering::Relaxed)
    }
}

/// Result of [`MacTable::learn`].
#[derive(Debug, Clone)]
pub enum Learn {
    /// The address was not known (or had expired).
    New(Arc<MacEntry>),
    /// Known on the same port; `last_seen` updated.
    Refreshed(Arc<MacEntry>),
    /// Known on another port: moved.
    Moved {
        /// The previous port.
        from: u32,
        /// The new entry.
        entry: Arc<MacEntry>,
    },
    /// Not learned: the port is at its limit.
    LimitReached,
    /// Not learned: multicast, broadcast or all-zero source address.
    NotUnicast,
    /// Not moved: the address already moved less than [`MOVE_HOLDDOWN_NS`] ago. Frames from two
    /// ports with one source address (a loop, or a misbehaving VM) would otherwise move it back
    /// and forth on every frame, and every move invalidates the bridge's caches.
    Flapping {
        /// The port the entry stays on.
        stays: u32,
    },
}

/// Minimum time between two moves of one address.
pub const MOVE_HOLDDOWN_NS: u64 = 1_000_000_000;

/// One entry as shown by `fdb/show`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MacInfo {
    /// VLAN (0 = untagged/native).
    pub vlan: u16,
    /// Address.
    pub mac: [u8; 6],
    /// Port.
    pub port: u32,
    /// Seconds since last seen.
    pub age_secs: u64,
}

/// MAC learning table of one bridge.
#[derive(Debug)]
pub struct MacTable {
    entries: HashMap<(u16, [u8; 6]), Arc<MacEntry>>,
    per_port: HashMap<u32, usize>,
    limits: HashMap<u32, usize>,
    default_limit: usize,
    aging_ns: u64,
    generation: u64,
    moves: u64,
    flaps: u64,
    /// The earliest moment an address held by the hold-down may move again (see
    /// [`MacTable::hold_ended`]).
    hold_ends_ns: Option<u64>,
    /// Unicast destinations NORMAL flooded because they were unknown, since the last
    /// generation change (see [`MacTable::note_unknown`]).
    unknown: HashSet<(u16, [u8; 6])>,
    /// `unknown` outgrew [`UNKNOWN_MAX`]: every new address counts as a change.
    unknown_overflow: bool,
}

/// Most unknown destinations remembered between two generation changes.
pub const UNKNOWN_MAX: usize = 65_536;

impl MacTable {
    /// Moves accepted so far.
    pub fn moves(&self) -> u64 {
        self.moves
    }

    /// Moves refused by the hold-down (flapping addresses) so far.
    pub fn flaps(&self) -> u64 {
        self.flaps
    }

    /// A table aging entries after `aging_secs` (0 = never) with at most `default_port_limit`
    /// addresses per port (0 = unlimited).
    pub fn new(aging_secs: u64, default_port_limit: usize) -> MacTable {
        MacTable {
            entries: HashMap::new(),
            per_port: HashMap::new(),
            limits: HashMap::new(),
            default_limit: default_port_limit,
            aging_ns: aging_secs.saturating_mul(NS_PER_SEC),
            generation: 0,
            unknown: HashSet::new(),
            unknown_overflow: false,
            moves: 0,
            flaps: 0,
            hold_ends_ns: None,
        }
    }

    /// True once, when the hold-down of an address that was held has ended (`now_ns` past it).
    /// A datapath that cached the decisions it made while an address was held must drop them
    /// then, so that the address's next frame learns it where it is now: the caller invalidates
    /// its caches. A decision made under the hold-down is cached like any other (a flapping
    /// address must not turn every frame into a slow-path lookup); this is what stops it from
    /// living on after the hold-down.
    pub fn hold_ended(&mut self, now_ns: u64) -> bool {
        match self.hold_ends_ns {
            Some(t) if now_ns >= t => {
                self.hold_ends_ns = None;
                true
            }
            _ => false,
        }
    }

    /// Say that forwarding changed: every decision derived from the table is invalid. The
    /// unknown-destination record restarts with the caches.
    fn changed(&mut self) {
        self.generation += 1;
        self.unknown.clear();
        self.unknown_overflow = false;
    }

    /// Record that NORMAL flooded a frame for `mac` on `vlan` because no entry was found. A
    /// cached decision depends on a new address only through such a flood, so learning an
    /// address is a change (bumps the generation) only when it was recorded here since the
    /// last change: a guest that sprays new source addresses no one sends to does not
    /// invalidate every cached flow of the bridge with each one.
    pub fn note_unknown(&mut self, vlan: u16, mac: [u8; 6]) {
        if self.unknown_overflow {
            return;
        }
        if self.unknown.len() >= UNKNOWN_MAX {
            self.unknown.clear();
            self.unknown_overflow = true;
            return;
        }
        self.unknown.insert((vlan, mac));
    }

    /// Learning `key` anew changes what a cached decision would do.
    fn new_address_matters(&self, key: &(u16, [u8; 6])) -> bool {
        self.unknown_overflow || self.unknown.contains(key)
    }

    /// Change the aging time (takes effect on the next lookup/expire).
    pub fn set_aging(&mut self, aging_secs: u64) {
        self.aging_ns = aging_secs.saturating_mul(NS_PER_SEC);
        self.changed();
    }

    /// Aging time in seconds.
    pub fn aging_secs(&self) -> u64 {
        self.aging_ns / NS_PER_SEC
    }

    fn expired(&self, e: &MacEntry, now_ns: u64) -> bool {
        self.aging_ns != 0 && now_ns.saturating_sub(e.seen()) >= self.aging_ns
    }

    fn limit(&self, port: u32) -> usize {
        let l = self
            .limits
            .get(&port)
            .copied()
            .unwrap_or(self.default_limit);
        if l == 0 {
            usize::MAX
        } else {
            l
        }
    }

    fn dec_port(&mut self, port: u32) {
        if let Some(c) = self.per_port.get_mut(&port) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.per_port.remove(&port);
            }
        }
    }

    /// Learn that `mac` on `vlan` was seen on `port` at `now_ns`.
    pub fn learn(&mut self, vlan: u16, mac: [u8; 6], port: u32, now_ns: u64) -> Learn {
        if mac[0] & 1 != 0 || mac == [0; 6] {
            return Learn::NotUnicast;
        }
        let key = (vlan, mac);
        let old = self.entries.get(&key).cloned();
        if let Some(e) = &old {
            if e.port == port {
                let was_expired = self.expired(e, now_ns);
                e.touch(now_ns);
                if was_expired {
                    // It had vanished from lookups; its reappearance is a change if a cached
                    // decision flooded for it meanwhile.
                    if self.new_address_matters(&key) {
                        self.changed();
                    }
                    return Learn::New(Arc::clone(e));
                }
                return Learn::Refreshed(Arc::clone(e));
            }
        }
        let moving = old.as_ref().is_some_and(|o| !self.expired(o, now_ns));
        if let Some(o) = old.as_ref().filter(|_| moving) {
            if o.moved_at_ns != 0 && now_ns.saturating_sub(o.moved_at_ns) < MOVE_HOLDDOWN_NS {
                self.flaps += 1;
                let ends = o.moved_at_ns.saturating_add(MOVE_HOLDDOWN_NS);
                self.hold_ends_ns = Some(self.hold_ends_ns.map_or(ends, |e| e.min(ends)));
                return Learn::Flapping { stays: o.port };
            }
        }
        if self.per_port.get(&port).copied().unwrap_or(0) >= self.limit(port) {
            return Learn::LimitReached;
        }
        let entry = Arc::new(MacEntry {
            port,
            last_seen: AtomicU64::new(now_ns),
            moved_at_ns: if moving { now_ns.max(1) } else { 0 },
        });
        if moving {
            self.moves += 1;
        }
        self.entries.insert(key, Arc::clone(&entry));
        *self.per_port.entry(port).or_insert(0) += 1;
        // A move changes decisions that forward to the old port; a new address only those
        // that flooded for it.
        if moving || self.new_address_matters(&key) {
            self.changed();
        }
        match old {
            Some(o) => {
                self.dec_port(o.port);
                if self.expired(&o, now_ns) {
                    Learn::New(entry)
                } else {
                    Learn::Moved {
                        from: o.port,
                        entry,
                    }
                }
            }
            None => Learn::New(entry),
        }
    }

    /// The port `mac` on `vlan` lives behind, if known and not expired.
    pub fn lookup(&self, vlan: u16, mac: [u8; 6], now_ns: u64) -> Option<u32> {
        self.lookup_entry(vlan, mac, now_ns).map(|e| e.port)
    }

    /// The live entry for `mac` on `vlan` (for caches that refresh it later).
    pub fn lookup_entry(&self, vlan: u16, mac: [u8; 6], now_ns: u64) -> Option<&Arc<MacEntry>> {
        self.entries
            .get(&(vlan, mac))
            .filter(|e| !self.expired(e, now_ns))
    }

    fn remove_where(&mut self, mut dead: impl FnMut(&(u16, [u8; 6]), &MacEntry) -> bool) -> usize {
        let victims: Vec<((u16, [u8; 6]), u32)> = self
            .entries
            .iter()
            .filter(|(k, e)| dead(k, e))
            .map(|(k, e)| (*k, e.port))
            .collect();
        for (k, port) in &victims {
            self.entries.remove(k);
            self.dec_port(*port);
        }
        if !victims.is_empty() {
            self.changed();
        }
        victims.len()
    }

    /// Remove entries not seen for the aging time; returns how many.
    pub fn expire(&mut self, now_ns: u64) -> usize {
        if self.aging_ns == 0 {
            return 0;
        }
        let aging = self.aging_ns;
        self.remove_where(|_, e| now_ns.saturating_sub(e.seen()) >= aging)
    }

    /// Forget every address learned on `port` (port deleted, link down, VLAN change).
    pub fn flush_port(&mut self, port: u32) -> usize {
        self.remove_where(|_, e| e.port == port)
    }

    /// Forget every address on `vlan`.
    pub fn flush_vlan(&mut self, vlan: u16) -> usize {
        self.remove_where(|k, _| k.0 == vlan)
    }

    /// Forget everything.
    pub fn flush_all(&mut self) -> usize {
        let n = self.entries.len();
        self.entries.clear();
        self.per_port.clear();
        if n != 0 {
            self.changed();
        }
        n
    }

    /// Change the limit of ports without one of their own (0 = unlimited). Existing entries
    /// above a lowered limit stay until they age out.
    pub fn set_default_limit(&mut self, limit: usize) {
        self.default_limit = limit;
    }

    /// Set `port`'s limit (`Some(0)` = unlimited), or return it to the default (`None`).
    /// Existing entries above a lowered limit stay until they age out.
    pub fn set_port_limit(&mut self, port: u32, limit: Option<usize>) {
        match limit {
            Some(l) => self.limits.insert(port, l),
            None => self.limits.remove(&port),
        };
    }

    /// Addresses currently learned on `port` (including expired, not yet swept ones).
    pub fn port_count(&self, port: u32) -> usize {
        self.per_port.get(&port).copied().unwrap_or(0)
    }

    /// Live entries, sorted by port, VLAN, MAC.
    pub fn entries(&self, now_ns: u64) -> Vec<MacInfo> {
        let mut v: Vec<MacInfo> = self
            .entries
            .iter()
            .filter(|(_, e)| !self.expired(e, now_ns))
            .map(|(k, e)| MacInfo {
                vlan: k.0,
                mac: k.1,
                port: e.port,
                age_secs: now_ns.saturating_sub(e.seen()) / NS_PER_SEC,
            })
            .collect();
        v.sort_by_key(|e| (e.port, e.vlan, e.mac));
        v
    }

    /// Bumped when forwarding could change: new address, move, expiry, flush.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of stored entries (including expired, not yet swept ones).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no entry is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = NS_PER_SEC;
    const A: [u8; 6] = [0x02, 0, 0, 0, 0, 0xaa];
    const B: [u8; 6] = [0x02, 0, 0, 0, 0, 0xbb];

    #[test]
    fn learns_and_looks_up_per_vlan() {
        let mut t = MacTable::new(300, 0);
        assert!(matches!(t.learn(0, A, 1, 0), Learn::New(_)));
        assert!(matches!(t.learn(10, A, 2, 0), Learn::New(_)));
        assert_eq!(t.lookup(0, A, S), Some(1));
        assert_eq!(t.lookup(10, A, S), Some(2));
        assert_eq!(t.lookup(20, A, S), None);
        assert_eq!(t.len(), 2);
        assert_eq!(t.port_count(1), 1);
    }

    #[test]
    fn aging_with_fake_clock() {
        let mut t = MacTable::new(10, 0);
        t.learn(0, A, 1, 0);
        t.learn(0, B, 1, 5 * S);
        assert_eq!(t.lookup(0, A, 10 * S - 1), Some(1));
        assert_eq!(t.lookup(0, A, 10 * S), None, "expired entries are absent");
        // A refresh through the shared Arc (cache hit path) keeps B alive.
        t.lookup_entry(0, B, 10 * S).expect("B live").touch(14 * S);
        assert_eq!(t.expire(15 * S), 1);
        assert_eq!(t.lookup(0, B, 15 * S), Some(1));
        assert_eq!(t.port_count(1), 1);
        assert_eq!(t.expire(24 * S), 1);
        assert!(t.is_empty());
        assert_eq!(t.port_count(1), 0);
    }

    #[test]
    fn move_updates_counts_and_replaces_arc() {
        let mut t = MacTable::new(300, 0);
        let Learn::New(first) = t.learn(0, A, 1, 0) else {
            panic!("expected New")
        };
        match t.learn(0, A, 2, S) {
            Learn::Moved { from, entry } => {
                assert_eq!(from, 1);
                assert_eq!(entry.port, 2);
                assert!(!Arc::ptr_eq(&first, &entry));
            }
            other => panic!("expected Moved, got {other:?}"),
        }
        assert_eq!(t.port_count(1), 0);
        assert_eq!(t.port_count(2), 1);
        assert_eq!(t.lookup(0, A, S), Some(2));
    }

    #[test]
    fn port_limits() {
        let mut t = MacTable::new(300, 2);
        let mac = |i: u8| [0x02, 0, 0, 0, 1, i];
        assert!(matches!(t.learn(0, mac(1), 1, 0), Learn::New(_)));
        assert!(matches!(t.learn(0, mac(2), 1, 0), Learn::New(_)));
        assert!(matches!(t.learn(0, mac(3), 1, 0), Learn::LimitReached));
        // Refreshing a known address is not limited.
        assert!(matches!(t.learn(0, mac(1), 1, S), Learn::Refreshed(_)));
        t.set_port_limit(1, Some(3));
        assert!(matches!(t.learn(0, mac(3), 1, 0), Learn::New(_)));
        t.set_port_limit(7, Some(0));
        for i in 0..10 {
            assert!(matches!(t.learn(0, mac(100 + i), 7, 0), Learn::New(_)));
        }
        assert_eq!(t.port_count(7), 10);
        // Moving into a full port is refused and leaves the old entry in place.
        assert!(matches!(t.learn(0, mac(100), 1, 0), Learn::LimitReached));
        assert_eq!(t.lookup(0, mac(100), 0), Some(7));
    }

    #[test]
    fn generation_changes_on_changes_only() {
        let mut t = MacTable::new(10, 0);
        let g0 = t.generation();
        t.learn(0, B, 1, 0);
        assert_eq!(t.generation(), g0, "a new address nothing flooded for");
        t.note_unknown(0, A);
        t.learn(0, A, 1, 0);
        let g1 = t.generation();
        assert!(g1 > g0, "a new address a decision flooded for");
        t.learn(0, B, 1, 0);
        t.learn(0, A, 1, S);
        assert_eq!(t.generation(), g1, "refresh does not bump");
        t.learn(0, A, 2, S);
        let g2 = t.generation();
        assert!(g2 > g1, "move bumps");
        assert_eq!(t.expire(2 * S), 0);
        assert_eq!(t.generation(), g2, "empty sweep does not bump");
        assert_eq!(t.expire(11 * S), 2, "A and B");
        let g3 = t.generation();
        assert!(g3 > g2);
        t.learn(0, B, 3, 12 * S);
        assert_eq!(t.generation(), g3, "B, swept with A, comes back unnoticed");
        assert_eq!(t.flush_port(3), 1);
        assert!(t.generation() > g3);
        let g4 = t.generation();
        assert_eq!(t.flush_all(), 0);
        assert_eq!(t.generation(), g4);
    }

    #[test]
    fn the_unknown_record_restarts_with_each_change_and_overflows_to_all() {
        let mut t = MacTable::new(0, 0);
        let mac = |i: u32| {
            let mut m = [0x02, 0, 0, 0, 0, 0];
            m[2..].copy_from_slice(&i.to_be_bytes());
            m
        };
        t.note_unknown(0, A);
        t.learn(0, B, 1, 0);
        t.learn(0, B, 2, 1);
        let g = t.generation();
        t.learn(0, A, 1, 2);
        assert_eq!(
            t.generation(),
            g,
            "the move cleared the record (caches died with it)"
        );
        for i in 0..=UNKNOWN_MAX as u32 {
            t.note_unknown(1, mac(i));
        }
        t.learn(0, mac(u32::MAX), 1, 3);
        assert!(
            t.generation() > g,
            "past the bound every new address counts"
        );
    }

    #[test]
    fn expired_entry_relearned_is_new() {
        let mut t = MacTable::new(10, 0);
        t.learn(0, A, 1, 0);
        assert!(matches!(t.learn(0, A, 1, 20 * S), Learn::New(_)));
        assert!(matches!(t.learn(0, B, 1, 0), Learn::New(_)));
        assert!(matches!(t.learn(0, B, 2, 30 * S), Learn::New(_)));
        assert_eq!(t.port_count(1), 1);
        assert_eq!(t.port_count(2), 1);
    }

    #[test]
    fn multicast_and_broadcast_not_learned() {
        let mut t = MacTable::new(300, 0);
        assert!(matches!(
            t.learn(0, [0x01, 0, 0x5e, 0, 0, 1], 1, 0),
            Learn::NotUnicast
        ));
        assert!(matches!(t.learn(0, [0xff; 6], 1, 0), Learn::NotUnicast));
        assert!(matches!(t.learn(0, [0; 6], 1, 0), Learn::NotUnicast));
        assert!(t.is_empty());
        assert_eq!(t.generation(), 0);
    }

    #[test]
    fn flush_and_entries() {
        let mut t = MacTable::new(300, 0);
        t.learn(10, B, 2, 0);
        t.learn(10, A, 2, 0);
        t.learn(20, A, 1, 0);
        let e = t.entries(3 * S);
        assert_eq!(e.len(), 3);
        assert_eq!(
            (e[0].port, e[0].vlan, e[0].mac, e[0].age_secs),
            (1, 20, A, 3)
        );
        assert_eq!((e[1].port, e[1].mac), (2, A));
        assert_eq!((e[2].port, e[2].mac), (2, B));
        assert_eq!(t.flush_vlan(10), 2);
        assert_eq!(t.port_count(2), 0);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_flapping_address_is_held_on_its_port() {
        let mut t = MacTable::new(300, 0);
        let m = [2, 0, 0, 0, 0, 7];
        let s = 1_000_000_000u64;
        assert!(matches!(t.learn(1, m, 1, s), Learn::New(_)));
        // The first move is free (a migrated VM announcing itself).
        assert!(matches!(
            t.learn(1, m, 2, 2 * s),
            Learn::Moved { from: 1, .. }
        ));
        let g = t.generation();
        // Back within the hold-down: refused, nothing changes.
        assert!(matches!(
            t.learn(1, m, 1, 2 * s + 10),
            Learn::Flapping { stays: 2 }
        ));
        assert_eq!(t.generation(), g);
        assert_eq!(t.lookup(1, m, 2 * s + 20), Some(2));
        assert_eq!((t.moves(), t.flaps()), (1, 1));
        // The end of the hold-down is reported once (caches of held decisions must go then).
        assert!(!t.hold_ended(3 * s - 1));
        assert!(t.hold_ended(3 * s));
        assert!(!t.hold_ended(3 * s + 1));
        // After the hold-down it may move again.
        assert!(matches!(
            t.learn(1, m, 1, 3 * s + 20),
            Learn::Moved { from: 2, .. }
        ));
    }
}
