use super::*;
use serde_json::json;

fn r(cmd: SwitchCmd, v: Value) -> String {
    render(&cmd, &v).unwrap()
}

fn br(s: &str) -> String {
    s.to_string()
}

#[test]
fn show_tree() {
    let v = json!({
        "version": "0.1.0",
        "pmds": [{"id": 0, "core": 1}],
        "bridges": [{
            "name": "br0", "datapath_id": 42,
            "ports": [
                {"name": "vm1", "ofport": 1, "kind": "afpacket", "interface": "veth-vm1",
                 "vlan_mode": "access", "tag": 10, "trunks": null, "native_vlan": null, "link_up": true},
                {"name": "up0", "ofport": 2, "kind": "tap", "interface": "up0",
                 "vlan_mode": "trunk", "tag": null, "trunks": "5,10,20-30", "native_vlan": 5, "link_up": false},
                {"name": "m", "ofport": 3, "kind": "mock", "interface": "m",
                 "vlan_mode": "none", "tag": null, "trunks": null, "native_vlan": null, "link_up": true}
            ]
        }]
    });
    let want = "\
dvs-switchd 0.1.0
    pmd 0 core 1
    Bridge br0
        datapath_id: 000000000000002a
        Port vm1
            ofport: 1
            tag: 10
            Interface veth-vm1
                type: afpacket
                link: up
        Port up0
            ofport: 2
            trunks: 5,10,20-30
            native_vlan: 5
            Interface up0
                type: tap
                link: down
        Port m
            ofport: 3
            Interface m
                type: mock
                link: up
";
    assert_eq!(r(SwitchCmd::Show, v), want);
    let e = render(&SwitchCmd::Show, &json!([])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unexpected result from switch/show: expected an object with \"bridges\""
    );
}

#[test]
fn port_table_grouped_by_bridge() {
    let row = |b: &str, n: &str, of: u32, up: bool, rx: u64| {
        json!({"bridge": b, "name": n, "ofport": of, "link_up": up,
                   "rx_packets": rx, "rx_bytes": rx * 100, "rx_dropped": 1, "rx_errors": 0,
                   "tx_packets": 7, "tx_bytes": 700, "tx_dropped": 0, "tx_errors": 2})
    };
    let v = json!([
        row("br0", "vm1", 1, true, 10),
        row("br1", "x", 1, true, 0),
        row("br0", "vm2", 2, false, 3)
    ]);
    let mut v = v;
    v[0]["drops"] = json!({"runt_frame": 0, "src_mac_multicast": 1});
    v[0]["rx_runts_padded"] = json!(4);
    let want = "\
bridge br0: 2 ports
  port 1 (vm1, up): rx pkts=10, bytes=1000, drop=1, errs=0
                    tx pkts=7, bytes=700, drop=0, errs=2
                    rx drops by reason: src_mac_multicast=1
                    short frames padded to 60 bytes: 4
  port 2 (vm2, down): rx pkts=3, bytes=300, drop=1, errs=0
                      tx pkts=7, bytes=700, drop=0, errs=2
bridge br1: 1 port
  port 1 (x, up): rx pkts=0, bytes=0, drop=1, errs=0
                  tx pkts=7, bytes=700, drop=0, errs=2
";
    assert_eq!(r(SwitchCmd::Ports { bridge: None }, v), want);
    assert!(render(&SwitchCmd::Ports { bridge: None }, &json!({})).is_err());
}

#[test]
fn drops_sorted_nonzero_first() {
    let v = json!({"runt_frame": 0, "table_miss": 5, "vlan_not_allowed": 120, "acl": 5, "rule_drop": 0});
    let want = "\
vlan_not_allowed: 120
acl:                5
table_miss:         5
rule_drop:          0
runt_frame:         0
";
    assert_eq!(r(SwitchCmd::Drops { ports: false }, v), want);
    assert_eq!(
        r(SwitchCmd::Drops { ports: false }, json!({})),
        "no drop counters\n"
    );
}

#[test]
fn drops_by_port() {
    let v = json!({
        "reasons": {"src_mac_multicast": 3, "bad_ipv4_header": 1, "table_miss": 0},
        "ports": [
            {"bridge": "br0", "name": "vm1", "ofport": 1, "rx_dropped": 4,
             "drops": {"bad_ipv4_header": 1, "src_mac_multicast": 3}},
            {"bridge": "br0", "name": "vm2", "ofport": 2, "rx_dropped": 0, "drops": {}}
        ]
    });
    let want = "\
src_mac_multicast: 3
bad_ipv4_header:   1
table_miss:        0

by ingress port:
  br0 port 1 (vm1): src_mac_multicast=3, bad_ipv4_header=1
";
    let cmd = SwitchCmd::Drops { ports: true };
    assert_eq!(r(cmd.clone(), v), want);
    let none = json!({"reasons": {"rule_drop": 0}, "ports": []});
    assert_eq!(
        r(cmd.clone(), none),
        "rule_drop: 0\n\nby ingress port:\n  no port dropped anything\n"
    );
    assert!(render(&cmd, &json!([])).is_err());
}

#[test]
fn pmd_stats_block() {
    let v = json!([{"id": 0, "core": 1, "packets": 1000, "batches": 50, "emc_hits": 900,
                        "megaflow_hits": 80, "megaflows": 4, "megaflow_full": 0,
                        "classifier_hits": 10, "upcalls": 10, "emc_hit_rate": 0.9,
                        "busy_cycles": 3000, "idle_cycles": 1000, "cycles_per_packet": 3.0,
                        "avg_batch": 20.0}]);
    let want = "\
pmd thread 0 core 1:
  packets received: 1000
  batches: 50 (avg 20.0 packets/batch)
  emc hits: 900
  megaflow hits: 80
  classifier hits: 10
  upcalls: 10
  megaflows: 4 (inserts refused when full: 0)
  emc hit rate: 90.0 %
  idle cycles: 1000 (25.0 %)
  processing cycles: 3000 (75.0 %)
  avg cycles per packet: 3.0
";
    assert_eq!(r(SwitchCmd::PmdStats, v), want);
    // No cycles yet: no division by zero.
    let idle = r(SwitchCmd::PmdStats, json!([{"id": 1, "core": 0}]));
    assert!(idle.contains("  idle cycles: 0 (0.0 %)\n"), "{idle}");
}

#[test]
fn rxq_listing() {
    let v = json!([
        {"pmd": 0, "core": 0, "rxqs": [{"port": "vm1", "queue": 0, "packets": 12},
                                       {"port": "up0", "queue": 1, "packets": 0}]},
        {"pmd": 1, "core": 1, "rxqs": []}
    ]);
    let want = "\
pmd thread 0 core 0:
  port: vm1              queue-id:  0  packets: 12
  port: up0              queue-id:  1  packets: 0
pmd thread 1 core 1:
  (no rx queues)
";
    assert_eq!(r(SwitchCmd::RxqShow, v), want);
}

#[test]
fn flows_macs_trace_and_counts() {
    let v =
        json!({"flows": [" table=0, priority=100,ip actions=drop", " priority=0 actions=NORMAL"]});
    assert_eq!(
        r(
            SwitchCmd::DumpFlows {
                bridge: br("br0"),
                table: None
            },
            v
        ),
        " table=0, priority=100,ip actions=drop\n priority=0 actions=NORMAL\n"
    );
    let v = json!([{"port": "vm1", "ofport": 1, "vlan": 10, "mac": "aa:bb:cc:dd:ee:01", "age": 3},
                       {"ofport": 2, "vlan": 0, "mac": "aa:bb:cc:dd:ee:02", "age": 120}]);
    let want = " port  VLAN  MAC                Age
  vm1    10  aa:bb:cc:dd:ee:01    3
    2     0  aa:bb:cc:dd:ee:02  120
";
    assert_eq!(r(SwitchCmd::DumpMacs { bridge: br("br0") }, v), want);
    let t = SwitchCmd::Trace {
        bridge: br("br0"),
        flow: br("in_port=1"),
    };
    assert_eq!(
        r(
            t.clone(),
            json!({"text": "Flow: x\nDatapath actions: drop"})
        ),
        "Flow: x\nDatapath actions: drop\n"
    );
    assert!(render(&t, &json!({})).is_err());
    let d = SwitchCmd::DelFlows {
        bridge: br("br0"),
        matches: None,
        strict: false,
        all: true,
    };
    assert_eq!(r(d.clone(), json!({"deleted": 1})), "deleted 1 flow\n");
    assert_eq!(r(d, json!({"deleted": 3})), "deleted 3 flows\n");
    assert_eq!(r(SwitchCmd::MacFlush { bridge: br("br0") }, json!({})), "");
    assert_eq!(
        r(
            SwitchCmd::Call {
                method: br("x"),
                params: None
            },
            json!({"a": 1})
        ),
        "{\n  \"a\": 1\n}\n"
    );
}

#[test]
fn show_openflow_status() {
    let of = json!({
        "fail_mode": "secure", "fail_open": false,
        "controllers": [
            {"target": "tcp:127.0.0.1:6653", "state": "connected", "admitted": true,
             "role": "master", "state_secs": 12, "connections": 2, "last_error": null},
            {"target": "tcp:[::1]:6653", "state": "backoff", "admitted": false,
             "role": null, "state_secs": 3, "connections": 0,
             "last_error": "Connection refused"}
        ],
        "packet_io": {"packet_in_sent": 5, "packet_in_undelivered": 1,
                      "packet_in_send_errors": 0, "packet_out_sent": 7,
                      "packet_out_refused": 2, "async_dropped": 4,
                      "connections_refused": 1}
    });
    let mut o = String::new();
    openflow_lines(&mut o, &of);
    assert_eq!(
            o,
            "        fail_mode: secure
        Controller \"tcp:127.0.0.1:6653\": connected for 12s, admitted, role master, 2 connections
        Controller \"tcp:[::1]:6653\": backoff for 3s, 0 connections, last error: Connection refused
        packet_in: 5 sent, 1 undelivered, 0 send errors; packet_out: 7 sent, 2 refused; 4 async messages dropped (slow connections), 1 connections refused
"
        );
    let mut o = String::new();
    openflow_lines(
        &mut o,
        &json!({"fail_mode": "standalone", "fail_open": true}),
    );
    assert_eq!(o, "        fail_mode: standalone (failed open: NORMAL)\n");
}
