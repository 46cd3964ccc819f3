//! `dvs-lab`: build a small lab (four namespace VMs on two VLANs behind dvs-switchd), run the
//! reachability checks, and print what passed together with the switch's counters.
//! Needs root; everything it creates is removed when it exits.

use tests::lab::{Lab, VmSpec};

fn main() {
    if !tests::require_root("dvs-lab") {
        std::process::exit(2);
    }
    println!("== building lab: vm1, vm2 on VLAN 10; vm3, vm4 on VLAN 20; one subnet 10.10.0.0/24");
    let lab = Lab::new(
        &[
            VmSpec::access("vm1", 10, "10.10.0.1/24"),
            VmSpec::access("vm2", 10, "10.10.0.2/24"),
            VmSpec::access("vm3", 20, "10.10.0.3/24"),
            VmSpec::access("vm4", 20, "10.10.0.4/24"),
        ],
        &[],
    );
    let checks: [(&str, &str, bool); 6] = [
        ("vm1", "10.10.0.2", true),
        ("vm2", "10.10.0.1", true),
        ("vm3", "10.10.0.4", true),
        ("vm4", "10.10.0.3", true),
        ("vm1", "10.10.0.3", false),
        ("vm2", "10.10.0.4", false),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (from, to, expect) in checks {
        let ok = if expect {
            lab.vm(from).ns.ping_ok(to)
        } else {
            lab.vm(from).ns.ping(to, 2)
        };
        let good = ok == expect;
        let what = if expect { "reachable" } else { "isolated" };
        println!(
            "{} {from} -> {to}: expected {what}, ping {}",
            if good { "PASS" } else { "FAIL" },
            if ok { "answered" } else { "got no answer" }
        );
        if good {
            passed += 1;
        } else {
            failed += 1;
        }
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
    drop(lab);
    std::process::exit(i32::from(failed > 0));
}
