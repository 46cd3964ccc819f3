//! `dvs-cluster up|down`: the distributed switch on one machine, for people to look at.
//!
//! `up` builds the lab of `tests::cluster` (dvsm, a top-of-rack Open vSwitch, hosts h1 and h2
//! each with dvs-switchd, ovsdb-server and dvs-agent in a namespace), configures it through
//! `dvsctl` as an operator would (DVS `d1` with VLAN pool 10-20, port groups `web` on VLAN 10
//! and `db` on VLAN 20, four VMs, one per group per host), then prints the commands it ran,
//! the reachability matrix and per-port counters from the hosts, and leaves it all running.
//! `down` removes everything `up` made. Needs root.

use std::path::PathBuf;
use std::time::Duration;
use tests::cluster::{self, Cluster};

fn state() -> PathBuf {
    std::env::var_os("DVS_CLUSTER_STATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("dvs-cluster.state"))
}

fn up() -> i32 {
    if state().exists() {
        eprintln!(
            "dvs-cluster: a lab is already up ({}); run `dvs-cluster down` first",
            state().display()
        );
        return 1;
    }
    println!(
        "== dvsm, a top-of-rack switch, hosts h1 and h2 (dvs-switchd + ovsdb-server + dvs-agent)"
    );
    let mut c = Cluster::start(2, "10,20");
    let mgmt = c.mgmt.name.clone();
    let show = |args: &str| println!("$ ip netns exec {mgmt} dvsctl {args}");
    show(
        "dvs create d1 vlan_pool=10-20 hosts=h1,h2; uplink create d1-h1 dvs=d1 host=h1 nic=up0 ...",
    );
    c.dvs("d1", "10-20");
    show("portgroup create web dvs=d1 vlan.mode=access vlan.vlan=10");
    c.access_group("web", "d1", 10);
    show("portgroup create db dvs=d1 vlan.mode=access vlan.vlan=20");
    c.access_group("db", "d1", 20);
    show("port create vm1 host=h1 port_group=web mac=... ips=10.70.0.1 backend.kind=linux ... (vm1..vm4)");
    c.vm("vm1", 0, "web", 1, "10.70.0.1/24");
    c.vm("vm2", 1, "web", 2, "10.70.0.2/24");
    c.vm("vm3", 0, "db", 3, "10.70.0.3/24");
    c.vm("vm4", 1, "db", 4, "10.70.0.4/24");
    let synced = c.wait_synced(Duration::from_secs(30));
    let _ = c.wait_reach(0, 1, Duration::from_secs(20));
    let _ = c.wait_reach(2, 3, Duration::from_secs(20));
    println!("\n== hosts\n{}", c.must(&["host", "list"]));
    println!("== reachability (vm1, vm2 in web/VLAN 10; vm3, vm4 in db/VLAN 20; one subnet)");
    let (matrix, ok) = c.matrix(|a, b| a / 2 == b / 2);
    print!("{matrix}");
    println!(
        "{}\n",
        if ok && synced {
            "as expected: same port group reaches, different VLANs do not"
        } else {
            "NOT as expected"
        }
    );
    println!(
        "== ports, with counters from their hosts\n{}",
        c.must(&["port", "list"])
    );
    println!("== flows of d1 on h1 (cookies name their origin)");
    for f in c.hosts[0].flows("d1") {
        println!("{}", f.text);
    }
    println!(
        "\nThe lab stays up. Try: ip netns exec {mgmt} dvsctl port show vm1\n\
         Namespaces: {}\nTear it down with: scripts/dvs-cluster.sh down",
        std::iter::once(c.mgmt.name.as_str())
            .chain(c.hosts.iter().map(|h| h.ns.name.as_str()))
            .chain(c.vms.iter().map(|v| v.ns.name.as_str()))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let code = if ok && synced { 0 } else { 1 };
    c.keep(&state());
    code
}

fn main() {
    if !tests::require_root("dvs-cluster") {
        std::process::exit(2);
    }
    let code = match std::env::args().nth(1).as_deref() {
        Some("up") => up(),
        Some("down") => match cluster::teardown(&state()) {
            Ok(()) => {
                println!("lab removed");
                0
            }
            Err(e) => {
                eprintln!("dvs-cluster: {e}");
                1
            }
        },
        _ => {
            eprintln!("usage: dvs-cluster up|down");
            2
        }
    };
    std::process::exit(code);
}
