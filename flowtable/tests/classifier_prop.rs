//! The classifier against a brute-force reference: random rules over a small pool of overlapping
//! masks, random inserts, removes and reranks, and after every step each probe key must get a rule
//! of the highest matching priority (ties may resolve to any of the tied rules).

use flowtable::classifier::{Classifier, RuleId};
use flowtable::key::FlowKey;
use proptest::prelude::*;

fn ip_key(dst: u32, tp_dst: u16) -> FlowKey {
    FlowKey {
        eth_type: 0x0800,
        ip_proto: 6,
        ipv4_dst: dst,
        tp_dst,
        ..FlowKey::default()
    }
}

fn prefix_mask(len: u32) -> FlowKey {
    FlowKey {
        ipv4_dst: if len == 0 { 0 } else { u32::MAX << (32 - len) },
        ..FlowKey::default()
    }
}

/// Masks drawn from a small pool so that rules share subtables and overlap a lot.
fn mask_pool() -> Vec<FlowKey> {
    let mut pool = vec![FlowKey::default()];
    for len in [8, 16, 24, 32] {
        pool.push(prefix_mask(len));
    }
    let mut m = FlowKey {
        tp_dst: 0xffff,
        ..FlowKey::default()
    };
    pool.push(m);
    m.ipv4_dst = 0xffff_ff00;
    pool.push(m);
    pool.push(FlowKey {
        in_port: u32::MAX,
        eth_type: 0xffff,
        ..FlowKey::default()
    });
    pool
}

fn arb_key() -> impl Strategy<Value = FlowKey> {
    (0u32..3, 0u32..4, 0u32..3, 0u16..3, 1u32..3, prop::bool::ANY).prop_map(
        |(a, b, c, port, in_port, v6)| {
            let mut k = ip_key(
                0x0a00_0000 | (a << 16) | (b << 8) | c,
                [22, 80, 443][port as usize],
            );
            k.in_port = in_port;
            if v6 {
                k.eth_type = 0x86dd;
            }
            k
        },
    )
}

#[derive(Debug, Clone)]
enum Op {
    Insert(FlowKey, usize, u16),
    Remove(usize),
    Rerank,
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (arb_key(), 0..8usize, 0u16..12).prop_map(|(k, m, p)| Op::Insert(k, m, p)),
        2 => (0..64usize).prop_map(Op::Remove),
        1 => Just(Op::Rerank),
    ]
}

proptest! {
    #[test]
    fn matches_linear_scan(ops in prop::collection::vec(arb_op(), 1..80),
                           keys in prop::collection::vec(arb_key(), 1..40)) {
        let pool = mask_pool();
        let mut c = Classifier::new();
        let mut model: Vec<(RuleId, FlowKey, FlowKey, u16)> = Vec::new();
        for op in ops {
            match op {
                Op::Insert(k, m, p) => {
                    let id = c.insert(k, pool[m], p, p);
                    model.push((id, k.masked(&pool[m]), pool[m], p));
                }
                Op::Remove(i) if !model.is_empty() => {
                    let (id, _, _, p) = model.remove(i % model.len());
                    prop_assert_eq!(c.remove(id), Some(p));
                }
                Op::Remove(_) => {}
                Op::Rerank => c.rerank(),
            }
            for k in &keys {
                let want = model.iter().filter(|r| k.matches(&r.1, &r.2)).map(|r| r.3).max();
                let got = c.lookup(k);
                prop_assert_eq!(got.map(|g| *g.1), want);
                if let Some((id, _)) = got {
                    let rule = model.iter().find(|r| r.0 == id);
                    prop_assert!(rule.is_some_and(|r| k.matches(&r.1, &r.2)));
                }
            }
        }
        prop_assert_eq!(c.len(), model.len());
        let mut masks: Vec<_> = model.iter().map(|r| r.2).collect();
        masks.sort_by(|a, b| a.words().cmp(b.words()));
        masks.dedup();
        prop_assert_eq!(c.subtables(), masks.len());
        prop_assert_eq!(c.iter().count(), model.len());
    }
}
