//! Config loader tests: the happy path with every field, defaults, and one test per validation
//! with the exact message (file, line, field) asserted.

use super::build::{flow_file_lines, parse_with_cores};
use super::*;
use datapath::config::*;

/// The usable cores the tests pretend the machine has.
pub(super) const CORES: &[usize] = &[0, 1, 2, 3];

/// `text` as `switch.toml`, which must be accepted.
pub(super) fn ok(text: &str) -> SwitchConfig {
    match parse_with_cores(text, Path::new("switch.toml"), CORES) {
        Ok(c) => c,
        Err(e) => panic!("unexpected error: {e}"),
    }
}

/// Why `text` as `switch.toml` is refused (it must be).
pub(super) fn err(text: &str) -> String {
    match parse_with_cores(text, Path::new("switch.toml"), CORES) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// A one-bridge config whose single port has the extra `port` lines.
pub(super) fn one_port(port: &str) -> String {
    format!("[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"p1\"\nkind = \"mock\"\n{port}")
}

const FULL: &str = r#"
[switch]
rundir = "/tmp/dvs-test"
pmd_cores = [1, 2]
pool_frames = 4096
mtu = 9000
stats_interval_ms = 500
pmd_sleep_max_us = 250
upcall_rate_per_port = 5000

[[bridge]]
name = "br0"
datapath_id = "0x2a"
mac_aging_secs = 60
mac_limit = 10
flows = [
  "table=0,priority=100,ip,nw_dst=10.0.0.5,actions=drop",
  "  priority=0,actions=NORMAL ",
]

[[bridge.port]]
name = "vm1"
kind = "afpacket"
interface = "veth-vm1"
ofport = 2
vlan_mode = "access"
tag = 10
mac_limit = 16

[[bridge.port]]
name = "up0"
kind = "tap"
vlan_mode = "trunk"
trunks = "10,20-30"
native_vlan = 5
rxq = 1

[[bridge.port]]
name = "m0"
kind = "mock"
trunks_note_is_not_a_key_here = 0
"#;

#[test]
fn full_config_is_typed() {
    // The last port carries an unknown key on purpose; check the rest without it first.
    let text = FULL.replace("trunks_note_is_not_a_key_here = 0\n", "");
    let c = ok(&text);
    assert_eq!(c.path, PathBuf::from("switch.toml"));
    assert_eq!(
        c.switch,
        SwitchSection {
            rundir: PathBuf::from("/tmp/dvs-test"),
            pmd_cores: vec![1, 2],
            pool_frames: 4096,
            mtu: 9000,
            stats_interval_ms: 500,
            pmd_sleep_max_us: 250,
            upcall_rate_per_port: 5000,
            dpdk_eal_args: Vec::new(),
            remote_openflow: false,
            socket_group: None,
            ssl: None,
        }
    );
    assert_eq!(
        c.switch.rundir.join(switchd_api::SOCKET_NAME),
        PathBuf::from("/tmp/dvs-test/dvs-switchd.sock")
    );
    let b = &c.bridges[0];
    assert_eq!(
        (
            b.name.as_str(),
            b.datapath_id,
            b.mac_aging_secs,
            b.mac_limit
        ),
        ("br0", 0x2a, 60, 10)
    );
    assert_eq!(b.location.to_string(), "switch.toml:11: bridge[0]");
    assert_eq!(b.flows.len(), 2);
    assert_eq!(
        b.flows[0].text,
        "table=0,priority=100,ip,nw_dst=10.0.0.5,actions=drop"
    );
    assert_eq!(
        b.flows[0].source.to_string(),
        "switch.toml:17: bridge[0].flows[0]"
    );
    assert_eq!(b.flows[1].text, "priority=0,actions=NORMAL");
    assert_eq!(b.flows[1].source.line, 18);
    assert_eq!(
        b.flows[1].error("bad action").to_string(),
        "switch.toml:18: bridge[0].flows[1]: bad action"
    );

    let [vm1, up0, m0] = &b.ports[..] else {
        panic!("3 ports expected")
    };
    assert_eq!(vm1.kind, PortKind::AfPacket);
    assert_eq!(vm1.interface, "veth-vm1");
    assert_eq!(vm1.ofport, 2);
    assert_eq!(vm1.vlan, VlanMode::Access { tag: 10 });
    assert_eq!(vm1.mac_limit, Some(16));
    assert_eq!(vm1.rxq, 1);
    assert_eq!(
        vm1.location.to_string(),
        "switch.toml:21: bridge[0].port[0]"
    );
    // Auto-assigned ofports skip the explicit 2.
    assert_eq!((up0.ofport, m0.ofport), (1, 3));
    assert_eq!(up0.interface, "up0");
    assert_eq!(up0.rxq, 1);
    let VlanMode::Trunk { allowed, native } = &up0.vlan else {
        panic!("trunk expected")
    };
    assert_eq!(*native, Some(5));
    // The native VLAN joins the allowed set.
    assert_eq!(allowed.to_string(), "5,10,20-30");
    assert_eq!(m0.vlan, VlanMode::None);
    assert_eq!(m0.mac_limit, None);
}

#[test]
fn defaults() {
    let c = ok("[[bridge]]\nname = \"a\"\n[[bridge]]\nname = \"b\"\ndatapath_id = 1\n");
    assert_eq!(c.switch.rundir, PathBuf::from("/run/dvs"));
    assert_eq!(c.switch.pmd_cores, vec![0]);
    assert_eq!(
        (
            c.switch.pool_frames,
            c.switch.mtu,
            c.switch.stats_interval_ms
        ),
        (8192, 1500, 1000)
    );
    // "a" has no datapath_id and avoids b's explicit 1.
    assert_eq!((c.bridges[0].datapath_id, c.bridges[1].datapath_id), (2, 1));
    assert_eq!(
        (c.bridges[0].mac_aging_secs, c.bridges[0].mac_limit),
        (300, 1024)
    );
    assert!(c.bridges[0].flows.is_empty() && c.bridges[0].ports.is_empty());
    let c = ok("");
    assert!(c.bridges.is_empty());
}

#[test]
fn default_core_follows_affinity() {
    let c = parse_with_cores("", Path::new("s.toml"), &[2, 3]).unwrap();
    assert_eq!(c.switch.pmd_cores, vec![2]);
}

#[test]
fn serialized_vlan_mode_uses_config_names() {
    let c = ok(&one_port("vlan_mode = \"trunk\"\ntrunks = [10, 11, 12]\n"));
    let v = serde_json::to_value(&c.bridges[0].ports[0].vlan).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"vlan_mode": "trunk", "trunks": "10-12", "native_vlan": null})
    );
}

#[test]
fn syntax_error_has_line() {
    assert_eq!(
        err("[switch]\nmtu = 1500\n[bridge\n"),
        "switch.toml:3: invalid table header; expected `.`, `]`"
    );
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    assert_eq!(
        err("[switch]\nmtu = 1500\nmtus = 1\n"),
        "switch.toml:3: switch.mtus: unknown field `mtus`, expected one of `rundir`, `pmd_cores`, \
         `pool_frames`, `mtu`, `stats_interval_ms`, `pmd_sleep_max_us`, `upcall_rate_per_port`, `dpdk_eal_args`, `remote_openflow`, \
         `socket_group`, `ssl_private_key`, `ssl_certificate`, `ssl_ca_cert`"
    );
    let e = err(FULL);
    assert!(
        e.starts_with(
            "switch.toml:41: bridge[0].port[2].trunks_note_is_not_a_key_here: unknown field"
        ),
        "{e}"
    );
    assert!(err("[swich]\n").starts_with("switch.toml:1: swich: unknown field `swich`"));
}

#[test]
fn wrong_type_and_missing_key() {
    assert_eq!(
        err("[switch]\nmtu = \"big\"\n"),
        "switch.toml:2: switch.mtu: invalid type: string \"big\", expected i64"
    );
    assert_eq!(
        err("[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"p\"\n"),
        "switch.toml:3: bridge[0].port[0]: missing field `kind`"
    );
    assert_eq!(
        err(&one_port("trunks = true\n")),
        "switch.toml:6: bridge[0].port[0].trunks: invalid type: boolean `true`, expected a VLAN list \
         string like \"10,20-30\" or an array of VLAN ids"
    );
}

#[test]
fn switch_section_ranges() {
    assert_eq!(
        err("[switch]\nmtu = 100\n"),
        "switch.toml:2: switch.mtu: MTU 100 out of range 576..9000"
    );
    assert_eq!(
        err("[switch]\nmtu = 9001\n"),
        "switch.toml:2: switch.mtu: MTU 9001 out of range 576..9000"
    );
    assert_eq!(ok("[switch]\nmtu = 576\n").switch.mtu, 576);
    assert_eq!(
        err("[switch]\npool_frames = 10\n"),
        "switch.toml:2: switch.pool_frames: pool_frames 10 out of range 64..1048576"
    );
    assert_eq!(
        err("[switch]\nstats_interval_ms = -1\n"),
        "switch.toml:2: switch.stats_interval_ms: must not be negative (got -1)"
    );
    assert_eq!(
        err("[switch]\npmd_sleep_max_us = 20000\n"),
        "switch.toml:2: switch.pmd_sleep_max_us: pmd_sleep_max_us 20000 out of range 0..10000"
    );
    assert_eq!(
        err("[switch]\nrundir = \"\"\n"),
        "switch.toml:2: switch.rundir: must not be empty"
    );
    let long = format!("[switch]\nrundir = \"/{}\"\n", "d".repeat(100));
    assert!(
        err(&long).ends_with("/dvs-switchd.sock is longer than 107 bytes"),
        "{}",
        err(&long)
    );
}

#[test]
fn relative_paths_follow_the_config_file() {
    let c = parse_with_cores(
        "[switch]\nrundir = \"run\"\n",
        Path::new("/etc/dvs/switch.toml"),
        CORES,
    )
    .unwrap();
    assert_eq!(c.switch.rundir, PathBuf::from("/etc/dvs/run"));
}

#[test]
fn pmd_cores() {
    assert_eq!(
        err("[switch]\npmd_cores = []\n"),
        "switch.toml:2: switch.pmd_cores: at least one PMD core is required"
    );
    assert_eq!(
        err("[switch]\npmd_cores = [1,\n  7]\n"),
        "switch.toml:3: switch.pmd_cores[1]: core 7 is not available (usable cores: 0-3)"
    );
    assert_eq!(
        err("[switch]\npmd_cores = [-1]\n"),
        "switch.toml:2: switch.pmd_cores[0]: core -1 is not available (usable cores: 0-3)"
    );
    assert_eq!(
        err("[switch]\npmd_cores = [1, 1]\n"),
        "switch.toml:2: switch.pmd_cores[1]: core 1 listed twice"
    );
    let e = parse_with_cores(
        "[switch]\npmd_cores = [2]\n",
        Path::new("s.toml"),
        &[0, 1, 4],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "s.toml:2: switch.pmd_cores[0]: core 2 is not available (usable cores: 0-1,4)"
    );
}

#[test]
fn bridge_checks() {
    assert_eq!(
        err("[[bridge]]\nname = \"br0\"\n\n[[bridge]]\nname = \"br0\"\n"),
        "switch.toml:5: bridge[1].name: duplicate bridge name \"br0\" (first defined at line 2)"
    );
    assert_eq!(
        err("[[bridge]]\nname = \"\"\n"),
        "switch.toml:2: bridge[0].name: bridge name must not be empty"
    );
    assert_eq!(
        err("[[bridge]]\nname = \"br 0\"\n"),
        "switch.toml:2: bridge[0].name: bridge name \"br 0\" contains ' ' (allowed: letters, digits, '_', '.', '-')"
    );
    assert_eq!(
        err("[[bridge]]\nname = \"a\"\ndatapath_id = \"0xzz\"\n"),
        "switch.toml:3: bridge[0].datapath_id: bad datapath_id \"0xzz\" (expected up to 16 hex digits, e.g. \"0x1\")"
    );
    assert_eq!(
        err("[[bridge]]\nname = \"a\"\ndatapath_id = -3\n"),
        "switch.toml:3: bridge[0].datapath_id: datapath_id -3 must not be negative"
    );
    assert_eq!(
        err("[[bridge]]\nname = \"a\"\ndatapath_id = 16\n[[bridge]]\nname = \"b\"\ndatapath_id = \"10\"\n"),
        "switch.toml:6: bridge[1].datapath_id: datapath_id 0x10 already used by the bridge at line 3"
    );
    assert_eq!(
        ok("[[bridge]]\nname = \"a\"\ndatapath_id = \"FFFFFFFFFFFFFFFF\"\n").bridges[0].datapath_id,
        u64::MAX
    );
    assert_eq!(
        err("[[bridge]]\nname = \"a\"\nmac_limit = -1\n"),
        "switch.toml:3: bridge[0].mac_limit: must not be negative (got -1)"
    );
    assert_eq!(
        err("[[bridge]]\nname = \"a\"\nmac_aging_secs = -5\n"),
        "switch.toml:3: bridge[0].mac_aging_secs: must not be negative (got -5)"
    );
    assert_eq!(
        err("[[bridge]]\nname = \"a\"\nflows = [\"actions=drop\", \"  \"]\n"),
        "switch.toml:3: bridge[0].flows[1]: empty flow"
    );
}

#[test]
fn port_names_are_unique_switch_wide() {
    let text = "[[bridge]]\nname = \"a\"\n[[bridge.port]]\nname = \"vm1\"\nkind = \"mock\"\n\
                [[bridge]]\nname = \"b\"\n[[bridge.port]]\nname = \"vm1\"\nkind = \"mock\"\n";
    assert_eq!(err(text), "switch.toml:9: bridge[1].port[0].name: duplicate port name \"vm1\" (first defined at line 4)");
}

#[test]
fn ofports() {
    assert_eq!(
        err(&one_port("ofport = 0\n")),
        "switch.toml:6: bridge[0].port[0].ofport: ofport 0 out of range 1..0xffffff00"
    );
    assert_eq!(
        err(&one_port("ofport = 4294967041\n")),
        "switch.toml:6: bridge[0].port[0].ofport: ofport 4294967041 out of range 1..0xffffff00"
    );
    assert_eq!(
        ok(&one_port("ofport = 4294967040\n")).bridges[0].ports[0].ofport,
        0xffff_ff00
    );
    let text =
        one_port("ofport = 7\n") + "[[bridge.port]]\nname = \"p2\"\nkind = \"mock\"\nofport = 7\n";
    assert_eq!(
        err(&text),
        "switch.toml:10: bridge[0].port[1].ofport: ofport 7 already used by port \"p1\" (line 6)"
    );
    // Same ofport on different bridges is fine.
    let text = "[[bridge]]\nname = \"a\"\n[[bridge.port]]\nname = \"x\"\nkind = \"mock\"\nofport = 1\n\
                [[bridge]]\nname = \"b\"\n[[bridge.port]]\nname = \"y\"\nkind = \"mock\"\nofport = 1\n";
    assert_eq!(ok(text).bridges[1].ports[0].ofport, 1);
}

#[test]
fn port_kind_interface_and_rxq() {
    let base = "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"p1\"\n";
    assert_eq!(
        err(&format!("{base}kind = \"dpdk2\"\n")),
        "switch.toml:5: bridge[0].port[0].kind: unknown port kind \"dpdk2\" (expected afpacket, afxdp, dpdk, vhost, tap or mock)"
    );
    assert_eq!(
        err(&format!("{base}kind = \"tap\"\ninterface = \"a-very-long-name-0\"\n")),
        "switch.toml:6: bridge[0].port[0].interface: interface name \"a-very-long-name-0\" must be 1..15 bytes long"
    );
    assert_eq!(
        err("[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"a-very-long-name-0\"\nkind = \"afpacket\"\n"),
        "switch.toml:4: bridge[0].port[0].name: interface name \"a-very-long-name-0\" must be 1..15 bytes long"
    );
    assert_eq!(
        err(&format!("{base}kind = \"tap\"\ninterface = \"a/b\"\n")),
        "switch.toml:6: bridge[0].port[0].interface: interface name \"a/b\" contains '/', ':' or whitespace"
    );
    let text = format!("{base}kind = \"afpacket\"\ninterface = \"eth0\"\n[[bridge.port]]\nname = \"p2\"\nkind = \"afpacket\"\ninterface = \"eth0\"\n");
    assert_eq!(
        err(&text),
        "switch.toml:10: bridge[0].port[1].interface: interface \"eth0\" is already used by port \"p1\""
    );
    // Mock ports have no kernel interface, so names may repeat and be long.
    assert_eq!(
        ok(&one_port("interface = \"a-very-long-name-0\"\n")).bridges[0].ports[0].interface,
        "a-very-long-name-0"
    );
    assert_eq!(
        err(&one_port("rxq = 0\n")),
        "switch.toml:6: bridge[0].port[0].rxq: rxq 0 out of range 1..64"
    );
    assert_eq!(
        err(&format!("{base}kind = \"afpacket\"\nrxq = 2\n")),
        "switch.toml:6: bridge[0].port[0].rxq: afpacket ports have exactly one rx queue"
    );
    assert_eq!(
        err(&one_port("mac_limit = -2\n")),
        "switch.toml:6: bridge[0].port[0].mac_limit: must not be negative (got -2)"
    );
}

#[test]
fn vlan_ranges() {
    assert_eq!(
        err(&one_port("vlan_mode = \"access\"\ntag = 5000\n")),
        "switch.toml:7: bridge[0].port[0].tag: VLAN 5000 out of range 1..4094"
    );
    assert_eq!(
        err(&one_port("vlan_mode = \"access\"\ntag = 0\n")),
        "switch.toml:7: bridge[0].port[0].tag: VLAN 0 out of range 1..4094"
    );
    assert_eq!(
        err(&one_port("vlan_mode = \"trunk\"\ntrunks = \"10,4095\"\n")),
        "switch.toml:7: bridge[0].port[0].trunks: VLAN 4095 out of range 1..4094"
    );
    assert_eq!(
        err(&one_port("vlan_mode = \"trunk\"\ntrunks = [10, 5000]\n")),
        "switch.toml:7: bridge[0].port[0].trunks: VLAN 5000 out of range 1..4094"
    );
    assert_eq!(
        err(&one_port("vlan_mode = \"trunk\"\ntrunks = []\n")),
        "switch.toml:7: bridge[0].port[0].trunks: empty VLAN list"
    );
    assert_eq!(
        err(&one_port("vlan_mode = \"trunk\"\ntrunks = \"30-20\"\n")),
        "switch.toml:7: bridge[0].port[0].trunks: bad VLAN range 30-20 (low end above high end)"
    );
    assert_eq!(
        err(&one_port(
            "vlan_mode = \"trunk\"\ntrunks = \"10\"\nnative_vlan = 4095\n"
        )),
        "switch.toml:8: bridge[0].port[0].native_vlan: VLAN 4095 out of range 1..4094"
    );
}

#[test]
fn vlan_consistency() {
    assert_eq!(
        err(&one_port("vlan_mode = \"access\"\n")),
        "switch.toml:6: bridge[0].port[0].vlan_mode: access port needs a tag"
    );
    assert_eq!(
        err(&one_port("vlan_mode = \"trunk\"\n")),
        "switch.toml:6: bridge[0].port[0].vlan_mode: trunk port needs trunks"
    );
    assert_eq!(
        err(&one_port("tag = 10\n")),
        "switch.toml:6: bridge[0].port[0].tag: tag is only valid with vlan_mode = \"access\""
    );
    assert_eq!(
        err(&one_port("trunks = \"10\"\n")),
        "switch.toml:6: bridge[0].port[0].trunks: trunks is only valid with vlan_mode = \"trunk\""
    );
    assert_eq!(
        err(&one_port("native_vlan = 3\n")),
        "switch.toml:6: bridge[0].port[0].native_vlan: native_vlan is only valid with vlan_mode = \"trunk\""
    );
    assert_eq!(
        err(&one_port("vlan_mode = \"access\"\ntag = 10\nnative_vlan = 3\n")),
        "switch.toml:8: bridge[0].port[0].native_vlan: native_vlan is only valid with vlan_mode = \"trunk\" \
         (an access port's tag is its untagged VLAN)"
    );
    assert_eq!(
        err(&one_port(
            "vlan_mode = \"access\"\ntag = 10\ntrunks = \"10\"\n"
        )),
        "switch.toml:8: bridge[0].port[0].trunks: trunks is only valid with vlan_mode = \"trunk\""
    );
    assert_eq!(
        err(&one_port(
            "vlan_mode = \"trunk\"\ntrunks = \"10\"\ntag = 10\n"
        )),
        "switch.toml:8: bridge[0].port[0].tag: tag is only valid with vlan_mode = \"access\" \
         (a trunk's untagged VLAN is native_vlan)"
    );
    assert_eq!(
        err(&one_port("vlan_mode = \"hybrid\"\n")),
        "switch.toml:6: bridge[0].port[0].vlan_mode: unknown vlan_mode \"hybrid\" (expected none, access or trunk)"
    );
    // Native inside trunks, explicit "none".
    let c = ok(&one_port(
        "vlan_mode = \"trunk\"\ntrunks = \"1-3\"\nnative_vlan = 2\n",
    ));
    assert_eq!(
        c.bridges[0].ports[0].vlan,
        VlanMode::Trunk {
            allowed: "1-3".parse().unwrap(),
            native: Some(2)
        }
    );
    assert_eq!(
        ok(&one_port("vlan_mode = \"none\"\n")).bridges[0].ports[0].vlan,
        VlanMode::None
    );
}

#[test]
fn flows_file_is_read_relative_to_the_config() {
    let dir = std::env::temp_dir().join(format!("dvs-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("flows.txt"),
        "# comment\n\npriority=1,actions=drop\n  # indented comment\ntable=1, actions=NORMAL\n",
    )
    .unwrap();
    let cfg = dir.join("switch.toml");
    std::fs::write(&cfg, "[[bridge]]\nname = \"br0\"\nflows = [\"priority=9,actions=drop\"]\nflows_file = \"flows.txt\"\n").unwrap();
    let c = load(&cfg).unwrap();
    let f = &c.bridges[0].flows;
    assert_eq!(f.len(), 3);
    assert_eq!(f[0].source.file, cfg);
    assert_eq!(f[1].text, "priority=1,actions=drop");
    assert_eq!(
        f[1].source,
        Location {
            file: dir.join("flows.txt"),
            line: 3,
            field: "bridge[0].flows_file".into()
        }
    );
    assert_eq!(f[2].text, "table=1, actions=NORMAL");
    assert_eq!(f[2].source.line, 5);

    std::fs::write(
        &cfg,
        "[[bridge]]\nname = \"br0\"\nflows_file = \"missing.txt\"\n",
    )
    .unwrap();
    let e = load(&cfg).unwrap_err().to_string();
    let want = format!(
        "{}:3: bridge[0].flows_file: cannot read {}: No such file or directory (os error 2)",
        cfg.display(),
        dir.join("missing.txt").display()
    );
    assert_eq!(e, want);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flow_file_lines_skip_comments() {
    let lines = flow_file_lines("a\n#b\n\n c \n", Path::new("f"), "x");
    let got: Vec<(&str, usize)> = lines
        .iter()
        .map(|l| (l.text.as_str(), l.source.line))
        .collect();
    assert_eq!(got, vec![("a", 1), ("c", 4)]);
}

#[test]
fn read_errors_and_error_helpers() {
    let e = load(Path::new("/nonexistent/dvs.toml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/nonexistent/dvs.toml: cannot read: No such file or directory (os error 2)"
    );
    assert!(e.location().is_none());
    let loc = Location {
        file: "f.toml".into(),
        line: 3,
        field: "bridge[0].flows[1]".into(),
    };
    let e = ConfigError::at(loc.clone(), "unknown action \"foo\"");
    assert_eq!(
        e.to_string(),
        "f.toml:3: bridge[0].flows[1]: unknown action \"foo\""
    );
    assert_eq!(e.location(), Some(&loc));
    let bare = Location {
        file: "f.toml".into(),
        line: 1,
        field: String::new(),
    };
    assert_eq!(bare.to_string(), "f.toml:1");
}

#[test]
fn usable_cores_is_not_empty() {
    let cores = usable_cores();
    assert!(!cores.is_empty());
    assert!(cores.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn backend_keys_belong_to_their_kind() {
    let base =
        "[switch]\npmd_cores = [0]\n[[bridge]]\nname = \"b\"\n[[bridge.port]]\nname = \"p\"\n";
    let c = ok(&format!(
        "{base}kind = \"vhost\"\nsocket = \"/tmp/vm1.sock\"\nvhost_role = \"server\"\nmac = \"02:00:00:00:00:01\"\nrxq = 2\n"
    ));
    assert_eq!(
        c.bridges[0].ports[0].backend,
        Backend::Vhost {
            socket: PathBuf::from("/tmp/vm1.sock"),
            role: VhostRole::Server,
            mac: Some([2, 0, 0, 0, 0, 1]),
        }
    );
    assert_eq!(c.bridges[0].ports[0].rxq, 2);
    let e = err(&format!(
        "{base}kind = \"afpacket\"\nsocket = \"/tmp/x.sock\"\n"
    ));
    assert!(
        e.contains("switch.toml:8: bridge[0].port[0].socket: not a setting of afpacket ports"),
        "{e}"
    );
    let e = err(&format!("{base}kind = \"vhost\"\n"));
    assert!(
        e.contains("bridge[0].port[0].socket: vhost ports need a socket path"),
        "{e}"
    );
    let e = err(&format!(
        "{base}kind = \"vhost\"\nsocket = \"/s\"\nmac = \"02:00\"\n"
    ));
    assert!(
        e.contains("switch.toml:9: bridge[0].port[0].mac: bad MAC address"),
        "{e}"
    );
    let c = ok(&format!(
        "{base}kind = \"dpdk\"\ndevargs = \"net_tap0,iface=t0\"\n"
    ));
    assert_eq!(
        c.bridges[0].ports[0].backend,
        Backend::Dpdk {
            devargs: "net_tap0,iface=t0".into()
        }
    );
    let c = ok(&format!(
        "{base}kind = \"afxdp\"\ninterface = \"veth1\"\nxdp_mode = \"generic\"\n"
    ));
    assert_eq!(
        c.bridges[0].ports[0].backend,
        Backend::AfXdp {
            mode: XdpMode::Generic,
            queue: 0
        }
    );
    let e = err(&format!("{base}kind = \"afxdp\"\nxdp_mode = \"fast\"\n"));
    assert!(e.contains("xdp_mode: unknown xdp_mode \"fast\""), "{e}");
}

#[test]
fn port_mtu_defaults_to_the_switch_and_may_not_exceed_it() {
    let jumbo = |port: &str| format!("[switch]\nmtu = 9000\n{}", one_port(port));
    assert_eq!(ok(&one_port("")).bridges[0].ports[0].mtu, 1500);
    assert_eq!(ok(&jumbo("")).bridges[0].ports[0].mtu, 9000);
    assert_eq!(ok(&jumbo("mtu = 1500\n")).bridges[0].ports[0].mtu, 1500);
    assert_eq!(
        err(&one_port("mtu = 9000\n")),
        "switch.toml:6: bridge[0].port[0].mtu: port MTU 9000 is above the switch MTU 1500 (the \
         switch's packet buffers hold 1500-byte payloads; raise [switch] mtu to 9000 or more)"
    );
    assert_eq!(
        err(&jumbo("mtu = 9001\n")),
        "switch.toml:8: bridge[0].port[0].mtu: MTU 9001 out of range 576..9000"
    );
    assert_eq!(
        err(&jumbo("mtu = 100\n")),
        "switch.toml:8: bridge[0].port[0].mtu: MTU 100 out of range 576..9000"
    );
}
