//! The megaflow mask of a whole translation (pipeline walk plus NORMAL, set-field prerequisites,
//! dec_ttl, MPLS, VLAN edits) against translation itself: random rule sets over a bridge with
//! access, trunk and plain ports and a MAC table with learned addresses; for each probe key, any
//! key that agrees with it on the bits the translation read (`LearnEffect::wc`) must get the
//! same decision. That is what lets the PMD serve it from one megaflow.

use datapath::bridge::{Bridge, BridgePort};
use datapath::config::{VlanMode, VlanSet};
use datapath::port::mock::MockPort;
use datapath::port::Port;
use datapath::xlate::{self, InPort, Mode};
use flowtable::key::FlowKey;
use flowtable::mactable::MacTable;
use flowtable::pipeline::Pipeline;
use flowtable::text::parse_flow;
use proptest::prelude::*;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

const MACS: [[u8; 6]; 4] = [
    [2, 0, 0, 0, 0, 0xa],
    [2, 0, 0, 0, 0, 0xb],
    [2, 0, 0, 0, 0, 0xc],
    [0xff; 6],
];

fn bridge(flows: &[String]) -> Bridge {
    let port = |name: &str| -> Arc<dyn Port> { Arc::new(MockPort::new(name).0) };
    let trunk = VlanMode::Trunk {
        allowed: "10,20".parse::<VlanSet>().expect("vlans"),
        native: None,
    };
    let members = vec![
        BridgePort::new("p1", 1, 0, VlanMode::Access { tag: 10 }, port("p1")),
        BridgePort::new("p2", 2, 1, VlanMode::Access { tag: 10 }, port("p2")),
        BridgePort::new("p3", 3, 2, trunk, port("p3")),
        BridgePort::new("p4", 4, 3, VlanMode::None, port("p4")),
    ];
    let mut pipeline = Pipeline::with_tables(3);
    for f in flows {
        if let Ok(fm) = parse_flow(f, &|_: &str| None) {
            let _ = pipeline.add(fm.into_entry(0));
        }
    }
    let mut macs = MacTable::new(300, 0);
    macs.learn(10, MACS[0], 1, 0);
    macs.learn(10, MACS[1], 3, 0);
    macs.learn(0, MACS[1], 4, 0);
    Bridge::new(
        0,
        "br0".into(),
        1,
        members,
        pipeline,
        macs,
        Arc::new(AtomicU64::new(1)),
    )
}

fn arb_flow() -> impl Strategy<Value = String> {
    let matches = prop::sample::select(vec![
        "",
        "in_port=1,",
        "in_port=3,",
        "dl_dst=02:00:00:00:00:0b,",
        "ip,",
        "tcp,tp_dst=80,",
        "ip,nw_ttl=1,",
        "mpls,",
        "dl_vlan=20,",
    ]);
    let actions = prop::sample::select(vec![
        "NORMAL",
        "output:2",
        "mod_dl_dst:02:00:00:00:00:0a,NORMAL",
        "dec_ttl,NORMAL",
        "set_field:443->tcp_dst,output:4",
        "push_vlan:0x8100,set_field:4116->vlan_vid,output:3",
        "pop_mpls:0x0800,goto_table:1",
        "goto_table:1",
        "drop",
    ]);
    (0u8..2, 0u16..3, matches, actions).prop_map(|(t, p, m, a)| {
        let a = if t == 1 {
            a.replace("goto_table:1", "NORMAL")
        } else {
            a.to_string()
        };
        format!("table={t},priority={p},{m}actions={a}")
    })
}

fn arb_key() -> impl Strategy<Value = FlowKey> {
    (
        1u32..5,
        0usize..3,
        0usize..4,
        prop::sample::select(vec![0x0800u16, 0x86dd, 0x8847, 0x0806]),
        prop::sample::select(vec![6u8, 17]),
        prop::sample::select(vec![22u16, 80]),
        prop::sample::select(vec![1u8, 2, 64]),
        prop::sample::select(vec![0u16, 0x1000 | 10, 0x1000 | 20]),
    )
        .prop_map(|(in_port, s, d, et, proto, tp, ttl, tci)| FlowKey {
            in_port,
            eth_src: MACS[s],
            eth_dst: MACS[d],
            eth_type: et,
            ip_proto: proto,
            tp_dst: tp,
            ip_ttl: ttl,
            vlan_tci: tci,
            mpls_lse: 0x0100_0140,
            ..FlowKey::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn keys_equal_under_the_translation_mask_get_the_same_decision(
        flows in prop::collection::vec(arb_flow(), 0..10),
        probes in prop::collection::vec((arb_key(), arb_key()), 1..8),
    ) {
        let b = bridge(&flows);
        let view = b.view();
        let decide = |k: &FlowKey| {
            let res = view.pipeline.lookup(k, 64, 1, None);
            let inp = InPort::from(view.port(k.in_port).expect("member"));
            let mut macs = b.macs();
            xlate::translate(&view, inp, k, res, &mut macs, 1, 64, Mode::DryRun)
        };
        for (k, other) in probes {
            let (d1, e1) = decide(&k);
            let k2 = k.blend(&other, &e1.wc);
            let (d2, e2) = decide(&k2);
            prop_assert_eq!(&d1.actions, &d2.actions, "{:?}\nvs {:?}\nwc {:?}", k, k2, e1.wc);
            prop_assert_eq!(d1.drop, d2.drop);
            prop_assert_eq!(e1.wc, e2.wc);
        }
    }
}
