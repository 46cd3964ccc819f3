//! Wildcard classifier (PLACEHOLDER: a linear scan with the final API; to be replaced by
//! tuple-space search over mask subtables).

use crate::key::FlowKey;

/// Identifies a rule inside one classifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u64);

struct Entry<T> {
    id: RuleId,
    value: FlowKey,
    mask: FlowKey,
    priority: u16,
    data: T,
}

/// Priority classifier over masked flow keys.
pub struct Classifier<T> {
    entries: Vec<Entry<T>>,
    next_id: u64,
}

impl<T> Default for Classifier<T> {
    fn default() -> Self {
        Classifier {
            entries: Vec::new(),
            next_id: 1,
        }
    }
}

impl<T: Clone> Clone for Classifier<T> {
    fn clone(&self) -> Self {
        Classifier {
            entries: self
                .entries
                .iter()
                .map(|e| Entry {
                    id: e.id,
                    value: e.value,
                    mask: e.mask,
                    priority: e.priority,
                    data: e.data.clone(),
                })
                .collect(),
            next_id: self.next_id,
        }
    }
}

impl<T> Classifier<T> {
    /// An empty classifier.
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert a rule. `value` is masked by `mask` here. Several rules may share a (match,
    /// priority); among equal priorities the lookup result is unspecified (OpenFlow says so).
    pub fn insert(&mut self, value: FlowKey, mask: FlowKey, priority: u16, data: T) -> RuleId {
        let id = RuleId(self.next_id);
        self.next_id += 1;
        self.entries.push(Entry {
            id,
            value: value.masked(&mask),
            mask,
            priority,
            data,
        });
        id
    }

    /// Remove a rule.
    pub fn remove(&mut self, id: RuleId) -> Option<T> {
        let pos = self.entries.iter().position(|e| e.id == id)?;
        Some(self.entries.swap_remove(pos).data)
    }

    /// Highest-priority rule matching `key`.
    pub fn lookup(&self, key: &FlowKey) -> Option<(RuleId, &T)> {
        self.entries
            .iter()
            .filter(|e| key.matches(&e.value, &e.mask))
            .max_by_key(|e| e.priority)
            .map(|e| (e.id, &e.data))
    }

    /// The data of a rule.
    pub fn get(&self, id: RuleId) -> Option<&T> {
        self.entries.iter().find(|e| e.id == id).map(|e| &e.data)
    }

    /// Mutable data of a rule.
    pub fn get_mut(&mut self, id: RuleId) -> Option<&mut T> {
        self.entries
            .iter_mut()
            .find(|e| e.id == id)
            .map(|e| &mut e.data)
    }

    /// All rules: (id, value, mask, priority, data), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (RuleId, &FlowKey, &FlowKey, u16, &T)> {
        self.entries
            .iter()
            .map(|e| (e.id, &e.value, &e.mask, e.priority, &e.data))
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of distinct masks (subtables).
    pub fn subtables(&self) -> usize {
        let mut masks: Vec<&FlowKey> = self.entries.iter().map(|e| &e.mask).collect();
        masks.sort_by(|a, b| a.words().cmp(b.words()));
        masks.dedup();
        masks.len()
    }

    /// Re-sort subtables by hit count (no-op placeholder).
    pub fn rerank(&mut self) {}
}
