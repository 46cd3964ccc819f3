//! The pipeline's read mask (`PipelineResult::wc`) against the pipeline itself: random two-table
//! rule sets over a few overlapping fields, with set-field, dec_ttl, MPLS and write-metadata
//! steps between the tables; for each probe key, any other key that agrees with it on the bits
//! the walk read must take exactly the same walk (same rules, same actions, same miss). That is
//! the property the megaflow tier relies on when it caches one walk for all of those keys.

use flowtable::action::{Action, Instructions};
use flowtable::field::Field;
use flowtable::key::FlowKey;
use flowtable::matches::Match;
use flowtable::pipeline::{FlowEntry, Pipeline};
use proptest::prelude::*;
use std::sync::Arc;

#[derive(Clone, Debug)]
struct RuleSpec {
    table: u8,
    priority: u16,
    fields: Vec<(usize, u8)>,
    action: u8,
    goto: bool,
}

/// (field, value domain, masks to draw from).
fn field_of(i: usize) -> (Field, [u128; 3], [u128; 2]) {
    match i % 6 {
        0 => (
            Field::InPort,
            [1, 2, 3],
            [u32::MAX as u128, u32::MAX as u128],
        ),
        1 => (Field::EthType, [0x0800, 0x86dd, 0x8847], [0xffff, 0xffff]),
        2 => (
            Field::Ipv4Dst,
            [0x0a00_0001, 0x0a00_0102, 0x0b00_0001],
            [0xffff_ffff, 0xffff_ff00],
        ),
        3 => (Field::TcpDst, [22, 80, 443], [0xffff, 0xff00]),
        4 => (Field::IpTtl, [1, 2, 64], [0xff, 0xff]),
        _ => (Field::Metadata, [0, 5, 6], [u64::MAX as u128, 0x4]),
    }
}

fn arb_rule() -> impl Strategy<Value = RuleSpec> {
    (
        0u8..2,
        0u16..4,
        prop::collection::vec((0usize..6, 0u8..6), 0..3),
        0u8..7,
        prop::bool::ANY,
    )
        .prop_map(|(table, priority, fields, action, goto)| RuleSpec {
            table,
            priority,
            fields,
            action,
            goto,
        })
}

fn build(specs: &[RuleSpec]) -> Pipeline {
    let mut p = Pipeline::with_tables(2);
    for s in specs {
        let mut m = Match::new();
        let mut seen = Vec::new();
        for &(f, v) in &s.fields {
            let (field, vals, masks) = field_of(f);
            if seen.contains(&(f % 6)) {
                continue;
            }
            seen.push(f % 6);
            let mask = masks[usize::from(v / 3)];
            m = m.masked(field, vals[usize::from(v % 3)] & mask, mask);
        }
        // Prerequisites: TCP ports need TCP over IP, TTL needs IP.
        let names: Vec<Field> = m.fields().iter().map(|f| f.field).collect();
        if names.contains(&Field::TcpDst)
            || names.contains(&Field::IpTtl)
            || names.contains(&Field::Ipv4Dst)
        {
            if !names.contains(&Field::EthType) {
                m = m.exact(Field::EthType, 0x0800);
            }
            if names.contains(&Field::TcpDst) {
                m = m.exact(Field::IpProto, 6);
            }
        }
        let action = match s.action {
            0 => Action::output(2),
            1 => Action::SetField(Field::Ipv4Dst, 0x0a00_0102),
            2 => Action::DecTtl,
            3 => Action::PopMpls(0x0800),
            4 => Action::PushMpls(0x8847),
            5 => Action::SetField(Field::TcpDst, 80),
            _ => Action::output(3),
        };
        let mut ins = Instructions::apply(vec![action]);
        if s.goto && s.table == 0 {
            ins.goto = Some(1);
            ins.write_metadata = Some((5, 0xf));
        }
        let _ = p.add(FlowEntry::new(s.table, s.priority, m, ins, 0));
    }
    p
}

fn arb_key() -> impl Strategy<Value = FlowKey> {
    (
        0usize..3,
        0usize..3,
        0usize..3,
        0usize..3,
        0usize..3,
        0u8..2,
    )
        .prop_map(|(ip, et, dst, tp, ttl, proto)| FlowKey {
            in_port: [1, 2, 3][ip],
            eth_type: [0x0800, 0x86dd, 0x8847][et],
            ipv4_dst: [0x0a00_0001, 0x0a00_0102, 0x0b00_0001][dst],
            tp_dst: [22, 80, 443][tp],
            ip_ttl: [1, 2, 64][ttl],
            ip_proto: [6, 17][usize::from(proto)],
            mpls_lse: 0x1_0140,
            ..FlowKey::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn keys_equal_under_the_read_mask_take_the_same_walk(
        rules in prop::collection::vec(arb_rule(), 0..12),
        probes in prop::collection::vec((arb_key(), arb_key()), 1..8),
    ) {
        let p = build(&rules);
        for (k, other) in probes {
            let a = p.lookup(&k, 64, 1, None);
            let k2 = k.blend(&other, &a.wc);
            let b = p.lookup(&k2, 64, 1, None);
            prop_assert_eq!(&a.actions, &b.actions, "key {:?} vs {:?} (wc {:?})", k, k2, a.wc);
            prop_assert_eq!(a.miss_drop, b.miss_drop);
            prop_assert_eq!(&a.meters, &b.meters);
            prop_assert_eq!(a.rules.len(), b.rules.len());
            for (x, y) in a.rules.iter().zip(&b.rules) {
                prop_assert!(Arc::ptr_eq(x, y), "same rules");
            }
            prop_assert_eq!(a.wc, b.wc, "the same walk reads the same bits");
        }
    }
}

/// One step against the megaflow cache and its reference model.
#[derive(Clone, Debug)]
enum Op {
    Insert {
        key: FlowKey,
        mask: usize,
        value: u32,
    },
    NextGeneration,
    Sweep {
        budget: usize,
    },
    Probe(FlowKey),
}

fn masks() -> [FlowKey; 3] {
    let dst = FlowKey {
        ipv4_dst: u32::MAX,
        ..FlowKey::default()
    };
    let port_dst = FlowKey {
        in_port: u32::MAX,
        ipv4_dst: 0xffff_ff00,
        tp_dst: u16::MAX,
        ..FlowKey::default()
    };
    [dst, port_dst, FlowKey::all_ones()]
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (arb_key(), 0usize..3, 0u32..1000).prop_map(|(key, mask, value)| Op::Insert { key, mask, value }),
        1 => Just(Op::NextGeneration),
        1 => (1usize..8).prop_map(|budget| Op::Sweep { budget }),
        4 => arb_key().prop_map(Op::Probe),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn the_megaflow_cache_agrees_with_a_list_of_entries(ops in prop::collection::vec(arb_op(), 1..120)) {
        use flowtable::megaflow::{Found, Megaflows};
        let mut m = Megaflows::new(1 << 20);
        // (mask index, masked key, generation, value)
        let mut model: Vec<(usize, FlowKey, u64, u32)> = Vec::new();
        let mut gen = 1u64;
        let ms = masks();
        for op in ops {
            match op {
                Op::Insert { key, mask, value } => {
                    m.insert(&key, &ms[mask], gen, value).expect("room");
                    let masked = key.masked(&ms[mask]);
                    match model.iter_mut().find(|e| e.0 == mask && e.1 == masked) {
                        Some(e) => { e.2 = gen; e.3 = value; }
                        None => model.push((mask, masked, gen, value)),
                    }
                }
                Op::NextGeneration => gen += 1,
                Op::Sweep { budget } => {
                    let mut calls = 0;
                    while !m.sweep_step(gen, budget) {
                        calls += 1;
                        prop_assert!(calls < 10_000);
                    }
                    model.retain(|e| e.2 == gen);
                }
                Op::Probe(key) => {
                    let under: Vec<_> = model.iter().filter(|e| key.masked(&ms[e.0]) == e.1).collect();
                    match m.find(&key, gen) {
                        Found::Hit(v) => prop_assert!(under.iter().any(|e| e.2 == gen && e.3 == v)),
                        Found::Stale => {
                            prop_assert!(!under.is_empty());
                            prop_assert!(under.iter().all(|e| e.2 != gen));
                        }
                        Found::Miss => prop_assert!(under.is_empty()),
                    }
                }
            }
            prop_assert_eq!(m.len(), model.len());
        }
        // Every entry the model holds is still found (nothing lost by index deletions).
        for e in &model {
            let v = m.iter().find(|x| x.1 == ms[e.0] && x.0 == e.1).map(|x| (x.2, x.3));
            prop_assert_eq!(v, Some((e.2, e.3)));
            prop_assert!(!matches!(m.find(&e.1, gen), Found::Miss), "a held entry was not found");
        }
    }
}
