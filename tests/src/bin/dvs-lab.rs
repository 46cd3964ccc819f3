//! `dvs-lab`: build a small lab (four namespace VMs on two VLANs behind dvs-switchd, plus a real
//! Linux guest under QEMU on a vhost-user port when QEMU is installed), run the reachability
//! checks, and print what passed together with the switch's counters.
//! Needs root; everything it creates is removed when it exits.

use tests::guest::{self, Guest, Nic};
use tests::lab::{Lab, VmSpec};

fn main() {
    if !tests::require_root("dvs-lab") {
        std::process::exit(2);
    }
    println!("== building lab: vm1, vm2 on VLAN 10; vm3, vm4 on VLAN 20; one subnet 10.10.0.0/24");
    let with_guest = guest::available("the QEMU guest of dvs-lab");
    let sock = std::env::temp_dir().join(format!("dvs-lab-{}-vm5.sock", std::process::id()));
    let guest_port = format!(
        "\n[[bridge.port]]\nname = \"vm5\"\nkind = \"vhost\"\nsocket = \"{}\"\n\
         vhost_role = \"server\"\nofport = 5\nvlan_mode = \"access\"\ntag = 10\n",
        sock.display()
    );
    let lab = Lab::with_ports(
        &[
            VmSpec::access("vm1", 10, "10.10.0.1/24"),
            VmSpec::access("vm2", 10, "10.10.0.2/24"),
            VmSpec::access("vm3", 20, "10.10.0.3/24"),
            VmSpec::access("vm4", 20, "10.10.0.4/24"),
        ],
        &[],
        if with_guest { &guest_port } else { "" },
    );
    let (mut passed, mut failed) = (0, 0);
    let mut tally = |good: bool, line: String| {
        println!("{} {line}", if good { "PASS" } else { "FAIL" });
        if good {
            passed += 1;
        } else {
            failed += 1;
        }
    };
    let mut vm5 = None;
    if with_guest {
        println!("== booting vm5: a Linux guest under QEMU on vhost-user port vm5 (VLAN 10)");
        let mut g = Guest::start("vm5", &[Nic::new(&sock, false, tests::vm_mac(5))]);
        g.ip_up("eth0", "10.10.0.5/24");
        let carrier = g.wait_carrier("eth0", std::time::Duration::from_secs(30));
        tally(
            carrier,
            format!("vm5 eth0: carrier {}", if carrier { "up" } else { "down" }),
        );
        for (to, expect) in [("10.10.0.1", true), ("10.10.0.3", false)] {
            let ok = if expect {
                g.ping(to)
            } else {
                !g.ping_fails(to)
            };
            let what = if expect { "reachable" } else { "isolated" };
            let answer = if ok { "answered" } else { "got no answer" };
            tally(
                ok == expect,
                format!("vm5 -> {to}: expected {what}, ping {answer}"),
            );
        }
        vm5 = Some(g);
    }
    let mut checks: Vec<(&str, &str, bool)> = vec![
        ("vm1", "10.10.0.2", true),
        ("vm2", "10.10.0.1", true),
        ("vm3", "10.10.0.4", true),
        ("vm4", "10.10.0.3", true),
        ("vm1", "10.10.0.3", false),
        ("vm2", "10.10.0.4", false),
    ];
    if vm5.is_some() {
        checks.extend([("vm2", "10.10.0.5", true), ("vm4", "10.10.0.5", false)]);
    }
    for (from, to, expect) in checks {
        let ok = if expect {
            lab.vm(from).ns.ping_ok(to)
        } else {
            lab.vm(from).ns.ping(to, 2)
        };
        let what = if expect { "reachable" } else { "isolated" };
        let answer = if ok { "answered" } else { "got no answer" };
        tally(
            ok == expect,
            format!("{from} -> {to}: expected {what}, ping {answer}"),
        );
    }
    for args in [
        &["switch", "show"][..],
        &["switch", "ports"],
        &["switch", "dump-macs", "br0"],
        &["switch", "dump-flows", "br0"],
        &["switch", "pmd-stats"],
        &["switch", "drops"],
    ] {
        println!("\n== dvsctl {}", args.join(" "));
        let (_, out) = lab.sw.dvsctl(args);
        print!("{out}");
    }
    println!("\n{passed} passed, {failed} failed");
    drop(vm5);
    drop(lab);
    std::process::exit(i32::from(failed > 0));
}
