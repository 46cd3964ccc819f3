//! dvs-switchd as a process: configuration errors name file, line and field and start nothing;
//! flows managed through `dvsctl` change forwarding; SIGTERM stops it cleanly.

use serde_json::json;
use std::process::Command;
use tests::lab::{Lab, VmSpec};
use tests::{bin, require_root, Netns, Veth};

fn check_config(text: &str) -> (i32, String) {
    let dir = std::env::temp_dir().join(format!("dvs-cfg-{}", tests::unique_tag()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(bin("dvs-switchd"))
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_vlan_names_file_line_and_field() {
    let (code, err) = check_config(
        "[switch]\npmd_cores = [0]\n\n[[bridge]]\nname = \"br0\"\n\n[[bridge.port]]\nname = \"p1\"\nkind = \"mock\"\nvlan_mode = \"access\"\ntag = 5000\n",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.toml:11"), "line number: {err}");
    assert!(err.contains("tag"), "field: {err}");
    assert!(err.contains("5000"), "value: {err}");
}

#[test]
fn bad_flow_names_its_line_and_nothing_starts() {
    let dir = std::env::temp_dir().join(format!("dvs-cfg-{}", tests::unique_tag()));
    let (code, err) = check_config(&format!(
        "[switch]\nrundir = \"{}\"\npmd_cores = [0]\n\n[[bridge]]\nname = \"br0\"\nflows = [\n  \"priority=10,actions=normal\",\n  \"priority=10,ip,nw_dts=10.0.0.1,actions=drop\",\n]\n\n[[bridge.port]]\nname = \"p1\"\nkind = \"mock\"\n",
        dir.display()
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.toml:9"), "line of the bad flow: {err}");
    assert!(err.contains("nw_dts"), "names the bad token: {err}");
    assert!(!dir.join("dvs-switchd.sock").exists(), "nothing started");
}

#[test]
fn missing_interface_is_reported_and_nothing_starts() {
    if !require_root("missing_interface_is_reported_and_nothing_starts") {
        return;
    }
    let (code, err) = check_config(
        "[switch]\npmd_cores = [0]\n\n[[bridge]]\nname = \"br0\"\n\n[[bridge.port]]\nname = \"p1\"\nkind = \"afpacket\"\ninterface = \"dvs-nonexist0\"\n",
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("p1") && err.contains("dvs-nonexist0"), "{err}");
}

#[test]
fn dvsctl_manages_flows_and_sigterm_stops_cleanly() {
    if !require_root("dvsctl_manages_flows_and_sigterm_stops_cleanly") {
        return;
    }
    let mut lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.7.1/24"),
            VmSpec::access("vm2", 10, "10.0.7.2/24"),
        ],
        &[],
    );
    assert!(lab.vm("vm1").ns.ping_ok("10.0.7.2"));
    let (ok, out) = lab.sw.dvsctl(&[
        "switch",
        "add-flow",
        "br0",
        "table=0,priority=200,cookie=0x77,icmp,actions=drop",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = lab.sw.dvsctl(&["switch", "dump-flows", "br0"]);
    assert!(ok && out.contains("cookie=0x77"), "{out}");
    assert!(!lab.vm("vm1").ns.ping("10.0.7.2", 2), "icmp now dropped");
    let (ok, out) = lab.sw.dvsctl(&[
        "switch",
        "add-flow",
        "br0",
        "priority=1,tcp_dst=80,actions=drop",
    ]);
    assert!(
        !ok && out.contains("tcp"),
        "prerequisite error is explained: {out}"
    );
    let (ok, out) = lab
        .sw
        .dvsctl(&["switch", "del-flows", "br0", "cookie=0x77/-1"]);
    assert!(ok, "{out}");
    assert!(lab.vm("vm1").ns.ping_ok("10.0.7.2"), "forwarding restored");
    let (ok, out) = lab.sw.dvsctl(&["switch", "dump-macs", "br0"]);
    assert!(ok && out.contains("vm2"), "{out}");
    let (ok, out) = lab.sw.dvsctl(&["switch", "pmd-stats"]);
    assert!(ok && out.contains("pmd"), "{out}");
    let stats = lab.sw.call("port/stats", json!({"bridge": "br0"}));
    assert_eq!(stats.as_array().unwrap().len(), 2);
    let sock = lab.sw.socket.clone();
    assert!(lab.sw.stop(), "SIGTERM exits with success");
    assert!(!sock.exists(), "control socket removed on exit");
}

#[test]
fn namespaces_are_removed_after_a_failing_test() {
    if !require_root("namespaces_are_removed_after_a_failing_test") {
        return;
    }
    let name = std::panic::catch_unwind(|| {
        let ns = Netns::new("fail");
        let _v = Veth::new(&ns, [2, 0, 0, 0, 0, 9], None);
        let n = ns.name.clone();
        panic!("{n}");
    })
    .err()
    .and_then(|e| e.downcast_ref::<String>().cloned())
    .expect("panic message");
    let list = tests::run("ip", &["netns", "list"]);
    assert!(!list.contains(&name), "{name} still exists");
}
