use super::*;
use crate::action::{Action, Instructions, OFPP_NORMAL};
use crate::field::Field;
use crate::key::{FlowKey, VLAN_PRESENT};

const S: u64 = 1_000_000_000;

fn ip_key(dst: u32) -> FlowKey {
    FlowKey {
        in_port: 1,
        eth_type: 0x0800,
        ip_proto: 6,
        ipv4_dst: dst,
        tp_dst: 80,
        ..FlowKey::default()
    }
}

fn ip() -> Match {
    Match::new().exact(Field::EthType, 0x0800)
}

fn out(p: u32) -> Instructions {
    Instructions::apply(vec![Action::output(p)])
}

fn entry(table: u8, prio: u16, m: Match, ins: Instructions) -> FlowEntry {
    FlowEntry::new(table, prio, m, ins, 0)
}

#[test]
fn highest_priority_wins_and_masks_apply() {
    let mut p = Pipeline::new();
    p.add(entry(0, 10, ip(), out(1))).expect("add");
    let net = ip().masked(Field::Ipv4Dst, 0x0a00_0000, 0xffff_ff00);
    p.add(entry(0, 20, net, out(2))).expect("add");
    p.add(entry(0, 5, Match::new(), out(3))).expect("add");
    assert_eq!(
        p.lookup(&ip_key(0x0a00_0007), 60, 1, None).actions,
        vec![Action::output(2)]
    );
    assert_eq!(
        p.lookup(&ip_key(0x0a00_0107), 60, 1, None).actions,
        vec![Action::output(1)]
    );
    let arp = FlowKey {
        eth_type: 0x0806,
        ..FlowKey::default()
    };
    assert_eq!(p.lookup(&arp, 60, 1, None).actions, vec![Action::output(3)]);
    assert_eq!(p.len(), 3);
}

#[test]
fn table_miss_drops_and_counts() {
    let mut p = Pipeline::new();
    p.add(entry(0, 10, ip(), out(1))).expect("add");
    let arp = FlowKey {
        eth_type: 0x0806,
        ..FlowKey::default()
    };
    let r = p.lookup(&arp, 60, 1, None);
    assert_eq!(r.miss_drop, Some(0));
    assert!(r.actions.is_empty());
    assert!(r.rules.is_empty());
    p.lookup(&ip_key(1), 60, 1, None);
    let st = p.table_stats();
    assert_eq!(st.len(), DEFAULT_TABLES);
    assert_eq!((st[0].active, st[0].lookups, st[0].matched), (1, 2, 1));
    assert_eq!(st[1].lookups, 0);
}

#[test]
fn goto_table_rewrites_key_and_keeps_applied_actions_on_miss() {
    let mut p = Pipeline::new();
    let ins = Instructions {
        apply: vec![
            Action::PushVlan(0x8100),
            Action::SetField(Field::VlanVid, u128::from(VLAN_PRESENT | 10)),
            Action::output(9),
        ],
        goto: Some(2),
        ..Instructions::default()
    };
    p.add(entry(0, 10, Match::new(), ins)).expect("add");
    let vlan10 = Match::new().exact(Field::VlanVid, u128::from(VLAN_PRESENT | 10));
    p.add(entry(2, 10, vlan10, out(5))).expect("add");
    let r = p.lookup(&ip_key(1), 60, 1, None);
    assert_eq!(r.miss_drop, None);
    assert_eq!(r.actions.len(), 4);
    assert_eq!(r.actions[3], Action::output(5));
    assert_eq!(r.final_key.vlan_vid(), Some(10));
    assert_eq!(r.rules.len(), 2);

    // Pop in a later table: table 2's rule pops and goes to 3, which is empty.
    let ins = Instructions {
        apply: vec![Action::PopVlan],
        goto: Some(3),
        ..Instructions::default()
    };
    let vlan10 = Match::new().exact(Field::VlanVid, u128::from(VLAN_PRESENT | 10));
    p.add(entry(2, 10, vlan10, ins)).expect("replace");
    let r = p.lookup(&ip_key(1), 60, 1, None);
    assert_eq!(r.miss_drop, Some(3));
    assert_eq!(r.final_key.vlan_tci, 0);
    // Apply-actions already executed stay (output:9 happened before the miss).
    assert!(r.actions.contains(&Action::output(9)));
}

#[test]
fn goto_must_go_forward() {
    let mut p = Pipeline::with_tables(64);
    let back = Instructions {
        goto: Some(1),
        ..Instructions::default()
    };
    assert_eq!(
        p.add(entry(1, 1, Match::new(), back)),
        Err(PipelineError::GotoBackward { from: 1, to: 1 })
    );
    let far = Instructions {
        goto: Some(64),
        ..Instructions::default()
    };
    assert_eq!(
        p.add(entry(0, 1, Match::new(), far)),
        Err(PipelineError::BadGotoTable(64))
    );
    assert_eq!(
        p.add(entry(64, 1, Match::new(), out(1))),
        Err(PipelineError::BadTable(64))
    );
    let bad = Match::new().exact(Field::TcpDst, 80);
    assert!(matches!(
        p.add(entry(0, 1, bad, out(1))),
        Err(PipelineError::BadMatch(_))
    ));
    assert_eq!(p.generation(), 0);
}

#[test]
fn write_actions_clear_actions_and_metadata() {
    let mut p = Pipeline::new();
    let t0 = Instructions {
        write: vec![Action::output(1), Action::SetField(Field::Reg(0), 1)],
        write_metadata: Some((0xab, 0xff)),
        goto: Some(1),
        ..Instructions::default()
    };
    p.add(entry(0, 1, Match::new(), t0)).expect("add");
    // Table 1 matches the metadata written by table 0 and replaces the output.
    let meta = Match::new().masked(Field::Metadata, 0xab, 0xff);
    let t1 = Instructions {
        write: vec![Action::output(2), Action::DecTtl],
        goto: Some(2),
        ..Instructions::default()
    };
    p.add(entry(1, 1, meta, t1)).expect("add");
    let t2 = Instructions {
        meter: Some(7),
        goto: Some(3),
        ..Instructions::default()
    };
    p.add(entry(2, 1, Match::new(), t2)).expect("add");
    p.add(entry(3, 1, Match::new(), Instructions::default()))
        .expect("add");
    let mut k = ip_key(1);
    k.ip_ttl = 64;
    let r = p.lookup(&k, 60, 1, None);
    // Action set in canonical order: dec_ttl, set_field, output (the later write replaced 1).
    assert_eq!(
        r.actions,
        vec![
            Action::DecTtl,
            Action::SetField(Field::Reg(0), 1),
            Action::output(2)
        ]
    );
    assert_eq!(r.meters, vec![(0, 7)]);
    assert_eq!(r.final_key.metadata, 0xab);
    assert_eq!(r.final_key.ip_ttl, 63);
    assert_eq!(r.final_key.regs[0], 1);

    // clear_actions in table 3 empties the set.
    let clear = Instructions {
        clear: true,
        ..Instructions::default()
    };
    p.add(entry(3, 1, Match::new(), clear)).expect("replace");
    let r = p.lookup(&k, 60, 1, None);
    assert!(r.actions.is_empty());
    assert_eq!(r.miss_drop, None);
}

#[test]
fn group_in_action_set_supersedes_output() {
    let mut p = Pipeline::new();
    let ins = Instructions {
        write: vec![Action::output(1), Action::Group(4)],
        ..Instructions::default()
    };
    p.add(entry(0, 1, Match::new(), ins)).expect("add");
    let r = p.lookup(&ip_key(1), 60, 1, None);
    assert_eq!(r.actions, vec![Action::Group(4)]);
}

#[test]
fn counters_and_no_count_flags() {
    let mut p = Pipeline::new();
    p.add(entry(0, 1, ip(), out(1))).expect("add");
    let mut e = entry(0, 0, Match::new(), out(2));
    e.flags = OFPFF_NO_BYT_COUNTS;
    p.add(e).expect("add");
    p.lookup(&ip_key(1), 100, 5, None);
    let r = p.lookup(&ip_key(1), 50, 7, None);
    // A cache hit bumps the same counters later.
    r.rules[0].hit(10, 9);
    let other = FlowKey {
        eth_type: 0x86dd,
        ..FlowKey::default()
    };
    p.lookup(&other, 70, 8, None);
    let flows = p.flows(Some(0));
    let ipf = flows
        .iter()
        .find(|f| !f.m.fields().is_empty())
        .expect("ip flow");
    assert_eq!(
        ipf.stats.snapshot(),
        StatsSnapshot {
            packets: 3,
            bytes: 160,
            last_used_ns: 9
        }
    );
    let any = flows.iter().find(|f| f.m.fields().is_empty()).expect("any");
    assert_eq!(any.stats.snapshot().packets, 1);
    assert_eq!(any.stats.snapshot().bytes, 0);
}

#[test]
fn replace_keeps_counters_unless_reset() {
    let mut p = Pipeline::new();
    p.add(entry(0, 1, ip(), out(1))).expect("add");
    p.lookup(&ip_key(1), 100, 1, None);
    let snapshot = p.clone();
    p.add(entry(0, 1, ip(), out(2))).expect("replace");
    assert_eq!(p.len(), 1);
    assert_eq!(
        p.lookup(&ip_key(1), 100, 2, None).actions,
        vec![Action::output(2)]
    );
    // The old snapshot's rule shares the counters.
    snapshot.lookup(&ip_key(1), 100, 3, None);
    assert_eq!(p.flows(None)[0].stats.snapshot().packets, 3);
    let mut e = entry(0, 1, ip(), out(3));
    e.flags = OFPFF_RESET_COUNTS;
    p.add(e).expect("replace");
    assert_eq!(p.flows(None)[0].stats.snapshot().packets, 0);
    // Table counters are shared across clones too.
    assert_eq!(p.table_stats()[0].lookups, 3);
    // Different priority is a different rule.
    p.add(entry(0, 2, ip(), out(4))).expect("add");
    assert_eq!(p.len(), 2);
}

#[test]
fn check_overlap() {
    let mut p = Pipeline::new();
    let net = ip().masked(Field::Ipv4Dst, 0x0a00_0000, 0xff00_0000);
    p.add(entry(0, 10, net, out(1))).expect("add");
    let host = ip().exact(Field::Ipv4Dst, 0x0a01_0203);
    let mut e = entry(0, 10, host.clone(), out(2));
    e.flags = OFPFF_CHECK_OVERLAP;
    assert_eq!(
        p.add(e),
        Err(PipelineError::Overlap {
            table: 0,
            priority: 10
        })
    );
    // Another priority, or a disjoint match, does not overlap.
    let mut e = entry(0, 11, host, out(2));
    e.flags = OFPFF_CHECK_OVERLAP;
    p.add(e).expect("other priority");
    let other = ip().exact(Field::Ipv4Dst, 0x0b00_0001);
    let mut e = entry(0, 10, other, out(3));
    e.flags = OFPFF_CHECK_OVERLAP;
    p.add(e).expect("disjoint");
    let arp = Match::new().exact(Field::EthType, 0x0806);
    let mut e = entry(0, 10, arp, out(3));
    e.flags = OFPFF_CHECK_OVERLAP;
    p.add(e).expect("disjoint ethertype");
    assert_eq!(p.len(), 4);
}

fn cookie_rule(p: &mut Pipeline, table: u8, prio: u16, m: Match, cookie: u64, port: u32) {
    let mut e = entry(table, prio, m, out(port));
    e.cookie = cookie;
    p.add(e).expect("add");
}

#[test]
fn strict_and_non_strict_delete_with_cookies() {
    let mut p = Pipeline::new();
    let net = ip().masked(Field::Ipv4Dst, 0x0a00_0000, 0xffff_ff00);
    let host = ip().exact(Field::Ipv4Dst, 0x0a00_0005);
    cookie_rule(&mut p, 0, 10, ip(), 0x11, 1);
    cookie_rule(&mut p, 0, 20, net.clone(), 0x12, 2);
    cookie_rule(&mut p, 1, 30, host.clone(), 0x21, 3);
    cookie_rule(&mut p, 1, 40, Match::new(), 0x22, 4);

    // Strict: same match and priority only.
    let f = FlowFilter {
        table: Some(0),
        m: net.clone(),
        priority: 21,
        ..FlowFilter::default()
    };
    assert!(p.delete(&f, true).is_empty());
    // Non-strict, cookie mask selects 0x1? rules, all tables, subset of `ip`.
    let f = FlowFilter {
        m: ip(),
        cookie: 0x10,
        cookie_mask: 0xf0,
        ..FlowFilter::default()
    };
    let gone = p.delete(&f, false);
    let mut cookies: Vec<u64> = gone.iter().map(|e| e.cookie).collect();
    cookies.sort_unstable();
    assert_eq!(cookies, vec![0x11, 0x12]);
    assert_eq!(p.len(), 2);
    // Non-strict with a narrower filter does not remove the wider rule.
    let f = FlowFilter {
        m: host.clone(),
        ..FlowFilter::default()
    };
    let gone = p.delete(&f, false);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].cookie, 0x21);
    // Strict delete of the match-all rule.
    let f = FlowFilter {
        table: Some(1),
        priority: 40,
        ..FlowFilter::default()
    };
    let g = p.generation();
    assert_eq!(p.delete(&f, true).len(), 1);
    assert!(p.generation() > g);
    assert!(p.is_empty());
}

#[test]
fn out_port_filter_and_modify() {
    let mut p = Pipeline::new();
    cookie_rule(&mut p, 0, 10, ip(), 1, 1);
    cookie_rule(&mut p, 0, 20, Match::new(), 2, 2);
    let mut e = entry(
        0,
        30,
        ip().exact(Field::Ipv4Dst, 9),
        Instructions::default(),
    );
    e.instructions.write = vec![Action::output(2)];
    p.add(e).expect("add");
    let f = FlowFilter {
        out_port: Some(2),
        ..FlowFilter::default()
    };
    let n = p
        .modify(
            &f,
            false,
            Instructions::apply(vec![Action::normal()]),
            false,
        )
        .expect("modify");
    assert_eq!(n, 2);
    let normal = p
        .flows(None)
        .iter()
        .filter(|e| e.outputs_to(OFPP_NORMAL))
        .count();
    assert_eq!(normal, 2);
    // Modify keeps counters unless asked to reset them.
    p.lookup(&ip_key(9), 10, 1, None);
    let f = FlowFilter {
        table: Some(0),
        m: ip().exact(Field::Ipv4Dst, 9),
        priority: 30,
        ..FlowFilter::default()
    };
    assert_eq!(p.modify(&f, true, out(7), false), Ok(1));
    assert_eq!(p.flows(None)[0].stats.snapshot().packets, 1);
    assert_eq!(p.modify(&f, true, out(8), true), Ok(1));
    assert_eq!(p.flows(None)[0].stats.snapshot().packets, 0);
    assert_eq!(p.flows(None)[0].instructions, out(8));
    // A backward goto for any selected rule refuses the whole modify.
    let f1 = FlowFilter::all();
    p.add(entry(5, 1, Match::new(), out(1))).expect("add");
    let back = Instructions {
        goto: Some(3),
        ..Instructions::default()
    };
    assert_eq!(
        p.modify(&f1, false, back, false),
        Err(PipelineError::GotoBackward { from: 5, to: 3 })
    );
    assert_eq!(p.flows(Some(5))[0].instructions, out(1));
}

#[test]
fn idle_and_hard_timeouts() {
    let mut p = Pipeline::new();
    let mut idle = entry(0, 1, ip(), out(1));
    idle.idle_timeout = 10;
    p.add(idle).expect("add");
    let mut hard = entry(0, 2, Match::new().exact(Field::InPort, 5), out(2));
    hard.hard_timeout = 30;
    hard.idle_timeout = 100;
    p.add(hard).expect("add");
    p.add(entry(0, 3, Match::new().exact(Field::InPort, 6), out(3)))
        .expect("permanent");
    assert!(p.expire(9 * S).is_empty());
    // A hit at 9s keeps the idle rule alive until 19s.
    p.lookup(&ip_key(1), 60, 9 * S, None);
    assert!(p.expire(18 * S).is_empty());
    let gone = p.expire(19 * S);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].1, RemovedReason::IdleTimeout);
    assert_eq!(gone[0].0.priority, 1);
    let k = FlowKey {
        in_port: 5,
        ..FlowKey::default()
    };
    p.lookup(&k, 60, 29 * S, None);
    let gone = p.expire(30 * S);
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].1, RemovedReason::HardTimeout);
    assert_eq!(p.len(), 1);
    assert!(p.expire(10_000 * S).is_empty());
}

#[test]
fn flows_sorted_and_generation() {
    let mut p = Pipeline::new();
    let g0 = p.generation();
    p.add(entry(3, 5, Match::new(), out(1))).expect("add");
    p.add(entry(0, 1, Match::new(), out(1))).expect("add");
    p.add(entry(0, 9, ip(), out(1))).expect("add");
    assert_eq!(p.generation(), g0 + 3);
    let order: Vec<(u8, u16)> = p
        .flows(None)
        .iter()
        .map(|e| (e.table, e.priority))
        .collect();
    assert_eq!(order, vec![(0, 9), (0, 1), (3, 5)]);
    assert_eq!(p.flows(Some(3)).len(), 1);
    assert_eq!(p.flows(Some(4)).len(), 0);
    // A no-op delete does not bump.
    let f = FlowFilter {
        table: Some(7),
        ..FlowFilter::default()
    };
    assert!(p.delete(&f, false).is_empty());
    assert_eq!(p.generation(), g0 + 3);
}

#[test]
fn trace_records_each_table() {
    let mut p = Pipeline::new();
    let ins = Instructions {
        goto: Some(4),
        ..Instructions::default()
    };
    p.add(entry(0, 1, Match::new(), ins)).expect("add");
    p.add(entry(4, 1, Match::new(), out(2))).expect("add");
    let mut tr = crate::trace::Trace::new();
    let r = p.lookup(&ip_key(1), 60, 1, Some(&mut tr));
    assert_eq!(r.actions, vec![Action::output(2)]);
    let tables: Vec<u8> = tr.steps.iter().map(|s| s.table).collect();
    assert_eq!(tables, vec![0, 4]);
    assert!(tr.steps.iter().all(|s| s.matched.is_some()));
}

/// Every rule as (table, priority, cookie, actions), for comparing two pipelines.
fn rules(p: &Pipeline) -> Vec<(u8, u16, u64, Vec<Action>)> {
    let mut v: Vec<_> = p
        .flows(None)
        .iter()
        .map(|e| (e.table, e.priority, e.cookie, e.instructions.apply.clone()))
        .collect();
    v.sort_by_key(|r| (r.0, r.1, r.2));
    v
}

fn dst(n: u32) -> Match {
    ip().exact(Field::Ipv4Dst, u128::from(0x0a00_0000 + n))
}

#[test]
fn a_journal_replayed_on_a_copy_gives_the_same_tables_and_the_same_entries() {
    let mut a = Pipeline::new();
    for n in 0..50 {
        a.add(entry(0, 100, dst(n), out(1))).expect("add");
    }
    let mut b = a.clone();
    a.start_journal();
    // Add, replace, modify, delete strict and not, expire: every kind of effect.
    a.add(entry(0, 100, dst(50), out(2))).expect("add");
    a.add(entry(0, 100, dst(3), out(3))).expect("replace");
    let f = FlowFilter {
        m: dst(7),
        ..FlowFilter::all()
    };
    assert_eq!(a.modify(&f, false, out(4), false).expect("modify"), 1);
    let f = FlowFilter {
        m: dst(9),
        priority: 100,
        table: Some(0),
        ..FlowFilter::all()
    };
    assert_eq!(a.delete(&f, true).len(), 1);
    let mut short = entry(1, 5, Match::new(), out(5));
    short.hard_timeout = 1;
    a.add(short).expect("add");
    assert_eq!(a.expire(2 * S).len(), 1);
    let j = a.take_journal();
    assert_eq!(j.len(), 6);
    b.replay(&j);
    assert_eq!(rules(&a), rules(&b));
    assert_eq!(a.generation(), b.generation());
    // The same entries, so the same counters.
    let k = ip_key(0x0a00_0000 + 50);
    a.lookup(&k, 60, 1, None);
    let hit = b
        .flows(Some(0))
        .into_iter()
        .find(|e| e.m == dst(50))
        .unwrap();
    assert_eq!(hit.stats.snapshot().packets, 1);
    assert_eq!(
        b.lookup(&ip_key(0x0a00_0007), 60, 1, None).actions,
        out(4).apply
    );
    assert!(b
        .lookup(&ip_key(0x0a00_0009), 60, 1, None)
        .actions
        .is_empty());
}

#[test]
fn undo_takes_a_journal_back() {
    let mut p = Pipeline::new();
    for n in 0..10 {
        p.add(entry(0, 100, dst(n), out(1))).expect("add");
    }
    let before = rules(&p);
    let g = p.generation();
    p.start_journal();
    p.add(entry(0, 100, dst(2), out(9))).expect("replace");
    p.add(entry(0, 100, dst(20), out(9))).expect("add");
    p.modify(&FlowFilter::all(), false, out(7), false)
        .expect("modify");
    p.delete(&FlowFilter::all(), false);
    assert!(p.is_empty());
    let j = p.take_journal();
    p.undo(j);
    assert_eq!(rules(&p), before);
    assert_eq!(p.generation(), g);
    assert_eq!(
        p.lookup(&ip_key(0x0a00_0002), 60, 1, None).actions,
        out(1).apply
    );
}

#[test]
fn later_tables_match_the_headers_a_push_or_pop_leaves() {
    use crate::field::ETH_TYPE_MPLS;
    let mut p = Pipeline::new();
    // Table 0: IP gets a label (set to 100) and goes on; MPLS is popped and goes on.
    let push = Instructions {
        apply: vec![
            Action::PushMpls(ETH_TYPE_MPLS),
            Action::SetField(Field::MplsLabel, 100),
        ],
        goto: Some(1),
        ..Instructions::default()
    };
    p.add(entry(0, 10, ip(), push)).expect("add");
    let mpls = Match::new().exact(Field::EthType, u128::from(ETH_TYPE_MPLS));
    let pop = Instructions {
        apply: vec![Action::PopMpls(0x0800)],
        goto: Some(1),
        ..Instructions::default()
    };
    p.add(entry(0, 10, mpls.clone(), pop)).expect("add");
    // Table 1: label 100 with the IP TTL copied in goes to 2; IP to 10.0.0.9 goes to 3.
    let labelled = mpls
        .clone()
        .exact(Field::MplsLabel, 100)
        .exact(Field::MplsBos, 1)
        .exact(Field::MplsTtl, 64);
    p.add(entry(1, 10, labelled, out(2))).expect("add");
    let dst = ip().exact(Field::Ipv4Dst, 0x0a00_0009);
    p.add(entry(1, 10, dst, out(3))).expect("add");

    let mut k = ip_key(0x0a00_0009);
    k.ip_ttl = 64;
    let r = p.lookup(&k, 60, 1, None);
    assert_eq!(r.actions.last(), Some(&Action::output(2)));
    assert_eq!(r.final_key.eth_type, ETH_TYPE_MPLS);
    assert_eq!(r.final_key.mpls_lse, (100 << 12) | (1 << 8) | 64);

    // The labelled packet as the extractor sees it (IP kept under the stack) pops back to IP.
    let r2 = p.lookup(&r.final_key, 64, 2, None);
    assert_eq!(r2.actions, vec![Action::PopMpls(0x0800), Action::output(3)]);
    assert_eq!(r2.final_key, k);
}

#[test]
fn action_set_runs_mpls_actions_in_the_spec_order() {
    let mut p = Pipeline::new();
    let t0 = Instructions {
        write: vec![
            Action::output(1),
            Action::DecMplsTtl,
            Action::CopyTtlOut,
            Action::PushVlan(0x8100),
            Action::PushMpls(0x8847),
            Action::PopVlan,
            Action::CopyTtlIn,
        ],
        ..Instructions::default()
    };
    p.add(entry(0, 1, Match::new(), t0)).expect("add");
    let r = p.lookup(&ip_key(1), 60, 1, None);
    assert_eq!(
        r.actions,
        vec![
            Action::CopyTtlIn,
            Action::PopVlan,
            Action::PushMpls(0x8847),
            Action::PushVlan(0x8100),
            Action::CopyTtlOut,
            Action::DecMplsTtl,
            Action::output(1),
        ]
    );
}

#[test]
fn tunnel_id_set_in_one_table_is_matched_in_the_next() {
    let mut p = Pipeline::new();
    let t0 = Instructions {
        apply: vec![Action::SetField(Field::TunnelId, 0x55)],
        goto: Some(1),
        ..Instructions::default()
    };
    p.add(entry(0, 1, Match::new(), t0)).expect("add");
    let tun = |v| Match::new().masked(Field::TunnelId, v, 0xff);
    p.add(entry(1, 2, tun(0x55), out(5))).expect("add");
    p.add(entry(1, 1, Match::new(), out(6))).expect("add");
    let k = ip_key(1);
    assert_eq!(k.tunnel_id, 0, "packets from ports carry no tunnel id");
    let r = p.lookup(&k, 60, 1, None);
    assert_eq!(
        r.actions,
        vec![Action::SetField(Field::TunnelId, 0x55), Action::output(5)]
    );
    assert_eq!(r.final_key.tunnel_id, 0x55);
    // Without the set_field, table 1's tunnel_id rule does not match.
    let t0 = Instructions {
        goto: Some(1),
        ..Instructions::default()
    };
    p.add(entry(0, 1, Match::new(), t0)).expect("replace");
    assert_eq!(p.lookup(&k, 60, 1, None).actions, vec![Action::output(6)]);
}

#[test]
fn a_ttl_that_expires_ends_the_walk_before_later_tables_count_it() {
    let mut p = Pipeline::with_tables(2);
    let mut ins = Instructions::apply(vec![Action::DecTtl]);
    ins.goto = Some(1);
    ins.write = vec![Action::output(3)];
    p.add(entry(0, 10, ip(), ins)).expect("add");
    p.add(entry(1, 10, ip(), out(2))).expect("add");
    let mut k = ip_key(0x0a00_0001);
    k.ip_ttl = 1;
    let r = p.lookup(&k, 60, 1, None);
    assert_eq!(
        r.actions,
        vec![Action::DecTtl],
        "no later table, no action set"
    );
    assert_eq!(r.rules.len(), 1);
    let t1 = p.flows(Some(1));
    assert_eq!(t1[0].stats.snapshot().packets, 0, "table 1 never saw it");
    k.ip_ttl = 2;
    let r = p.lookup(&k, 60, 1, None);
    assert_eq!(
        r.actions,
        vec![Action::DecTtl, Action::output(2), Action::output(3)],
        "apply-actions of both tables, then the action set"
    );
    assert_eq!(r.rules.len(), 2);
}
