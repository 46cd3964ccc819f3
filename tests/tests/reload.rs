//! Live reconfiguration from the file: `dvsctl switch reload` and SIGHUP re-read `switch.toml`
//! and apply what changed while traffic flows; a bad file, or one asking for a change the switch
//! cannot make while running, changes nothing and says why.

use std::time::Duration;
use tests::lab::{Lab, VmSpec};
use tests::netns::ping_counts;
use tests::{require_root, wait_until as wait};

/// Write `text` as the running switch's config file.
fn write_config(lab: &Lab, text: &str) {
    std::fs::write(lab.sw.config_path(), text).expect("write config");
}

/// `dvsctl switch reload` one second into 300 pings (every 10 ms) from vm1 to `dst`: the
/// reload's (success, output) and the ping's.
fn reload_under_pings(lab: &Lab, dst: &str) -> ((bool, String), (bool, String)) {
    std::thread::scope(|s| {
        let flood = s.spawn(|| {
            lab.vm("vm1")
                .ns
                .exec(&["ping", "-q", "-c", "300", "-i", "0.01", "-W", "1", dst])
        });
        std::thread::sleep(Duration::from_millis(1000));
        let reload = lab.sw.dvsctl(&["switch", "reload"]);
        (reload, flood.join().expect("ping thread"))
    })
}

#[test]
fn reload_moves_a_port_to_another_vlan_without_disturbing_the_others() {
    if !require_root("reload_moves_a_port_to_another_vlan_without_disturbing_the_others") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.9.1/24"),
            VmSpec::access("vm2", 10, "10.0.9.2/24"),
            VmSpec::access("vm3", 20, "10.0.9.3/24"),
        ],
        &[],
    );
    assert!(lab.vm("vm1").ns.ping_ok("10.0.9.2"));
    assert!(
        !lab.vm("vm1").ns.ping("10.0.9.3", 2),
        "VLANs isolate at start"
    );

    // The file as the switch started with it; each step below writes a variant. Ports are in
    // the order vm1, vm2, vm3, and only vm3 has tag 20.
    let orig = std::fs::read_to_string(lab.sw.config_path()).expect("read config");
    let vm3_in_10 = orig.replace("tag = 20", "tag = 10");

    // A dry run says what a reload would do, and does nothing.
    write_config(&lab, &vm3_in_10);
    let (ok, out) = lab.sw.dvsctl(&["switch", "reload", "--dry-run"]);
    assert!(
        ok && out.contains("would apply 1 change")
            && out.contains("port vm3: vlan_mode access, tag 10"),
        "{out}"
    );
    assert!(
        !lab.vm("vm1").ns.ping("10.0.9.3", 2),
        "the dry run applied something"
    );

    // vm3 moves to VLAN 10 while vm1 pings vm2 every 10 ms: not one of those may be lost.
    let (reload, flood) = reload_under_pings(&lab, "10.0.9.2");
    assert!(reload.0, "reload failed: {}", reload.1);
    assert!(
        reload.1.contains("applied 1 change")
            && reload.1.contains("port vm3: vlan_mode access, tag 10"),
        "{}",
        reload.1
    );
    let (sent, got) = ping_counts(&flood.1);
    assert_eq!(
        (sent, got),
        (300, 300),
        "pings lost on unchanged ports: {}",
        flood.1
    );
    assert!(
        lab.vm("vm3").ns.ping_ok("10.0.9.1"),
        "vm3 is in VLAN 10 now"
    );

    // A bad file: refused with its line and field; nothing moves.
    write_config(&lab, &vm3_in_10.replacen("tag = 10", "tag = 5000", 1));
    let (ok, out) = lab.sw.dvsctl(&["switch", "reload"]);
    assert!(!ok, "a bad file was accepted: {out}");
    assert!(
        out.contains("switch.toml:") && out.contains("tag") && out.contains("nothing was changed"),
        "{out}"
    );
    assert!(lab.vm("vm1").ns.ping_ok("10.0.9.2"), "vm1 kept its VLAN");
    assert!(lab.vm("vm3").ns.ping_ok("10.0.9.1"));

    // A change that needs a restart (the PMDs' pool size) next to a live one (vm1 to VLAN 20):
    // refused as a whole, so vm1 stays in VLAN 10.
    write_config(
        &lab,
        &vm3_in_10
            .replacen("tag = 10", "tag = 20", 1)
            .replace("pool_frames = 4096", "pool_frames = 2048"),
    );
    let (ok, out) = lab.sw.dvsctl(&["switch", "reload"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("need a restart") && out.contains("switch.pool_frames changed"),
        "{out}"
    );
    let (_, dry) = lab.sw.dvsctl(&["switch", "reload", "--dry-run"]);
    assert!(
        dry.contains("needs a restart:\n  switch.pool_frames changed")
            && dry
                .contains("would apply 1 change\n  bridge br0: port vm1: vlan_mode access, tag 20"),
        "{dry}"
    );
    assert!(
        lab.vm("vm1").ns.ping_ok("10.0.9.2"),
        "vm1's change was applied"
    );

    // SIGHUP does what reload does: back to the original file, vm3 isolated again.
    write_config(&lab, &orig);
    lab.sw.signal(libc::SIGHUP);
    assert!(
        wait(Duration::from_secs(10), || lab.sw.log().contains(
            "reload: bridge br0: port vm3: vlan_mode access, tag 20"
        )),
        "SIGHUP did not reload: {}",
        lab.sw.log()
    );
    assert!(
        !lab.vm("vm3").ns.ping("10.0.9.1", 2),
        "vm3 still reaches VLAN 10"
    );
    assert!(lab.vm("vm1").ns.ping_ok("10.0.9.2"));
}

#[test]
fn reload_adds_and_removes_ports_while_the_others_forward() {
    if !require_root("reload_adds_and_removes_ports_while_the_others_forward") {
        return;
    }
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.0.8.1/24"),
            VmSpec::access("vm2", 10, "10.0.8.2/24"),
        ],
        &[],
    );
    assert!(lab.vm("vm1").ns.ping_ok("10.0.8.2"));
    let orig = std::fs::read_to_string(lab.sw.config_path()).expect("read config");

    // A new VM (namespace and veth made now) gets a port while vm1 pings vm2 every 10 ms.
    let ns = tests::Netns::new("vm3");
    let veth = tests::Veth::new(&ns, tests::vm_mac(3), Some("10.0.8.3/24"));
    let vm3_port = format!(
        "\n[[bridge.port]]\nname = \"vm3\"\nkind = \"afpacket\"\ninterface = \"{}\"\n\
         vlan_mode = \"access\"\ntag = 10\n",
        veth.host
    );
    write_config(&lab, &(orig.clone() + &vm3_port));
    let (reload, flood) = reload_under_pings(&lab, "10.0.8.2");
    assert!(
        reload.0 && reload.1.contains("port vm3 added"),
        "{}",
        reload.1
    );
    assert_eq!(ping_counts(&flood.1), (300, 300), "pings lost: {}", flood.1);
    assert!(ns.ping_ok("10.0.8.1"), "the new port does not forward");
    let ports = lab.sw.call("port/stats", serde_json::json!({}));
    assert!(ports.to_string().contains("\"vm3\""), "{ports}");
    let (_, rxq) = lab.sw.dvsctl(&["switch", "rxq-show"]);
    assert!(rxq.contains("vm3"), "the new port's queue is polled: {rxq}");

    // A port whose interface does not exist: refused, and nothing else in the file applied.
    write_config(
        &lab,
        &(orig.replacen("tag = 10", "tag = 30", 1)
            + &vm3_port
            + "\n[[bridge.port]]\nname = \"ghost\"\nkind = \"afpacket\"\ninterface = \"dvsnosuchif\"\n"),
    );
    let (ok, out) = lab.sw.dvsctl(&["switch", "reload"]);
    assert!(
        !ok && out.contains("ghost") && out.contains("nothing was applied"),
        "{out}"
    );
    assert!(
        lab.vm("vm1").ns.ping_ok("10.0.8.2"),
        "vm1's tag change was applied"
    );

    // vm2's port is removed while vm1 pings vm3: vm2 is cut off, the others keep forwarding.
    let without_vm2 = {
        let start = orig.find("name = \"vm2\"").expect("vm2 section");
        let head = orig[..start]
            .rfind("[[bridge.port]]")
            .expect("section header");
        let tail = orig[start..]
            .find("[[bridge.port]]")
            .map_or(orig.len(), |i| start + i);
        format!("{}{}", &orig[..head], &orig[tail..])
    };
    write_config(&lab, &(without_vm2 + &vm3_port));
    let (reload, flood) = reload_under_pings(&lab, "10.0.8.3");
    assert!(
        reload.0 && reload.1.contains("port vm2 removed"),
        "{}",
        reload.1
    );
    assert_eq!(ping_counts(&flood.1), (300, 300), "pings lost: {}", flood.1);
    assert!(!lab.vm("vm1").ns.ping("10.0.8.2", 2), "vm2 still reachable");
    let ports = lab.sw.call("port/stats", serde_json::json!({}));
    assert!(!ports.to_string().contains("\"vm2\""), "{ports}");
    let (_, show) = lab.sw.dvsctl(&["switch", "show"]);
    assert!(!show.contains("Port vm2"), "{show}");
    // And its AF_PACKET socket is closed: no packet socket is bound to vm2's veth any more,
    // while vm1's still is.
    let bound = |ifname: &str| {
        let idx = std::fs::read_to_string(format!("/sys/class/net/{ifname}/ifindex"))
            .expect("ifindex")
            .trim()
            .to_string();
        std::fs::read_to_string("/proc/net/packet")
            .expect("/proc/net/packet")
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().nth(4) == Some(idx.as_str()))
    };
    assert!(bound(&lab.vm("vm1").veth.host));
    assert!(
        wait(Duration::from_secs(5), || !bound(&lab.vm("vm2").veth.host)),
        "vm2's port was not closed"
    );

    // Port vm3 moves to another interface (a new host behind it): the port is re-created, the
    // new host is reachable and the old one cut off.
    let ns4 = tests::Netns::new("vm4");
    let veth4 = tests::Veth::new(&ns4, tests::vm_mac(4), Some("10.0.8.4/24"));
    let vm3_moved = vm3_port.replace(&veth.host, &veth4.host);
    write_config(&lab, &(without_vm2_text(&orig) + &vm3_moved));
    let reload = lab.sw.dvsctl(&["switch", "reload"]);
    assert!(
        reload.0
            && reload
                .1
                .contains("port vm3: interface changed (port re-created)"),
        "{}",
        reload.1
    );
    assert!(
        ns4.ping_ok("10.0.8.1"),
        "the port does not forward on its new interface"
    );
    assert!(!ns.ping("10.0.8.1", 2), "the old interface still forwards");
    assert!(
        wait(Duration::from_secs(5), || !bound(&veth.host)),
        "old socket kept"
    );
    assert!(bound(&veth4.host));
}

/// `text` without the `[[bridge.port]]` section of vm2.
fn without_vm2_text(text: &str) -> String {
    let start = text.find("name = \"vm2\"").expect("vm2 section");
    let head = text[..start]
        .rfind("[[bridge.port]]")
        .expect("section header");
    let tail = text[start..]
        .find("[[bridge.port]]")
        .map_or(text.len(), |i| start + i);
    format!("{}{}", &text[..head], &text[tail..])
}
