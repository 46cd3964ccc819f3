//! What a changed file means to the engine's applier: `reconfig::diff` and `keep_ofports` on
//! configurations read from text.

use datapath::config::{SwitchConfig, VlanMode};
use datapath::reconfig::{diff, keep_ofports, Change};
use std::path::Path;

fn cfg(text: &str) -> SwitchConfig {
    super::parse(text, Path::new("switch.toml")).expect("config")
}

const BASE: &str = "[switch]\npmd_cores = [0]\n\n[[bridge]]\nname = \"br0\"\n\
    mac_aging_secs = 300\n\n[[bridge.port]]\nname = \"a\"\nkind = \"mock\"\n\
    vlan_mode = \"access\"\ntag = 10\n\n[[bridge.port]]\nname = \"b\"\nkind = \"mock\"\n\
    vlan_mode = \"access\"\ntag = 10\n";

#[test]
fn the_same_configuration_written_differently_is_no_change() {
    // Comments, blank lines and the place of every value differ; the meaning does not.
    let moved = format!(
        "# reloaded\n\n{}",
        BASE.replace("mac_aging_secs = 300\n", "")
    )
    .replace(
        "name = \"br0\"\n",
        "name = \"br0\"\n\nmac_aging_secs = 300\n",
    );
    assert_eq!(diff(&cfg(BASE), &cfg(&moved)), vec![]);
}

#[test]
fn vlan_and_mac_settings_are_live_changes() {
    let new = BASE
        .replacen("tag = 10", "tag = 20", 1)
        .replace("mac_aging_secs = 300", "mac_aging_secs = 60\nmac_limit = 8");
    let d = diff(&cfg(BASE), &cfg(&new));
    assert_eq!(
        d,
        vec![
            Change::MacAging {
                bridge: "br0".into(),
                secs: 60
            },
            Change::MacLimit {
                bridge: "br0".into(),
                limit: 8
            },
            Change::PortVlan {
                bridge: "br0".into(),
                port: "a".into(),
                vlan: Box::new(VlanMode::Access { tag: 20 })
            },
        ]
    );
    assert!(d.iter().all(Change::live));
    assert_eq!(
        d[2].describe(),
        "bridge br0: port a: vlan_mode access, tag 20"
    );
}

#[test]
fn ports_bridges_and_openflow_settings_are_live_static_flows_are_not() {
    let new = BASE.replace("name = \"b\"", "name = \"c\"").replace(
        "mac_aging_secs = 300",
        "mac_aging_secs = 300\nfail_mode = \"secure\"\nflows = [\"priority=5,actions=drop\"]",
    ) + "\n[[bridge]]\nname = \"br1\"\n";
    let d = diff(&cfg(BASE), &cfg(&new));
    let text: Vec<String> = d.iter().map(Change::describe).collect();
    assert_eq!(
        text,
        [
            "bridge br0: flows changed",
            "bridge br0: fail_mode changed",
            "bridge br0: port b removed",
            "bridge br0: port c added",
            "bridge br1 added",
        ]
    );
    let live: Vec<bool> = d.iter().map(Change::live).collect();
    assert_eq!(live, [false, true, true, true, true]);
}

#[test]
fn assigned_ofports_stay_when_an_earlier_port_goes() {
    let three = BASE.to_string()
        + "\n[[bridge.port]]\nname = \"c\"\nkind = \"mock\"\nvlan_mode = \"access\"\ntag = 10\n";
    let running = cfg(&three);
    assert_eq!(running.bridges[0].ports[2].ofport, 3);
    // b goes, d comes: c keeps 3, d takes the lowest free number (2).
    let text = three.replace("name = \"b\"", "name = \"d\"");
    let mut desired = cfg(&text);
    keep_ofports(&running, &mut desired);
    let numbers: Vec<(&str, u32)> = desired.bridges[0]
        .ports
        .iter()
        .map(|p| (p.name.as_str(), p.ofport))
        .collect();
    assert_eq!(numbers, [("a", 1), ("d", 2), ("c", 3)]);
    let d: Vec<String> = diff(&running, &desired)
        .iter()
        .map(Change::describe)
        .collect();
    assert_eq!(
        d,
        ["bridge br0: port b removed", "bridge br0: port d added"]
    );
}

#[test]
fn a_port_s_backend_is_re_created_and_switch_settings_need_a_restart() {
    let new = BASE
        .replace("pmd_cores = [0]", "pmd_cores = [0]\nmtu = 9000")
        .replacen("kind = \"mock\"\n", "kind = \"mock\"\nrxq = 2\n", 1);
    let d = diff(&cfg(BASE), &cfg(&new));
    let text: Vec<String> = d.iter().map(Change::describe).collect();
    assert_eq!(
        text,
        [
            "switch.mtu changed",
            "bridge br0: port a: rxq changed (port re-created)",
            // The ports follow the switch's MTU.
            "bridge br0: port a: mtu changed (port re-created)",
            "bridge br0: port b: mtu changed (port re-created)",
        ]
    );
    assert_eq!(
        d.iter().map(Change::live).collect::<Vec<_>>(),
        [false, true, true, true]
    );
}

#[test]
fn a_port_mtu_change_re_creates_only_that_port() {
    let base = BASE.replace("pmd_cores = [0]", "pmd_cores = [0]\nmtu = 9000");
    let new = base.replacen("kind = \"mock\"\n", "kind = \"mock\"\nmtu = 1500\n", 1);
    let d = diff(&cfg(&base), &cfg(&new));
    let text: Vec<String> = d.iter().map(Change::describe).collect();
    assert_eq!(text, ["bridge br0: port a: mtu changed (port re-created)"]);
    assert!(d[0].live());
}
