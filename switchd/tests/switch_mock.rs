//! The whole datapath (PMD thread, parse, cache, pipeline, NORMAL, actions, transmit) over mock
//! ports: no root needed, exact frames in and out.

mod mockrig;

use mockrig::*;
use packet::build;
use packet::ipv4::Ipv4Packet;
use packet::udp::UdpPacket;
use serde_json::json;
use std::net::Ipv4Addr;
use std::time::Duration;
use switchd::control::{FLOW_DUMP_MAX, FLOW_DUMP_MAX_BYTES};
use switchd_api::rpc::{respond, RpcHandler, INVALID_REQUEST, MAX_BATCH};

#[test]
fn normal_floods_in_vlan_tags_on_trunk_and_learns() {
    let r = Rig::new(&four_ports(), &[]);
    let out = r.send("a", eth(BCAST, A), 2);
    let mut names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    names.sort();
    assert_eq!(names, ["b", "t"], "broadcast stays in VLAN 10");
    let to_b = &out.iter().find(|(n, _)| n == "b").unwrap().1;
    assert_eq!(
        to_b,
        &eth(BCAST, A),
        "untagged to the access port, unchanged"
    );
    let to_t = &out.iter().find(|(n, _)| n == "t").unwrap().1;
    assert_eq!(
        to_t,
        &build::vlan_tagged(&eth(BCAST, A), 0x8100, 10),
        "tagged 10 on the trunk"
    );

    // Now B answers A: A was learned on port a, so only a gets it.
    let out = r.send("b", eth(A, B), 1);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, "a");
    // And from the trunk, VLAN 20 towards an unknown MAC floods only to c, untagged.
    let out = r.send("t", build::vlan_tagged(&eth(C, B), 0x8100, 20), 1);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0], ("c".to_string(), eth(C, B)));
    let macs = r.call("mac/show", json!({"bridge": "br0"}));
    assert_eq!(macs.as_array().unwrap().len(), 3, "{macs}");
    // B shows up on the trunk too: a move; straight back to b within the hold-down is refused.
    r.send("t", build::vlan_tagged(&eth(BCAST, B), 0x8100, 10), 2);
    r.send("b", eth(BCAST, B), 2);
    let show = r.call("switch/show", json!({}));
    assert_eq!(show["bridges"][0]["mac_table"]["moves"], 1, "{show}");
    assert_eq!(show["bridges"][0]["mac_table"]["flaps_held"], 1, "{show}");
}

#[test]
fn an_address_held_by_the_move_hold_down_moves_once_it_ends() {
    let r = Rig::new(&four_ports(), &[]);
    let where_is_b = || {
        r.call("mac/show", json!({"bridge": "br0"}))
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["mac"] == "02:00:00:00:00:0b")
            .map(|e| e["port"].as_str().unwrap().to_string())
    };
    r.send("b", eth(BCAST, B), 2);
    r.send("t", build::vlan_tagged(&eth(BCAST, B), 0x8100, 10), 2);
    assert_eq!(where_is_b().as_deref(), Some("t"));
    // B announces itself from b again, repeatedly (as a migrated VM's RARPs do). The first
    // frames fall in the hold-down (and their decision is cached); the same frame after it must
    // still move B: the end of the hold-down invalidates the caches (housekeeping, every
    // 250 ms).
    r.send("b", eth(BCAST, B), 2);
    assert_eq!(where_is_b().as_deref(), Some("t"), "held on t");
    std::thread::sleep(Duration::from_millis(1500));
    r.send("b", eth(BCAST, B), 2);
    assert_eq!(
        where_is_b().as_deref(),
        Some("b"),
        "moved back after the hold-down"
    );
}

#[test]
fn a_flow_added_after_caching_applies_to_the_very_next_packet() {
    let r = Rig::new(&four_ports(), &[]);
    let f = udp(B, A, Ipv4Addr::new(10, 0, 0, 2));
    r.send("b", eth(BCAST, B), 2); // learn B
    for _ in 0..5 {
        assert_eq!(r.send("a", f.clone(), 1).len(), 1);
    }
    let pmd = r.call("pmd/stats", json!({}));
    assert!(pmd[0]["emc_hits"].as_u64().unwrap() >= 3, "cached: {pmd}");
    r.call(
        "flow/add",
        json!({"bridge": "br0", "flow": "priority=100,udp,nw_dst=10.0.0.2,actions=drop"}),
    );
    assert!(
        r.send("a", f.clone(), 0).is_empty(),
        "dropped right after the reply"
    );
    assert_eq!(r.drops("rule_drop"), 1);
    r.call(
        "flow/del",
        json!({"bridge": "br0", "match": "udp,nw_dst=10.0.0.2", "strict": false}),
    );
    assert_eq!(
        r.send("a", f, 1).len(),
        1,
        "forwarding again after the delete"
    );
}

#[test]
fn set_field_rewrites_headers_with_valid_checksums() {
    let r = Rig::new(
        &(port("a", 1, "") + &port("b", 2, "")),
        &["priority=10,in_port=1,udp,actions=mod_nw_dst:192.168.7.9,mod_tp_dst:5353,mod_dl_dst:02:00:00:00:00:99,output:2"],
    );
    let out = r.send("a", udp(B, A, Ipv4Addr::new(10, 0, 0, 2)), 1);
    assert_eq!(out.len(), 1);
    let f = &out[0].1;
    assert_eq!(&f[0..6], &[2, 0, 0, 0, 0, 0x99]);
    let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
    assert_eq!(ip.dst_addr(), Ipv4Addr::new(192, 168, 7, 9));
    assert!(ip.verify_checksum(), "IPv4 header checksum");
    let ph = packet::checksum::PseudoHeader::V4 {
        src: ip.src_addr(),
        dst: ip.dst_addr(),
    };
    let u = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!(u.dst_port(), 5353);
    assert!(u.verify_checksum(&ph), "UDP checksum");
}

#[test]
fn vlan_actions_goto_table_and_table_miss() {
    let r = Rig::new(
        &(port("a", 1, "") + &port("b", 2, "") + &port("c", 3, "")),
        &[
            "table=0,priority=10,in_port=1,actions=push_vlan:0x8100,set_field:4096->vlan_vid,goto_table:5",
            "table=5,priority=10,dl_vlan=0,actions=mod_vlan_vid:77,output:2",
            "table=0,priority=10,in_port=2,dl_vlan=77,actions=strip_vlan,output:3",
            "table=0,priority=10,in_port=3,actions=goto_table:9",
        ],
    );
    // Delete the default NORMAL flow so a miss really is a miss.
    r.call(
        "flow/del",
        json!({"bridge": "br0", "match": "priority=0", "strict": true}),
    );
    let plain = eth(C, A);
    let out = r.send("a", plain.clone(), 1);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(
        out[0],
        ("b".to_string(), build::vlan_tagged(&plain, 0x8100, 77))
    );
    let out = r.send("b", build::vlan_tagged(&plain, 0x8100, 77), 1);
    assert_eq!(out, vec![("c".to_string(), plain.clone())]);
    assert!(r.send("c", plain, 0).is_empty());
    assert_eq!(r.drops("table_miss"), 1, "table 9 is empty");
}

#[test]
fn hairpin_and_unknown_ports_are_counted_drops() {
    let r = Rig::new(
        &(port("a", 1, "vlan_mode = \"access\"\ntag = 10")
            + &port("b", 2, "vlan_mode = \"access\"\ntag = 20")),
        &["priority=10,dl_type=0x88b6,actions=output:9"],
    );
    // Only port in its VLAN: NORMAL has nowhere to send it.
    assert!(r.send("a", eth(BCAST, A), 0).is_empty());
    assert_eq!(r.drops("normal_no_output"), 1);
    let mut f = eth(BCAST, A);
    f[12..14].copy_from_slice(&0x88b6u16.to_be_bytes());
    assert!(r.send("a", f, 0).is_empty());
    assert_eq!(r.drops("bad_output_port"), 1);
    let stats = r.call("port/stats", json!({"bridge": "br0"}));
    assert_eq!(stats[0]["rx_dropped"], 2, "{stats}");
}

#[test]
fn hard_timeout_removes_the_flow_and_mac_aging_forgets() {
    let r = Rig::with(
        &(port("a", 1, "") + &port("b", 2, "") + &port("c", 3, "")),
        &["priority=100,hard_timeout=1,dl_type=0x88b5,dl_dst=02:00:00:00:00:0b,actions=drop"],
        "mac_aging_secs = 1",
        "[0]",
    );
    assert!(
        r.send("a", eth(B, A), 0).is_empty(),
        "dropped while the flow lives"
    );
    r.send("b", eth(BCAST, B), 2); // learn B
                                   // Only B: A's frame hit the drop flow and never reached NORMAL.
    let macs = r.call("mac/show", json!({"bridge": "br0"}));
    assert_eq!(macs.as_array().unwrap().len(), 1, "{macs}");
    std::thread::sleep(Duration::from_millis(1600));
    let flows = r.call("flow/dump", json!({"bridge": "br0"}));
    assert_eq!(
        flows["flows"].as_array().unwrap().len(),
        1,
        "only NORMAL is left: {flows}"
    );
    assert!(r
        .call("mac/show", json!({"bridge": "br0"}))
        .as_array()
        .unwrap()
        .is_empty());
    // B is forgotten: a unicast to it floods again.
    let out = r.send("a", eth(B, A), 2);
    assert_eq!(out.len(), 2, "{out:?}");
}

#[test]
fn rx_queues_can_be_moved_between_pmds() {
    let r = Rig::with(&(port("a", 1, "") + &port("b", 2, "")), &[], "", "[0, 1]");
    let show = r.call("pmd/rxq-show", json!({}));
    let on = |show: &serde_json::Value, pmd: usize| -> Vec<String> {
        show[pmd]["rxqs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["port"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(on(&show, 0), ["a"]);
    assert_eq!(on(&show, 1), ["b"]);
    r.call("pmd/rxq-assign", json!({"port": "b", "queue": 0, "pmd": 0}));
    let show = r.call("pmd/rxq-show", json!({}));
    assert_eq!(on(&show, 0), ["a", "b"]);
    assert!(on(&show, 1).is_empty());
    assert_eq!(r.send("b", eth(BCAST, B), 1).len(), 1, "pmd0 now polls b");
    let stats = r.call("pmd/stats", json!({}));
    assert_eq!(stats[0]["packets"], 1, "{stats}");
    assert_eq!(stats[1]["packets"], 0, "{stats}");
    assert!(r
        .ctl
        .call(
            "pmd/rxq-assign",
            json!({"port": "zz", "queue": 0, "pmd": 0})
        )
        .is_err());
}

#[test]
fn vlan_attacks_are_dropped_and_priority_is_kept() {
    let r = Rig::new(
        &(port("a", 1, "vlan_mode = \"access\"\ntag = 10")
            + &port(
                "vm",
                2,
                "vlan_mode = \"trunk\"\ntrunks = \"5\"\nnative_vlan = 5",
            )
            + &port(
                "up",
                3,
                "vlan_mode = \"trunk\"\ntrunks = \"5,10,20\"\nnative_vlan = 5",
            )
            + &port("t2", 4, "vlan_mode = \"trunk\"\ntrunks = \"10\"")),
        &[],
    );
    // Double tagging: outer tag = the native VLAN, inner tag = the VLAN to hop into.
    let inner = build::vlan_tagged(&eth(BCAST, B), 0x8100, 20);
    let double = build::vlan_tagged(&inner, 0x8100, 5);
    assert!(
        r.send("vm", double, 0).is_empty(),
        "double-tagged frame must not leave"
    );
    assert_eq!(r.drops("vlan_double_tagged"), 1);
    // A truncated tag on an access port is still a tag.
    let mut runt = eth(BCAST, A)[..12].to_vec();
    runt.extend_from_slice(&[0x81, 0x00, 0x00]);
    assert!(r.send("a", runt, 0).is_empty());
    assert_eq!(r.drops("vlan_tagged_on_access"), 1);
    // PCP survives a flood that also pops the tag for an access port.
    let tagged = build::vlan_tagged(&eth(BCAST, C), 0x8100, (5 << 13) | 10);
    let out = r.send("up", tagged.clone(), 2);
    let to_t2 = out.iter().find(|(n, _)| n == "t2").expect("t2 gets it");
    assert_eq!(to_t2.1, tagged, "same tag, PCP 5 kept");
    let to_a = out.iter().find(|(n, _)| n == "a").expect("a gets it");
    assert_eq!(to_a.1, eth(BCAST, C));
}

#[test]
fn frames_over_the_mtu_are_dropped_as_too_big() {
    // MTU 1500: 1514 bytes untagged, 1518 with one tag.
    let r = Rig::new(&four_ports(), &[]);
    let big = build::ethernet_frame(A, BCAST, 0x88b5, &[0u8; 1504]);
    assert_eq!(big.len(), 1518);
    assert!(
        r.send("a", big, 0).is_empty(),
        "1518 bytes untagged is over"
    );
    assert_eq!(r.drops("too_big"), 1);
    let ok = build::ethernet_frame(A, BCAST, 0x88b5, &[0u8; 1500]);
    assert_eq!(
        r.send("a", ok, 2).len(),
        2,
        "1514 untagged floods to b and t"
    );
    let tagged = build::vlan_tagged(
        &build::ethernet_frame(C, BCAST, 0x88b5, &[0u8; 1500]),
        0x8100,
        10,
    );
    assert_eq!(tagged.len(), 1518);
    assert_eq!(r.send("t", tagged, 2).len(), 2, "1518 with its tag is in");
    assert_eq!(r.drops("too_big"), 1);
}

#[test]
fn a_runt_claiming_ip_cannot_stop_the_pmd() {
    let r = Rig::new(
        &(port("a", 1, "") + &port("b", 2, "")),
        &["priority=10,ip,actions=set_field:46->ip_dscp,output:2"],
    );
    let mut runt = eth(B, A)[..14].to_vec();
    runt[12..14].copy_from_slice(&[0x08, 0x00]);
    runt.push(0x45);
    assert!(r.send("a", runt, 0).is_empty());
    // Refused at admission (frame validity), before the rule's edit could fail on it.
    assert_eq!(r.drops("bad_ipv4_header"), 1);
    assert_eq!(r.drops("edit_failed"), 0);
    let out = r.send("a", udp(B, A, Ipv4Addr::new(10, 0, 0, 2)), 1);
    assert_eq!(out.len(), 1, "the PMD keeps forwarding");
    assert_eq!(out[0].1[15] >> 2, 46, "DSCP rewritten");
}

#[test]
fn loosely_typed_params_are_refused_and_change_nothing() {
    let r = Rig::new(
        &(port("a", 1, "") + &port("b", 2, "")),
        &[
            "priority=10,udp,actions=drop",
            "table=1,priority=5,ip,actions=drop",
        ],
    );
    let flows = r.all_flows(None);
    assert_eq!(flows.len(), 3, "{flows:?}");
    let cases = [
        (
            "flow/del",
            json!({"bridge": "br0", "match": 123}),
            "\"match\": invalid type: integer `123`, expected a string",
        ),
        (
            "flow/del",
            json!({"bridge": "br0", "mach": "udp"}),
            "unknown parameter \"mach\" (expected one of: bridge, match, strict, all)",
        ),
        (
            "flow/del",
            json!({"bridge": "br0", "match": "udp", "strict": "yes"}),
            "\"strict\": invalid type: string \"yes\", expected a boolean",
        ),
        (
            "flow/mod",
            json!({"bridge": "br0", "flow": "udp,actions=NORMAL", "strict": 1}),
            "\"strict\": invalid type: integer `1`, expected a boolean",
        ),
        (
            "flow/add",
            json!({"bridge": "br0", "flow": "actions=drop", "table": 3}),
            "unknown parameter \"table\"",
        ),
        (
            "flow/dump",
            json!({"bridge": "br0", "table": 256}),
            "\"table\": invalid value: integer `256`, expected u8",
        ),
        (
            "flow/dump",
            json!({"bridge": "br0", "limit": 0}),
            "\"limit\": 0 is out of range 1..=10000",
        ),
        (
            "flow/dump",
            json!({"bridge": "br0", "after": "x"}),
            "\"after\": invalid type: string \"x\"",
        ),
        (
            "port/stats",
            json!({"bridge": []}),
            "\"bridge\": invalid type: sequence, expected a string",
        ),
        (
            "mac/show",
            json!({"bridge": "br0", "vlan": 10}),
            "unknown parameter \"vlan\"",
        ),
        (
            "mac/flush",
            json!({"bridge": "br0", "port": "a"}),
            "unknown parameter \"port\"",
        ),
        ("mac/flush", json!({}), "missing \"bridge\""),
        (
            "trace",
            json!({"bridge": "br0", "flow": "in_port=a", "verbose": true}),
            "unknown parameter \"verbose\"",
        ),
        (
            "pmd/rxq-assign",
            json!({"port": "a", "queue": 70000, "pmd": 0}),
            "\"queue\": invalid value: integer `70000`, expected u16",
        ),
        (
            "pmd/rxq-assign",
            json!({"port": "a", "queue": 0}),
            "missing \"pmd\"",
        ),
        (
            "switch/reload",
            json!({"dryrun": true}),
            "unknown parameter \"dryrun\" (expected one of: dry_run)",
        ),
        (
            "switch/reload",
            json!({"dry_run": "yes"}),
            "\"dry_run\": invalid type: string \"yes\"",
        ),
        (
            "drop/stats",
            json!({"bridge": "br0"}),
            "unknown parameter \"bridge\" (this method takes no parameters)",
        ),
        (
            "switch/shutdown",
            json!({"now": true}),
            "unknown parameter \"now\"",
        ),
    ];
    for (method, params, want) in cases {
        let got = r.refused(method, params.clone());
        assert!(got.starts_with(want), "{method} {params}: {got}");
    }
    assert_eq!(r.all_flows(None), flows, "no refused call changed a flow");
    // Methods without parameters take none, absent or empty.
    for method in ["switch/show", "drop/stats", "pmd/stats", "pmd/rxq-show"] {
        r.call(method, json!({}));
        r.call(method, serde_json::Value::Null);
    }
    // The well-formed calls still work.
    r.call("port/stats", json!({"bridge": "br0"}));
    r.call("port/stats", json!({}));
    r.call(
        "flow/dump",
        json!({"bridge": "br0", "table": 1, "limit": 1}),
    );
}

#[test]
fn flow_del_deletes_everything_only_with_all() {
    let r = Rig::new(
        &(port("a", 1, "") + &port("b", 2, "")),
        &[
            "priority=10,udp,actions=drop",
            "priority=20,tcp,actions=drop",
        ],
    );
    let needs_all = "flow/del needs a non-empty \"match\"; to delete every flow pass \"all\": true";
    for p in [
        json!({"bridge": "br0"}),
        json!({"bridge": "br0", "match": ""}),
        json!({"bridge": "br0", "strict": false}),
        json!({"bridge": "br0", "all": false}),
    ] {
        assert_eq!(r.refused("flow/del", p), needs_all);
    }
    assert!(r
        .refused(
            "flow/del",
            json!({"bridge": "br0", "match": "udp", "all": true})
        )
        .contains("takes no \"match\""));
    assert_eq!(
        r.all_flows(None).len(),
        3,
        "nothing deleted by a refused call"
    );
    assert_eq!(
        r.call("flow/del", json!({"bridge": "br0", "match": "udp"}))["deleted"],
        1
    );
    assert_eq!(
        r.call("flow/del", json!({"bridge": "br0", "all": true}))["deleted"],
        2
    );
    assert!(r.all_flows(None).is_empty());
}

#[test]
fn flow_dump_pages_through_any_number_of_flows() {
    let r = Rig::new(&(port("a", 1, "") + &port("b", 2, "")), &[]);
    // One batch: every flow shares its table, priority and installation time.
    let n = FLOW_DUMP_MAX + 50;
    let flows: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "priority=100,ip,nw_dst=10.{}.{}.{},actions=drop",
                i >> 16,
                (i >> 8) & 255,
                i & 255
            )
        })
        .collect();
    r.call("flow/add", json!({"bridge": "br0", "flows": flows}));
    // Without a limit a page holds up to FLOW_DUMP_MAX flows or FLOW_DUMP_MAX_BYTES of text.
    let first = r.call("flow/dump", json!({"bridge": "br0"}));
    let texts = first["flows"].as_array().unwrap();
    let bytes: usize = texts.iter().map(|t| t.as_str().unwrap().len()).sum();
    assert!(texts.len() <= FLOW_DUMP_MAX && bytes <= FLOW_DUMP_MAX_BYTES);
    assert!(
        bytes > FLOW_DUMP_MAX_BYTES - 200,
        "a full page: {bytes} bytes"
    );
    assert!(first.get("next").is_some(), "more remain");
    let whole = r.all_flows(None);
    assert_eq!(whole.len(), n + 1, "every flow once, plus NORMAL");
    assert!(
        whole.last().unwrap().contains("priority=0 actions=NORMAL"),
        "{:?}",
        whole.last()
    );
    let mut unique = whole.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), whole.len(), "no flow twice");
    assert_eq!(r.all_flows(Some(997)), whole, "same order in small pages");
    assert!(r
        .refused(
            "flow/dump",
            json!({"bridge": "br0", "limit": FLOW_DUMP_MAX + 1})
        )
        .contains("out of range"));

    // A batch answer is bounded too: at most MAX_BATCH calls, each at most one page.
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"flow/dump","params":{"bridge":"br0"}}"#;
    let batch = |k: usize| format!("[{}]", vec![call; k].join(","));
    let e = respond(&r.ctl, batch(MAX_BATCH + 1).as_bytes()).unwrap();
    assert_eq!(e["error"]["code"], INVALID_REQUEST, "{e}");
    let ok = respond(&r.ctl, batch(2).as_bytes()).unwrap();
    for answer in ok.as_array().unwrap() {
        let page = &answer["result"];
        let bytes: usize = page["flows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().len())
            .sum();
        assert!(
            bytes <= FLOW_DUMP_MAX_BYTES && page.get("next").is_some(),
            "{bytes}"
        );
    }
}

#[test]
fn a_flow_dump_cursor_survives_changes_before_it() {
    let r = Rig::new(&(port("a", 1, "") + &port("b", 2, "")), &[]);
    for i in 0..10 {
        let f = format!("priority={},ip,nw_dst=10.0.0.{i},actions=drop", 100 - i);
        r.call("flow/add", json!({"bridge": "br0", "flow": f}));
    }
    let page = r.call("flow/dump", json!({"bridge": "br0", "limit": 4}));
    assert_eq!(page["flows"].as_array().unwrap().len(), 4);
    // Flows already returned go and new ones arrive ahead of the cursor: the next page still
    // starts with the fifth flow.
    r.call(
        "flow/del",
        json!({"bridge": "br0", "match": "ip,nw_dst=10.0.0.1", "strict": false}),
    );
    r.call(
        "flow/add",
        json!({"bridge": "br0", "flow": "priority=500,ip,actions=drop"}),
    );
    let rest = r.call(
        "flow/dump",
        json!({"bridge": "br0", "limit": 4, "after": page["next"]}),
    );
    let rest: Vec<&str> = rest["flows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        rest[0].contains("priority=96,ip,nw_dst=10.0.0.4 "),
        "{rest:?}"
    );
    assert!(
        rest[3].contains("priority=93,ip,nw_dst=10.0.0.7 "),
        "{rest:?}"
    );
}
