//! Live reconfiguration from the file: `dvsctl switch reload` and SIGHUP re-read `switch.toml`
//! and apply what changed while traffic flows; a bad file, or one asking for a change the switch
//! cannot make while running, changes nothing and says why.

use std::time::{Duration, Instant};
use tests::lab::{Lab, VmSpec};
use tests::require_root;

/// Write `text` as the running switch's config file.
fn write_config(lab: &Lab, text: &str) {
    std::fs::write(lab.sw.config_path(), text).expect("write config");
}

/// The transmitted and received counts of a ping summary.
fn ping_counts(out: &str) -> (u64, u64) {
    let line = out
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary in {out}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

fn wait(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
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

    // vm3 moves to VLAN 10 while vm1 pings vm2 every 10 ms: not one of those may be lost.
    write_config(&lab, &vm3_in_10);
    let (reload, flood) = std::thread::scope(|s| {
        let flood = s.spawn(|| {
            lab.vm("vm1").ns.exec(&[
                "ping", "-q", "-c", "300", "-i", "0.01", "-W", "1", "10.0.9.2",
            ])
        });
        std::thread::sleep(Duration::from_millis(1000));
        let reload = lab.sw.dvsctl(&["switch", "reload"]);
        (reload, flood.join().expect("ping thread"))
    });
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

    // A change that needs a restart (a new port) next to a live one (vm1 to VLAN 20): refused
    // as a whole, so vm1 stays in VLAN 10.
    write_config(
        &lab,
        &(vm3_in_10.replacen("tag = 10", "tag = 20", 1)
            + "\n[[bridge.port]]\nname = \"extra\"\nkind = \"mock\"\nvlan_mode = \"access\"\ntag = 10\n"),
    );
    let (ok, out) = lab.sw.dvsctl(&["switch", "reload"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("need a restart") && out.contains("port extra added"),
        "{out}"
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
