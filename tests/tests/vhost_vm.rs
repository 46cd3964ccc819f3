//! VMs on vhost-user ports: `dpdk-testpmd` with `net_virtio_user` stands in for each VM. Traffic
//! is a fixed number of 64-byte frames (`start tx_first N`), so what one VM sends and the other
//! receives can be counted exactly, next to the switch's own port counters.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tests::frames::{frame, parse, BROADCAST};
use tests::lab::pmd_core;
use tests::testpmd::{self, Testpmd};
use tests::{require_root, vm_mac, Netns, RawSock, Switchd, Veth};

const LINK: Duration = Duration::from_secs(20);

fn sock_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("dvs-vhu-{}", tests::unique_tag()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn vhost_port(name: &str, ofport: u32, dir: &Path, role: &str, tag: u16) -> String {
    format!(
        "\n[[bridge.port]]\nname = \"{name}\"\nkind = \"vhost\"\nsocket = \"{}\"\n\
         vhost_role = \"{role}\"\nofport = {ofport}\nvlan_mode = \"access\"\ntag = {tag}\n",
        dir.join(format!("{name}.sock")).display()
    )
}

fn config(ports: &str) -> String {
    format!(
        "[switch]\npmd_cores = [{}]\npool_frames = 4096\npmd_sleep_max_us = 50\n\n\
         [[bridge]]\nname = \"br0\"\n{ports}",
        pmd_core()
    )
}

fn counter(sw: &Switchd, port: &str, key: &str) -> u64 {
    sw.port_stats(port)[key].as_u64().unwrap()
}

/// Wait (bounded) until `f` holds, so counters can settle after a burst.
fn settle(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// One VM test at a time: each runs several busy-polling testpmd processes on a 2-core machine.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn skip(test: &str) -> bool {
    !require_root(test) || !testpmd::available(test)
}

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn vms_exchange_counted_traffic_and_vlans_isolate_them() {
    if skip("vms_exchange_counted_traffic_and_vlans_isolate_them") {
        return;
    }
    let _one_at_a_time = serial();
    let dir = sock_dir();
    let sw = Switchd::start(&config(
        &(vhost_port("vm1", 1, &dir, "server", 10)
            + &vhost_port("vm2", 2, &dir, "server", 10)
            + &vhost_port("vm3", 3, &dir, "server", 20)),
    ));
    let mut vms: Vec<Testpmd> = (1..=3)
        .map(|i| Testpmd::start(&dir.join(format!("vm{i}.sock")), false, vm_mac(i)))
        .collect();
    for vm in vms.iter_mut() {
        vm.wait_link_up(LINK);
        vm.receive();
    }
    vms[0].send_bursts(8);
    let sent = 8 * 32;
    assert!(
        settle(|| counter(&sw, "vm2", "tx_packets") >= sent),
        "{}",
        sw.port_stats("vm2")
    );
    std::thread::sleep(Duration::from_millis(300));
    let (_, tx1) = vms[0].stats();
    let (rx2, _) = vms[1].stats();
    let (rx3, _) = vms[2].stats();
    assert_eq!(tx1, sent, "vm1 sent exactly its bursts");
    assert_eq!(counter(&sw, "vm1", "rx_packets"), sent);
    assert_eq!(counter(&sw, "vm2", "tx_packets"), sent);
    assert_eq!(rx2, sent, "vm2 (same VLAN) received every frame");
    assert_eq!(rx3, 0, "vm3 (VLAN 20) saw nothing");
    assert_eq!(counter(&sw, "vm3", "tx_packets"), 0);

    // And back: vm2 -> vm1.
    vms[0].receive();
    vms[1].send_bursts(4);
    assert!(settle(|| counter(&sw, "vm1", "tx_packets") >= 128));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(vms[0].stats().0, 128);
    assert_eq!(vms[2].stats().0, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_crashed_vm_comes_back_and_a_restarted_switch_reconnects() {
    if skip("a_crashed_vm_comes_back_and_a_restarted_switch_reconnects") {
        return;
    }
    let _one_at_a_time = serial();
    let dir = sock_dir();
    // Client role: the VMs own the sockets, the switch connects (and reconnects).
    let mut vm1 = Testpmd::start(&dir.join("vm1.sock"), true, vm_mac(1));
    let mut vm2 = Testpmd::start(&dir.join("vm2.sock"), true, vm_mac(2));
    let cfg = config(
        &(vhost_port("vm1", 1, &dir, "client", 10) + &vhost_port("vm2", 2, &dir, "client", 10)),
    );
    let mut sw = Switchd::start(&cfg);
    vm1.wait_link_up(LINK);
    vm2.wait_link_up(LINK);
    vm2.receive();
    vm1.send_bursts(2);
    assert!(settle(|| counter(&sw, "vm2", "tx_packets") >= 64));

    // VM crash: the port goes down; a new VM on the same socket gets traffic again.
    vm1.kill();
    drop(vm1);
    assert!(settle(|| !sw.port_stats("vm1")["link_up"]
        .as_bool()
        .unwrap()));
    // A killed VM leaves its listening socket file behind; its restart replaces it.
    let _ = std::fs::remove_file(dir.join("vm1.sock"));
    let mut vm1 = Testpmd::start(&dir.join("vm1.sock"), true, vm_mac(1));
    vm1.wait_link_up(LINK);
    assert!(settle(|| sw.port_stats("vm1")["link_up"]
        .as_bool()
        .unwrap()));
    let before = counter(&sw, "vm2", "tx_packets");
    vm1.send_bursts(2);
    assert!(
        settle(|| counter(&sw, "vm2", "tx_packets") >= before + 64),
        "traffic resumes after the VM restart"
    );
    let rx_counted = counter(&sw, "vm1", "rx_packets");
    assert!(
        rx_counted >= 128,
        "port counters survive the reconnect: {rx_counted}"
    );

    // Switch restart: both VMs come back without being touched.
    assert!(sw.stop());
    drop(sw);
    let sw = Switchd::start(&cfg);
    assert!(settle(|| {
        let s = sw.call("port/stats", json!({}));
        s.as_array()
            .unwrap()
            .iter()
            .all(|p| p["link_up"].as_bool().unwrap())
    }));
    vm1.wait_link_up(LINK);
    let (rx2_before, _) = vm2.stats();
    vm1.send_bursts(2);
    assert!(
        settle(|| counter(&sw, "vm2", "tx_packets") >= 64),
        "after the switch restart: {}\nvm1: {:?}\n{}",
        sw.call("switch/show", json!({})),
        vm1.stats(),
        sw.call("drop/stats", json!({}))
    );
    assert!(
        settle(|| vm2.stats().0 >= rx2_before + 64),
        "vm2 receives again"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A VM on vhost-user and a namespace host behind a `kind` port exchange frames both ways.
fn vm_and_netns_host(kind: &str) {
    let dir = sock_dir();
    let ns = Netns::new("host");
    let host_mac = vm_mac(9);
    let veth = Veth::new(&ns, host_mac, None);
    let link = if kind == "dpdk" {
        format!("devargs = \"net_af_packet0,iface={}\"", veth.host)
    } else {
        format!("interface = \"{}\"", veth.host)
    };
    let sw = Switchd::start(&config(
        &(vhost_port("vm1", 1, &dir, "server", 10)
            + &format!(
                "\n[[bridge.port]]\nname = \"host\"\nkind = \"{kind}\"\n{link}\nofport = 2\n\
                 vlan_mode = \"access\"\ntag = 10\n"
            )),
    ));
    let mut vm = Testpmd::start(&dir.join("vm1.sock"), false, vm_mac(1));
    vm.wait_link_up(LINK);
    let cap = RawSock::open(&ns, "eth0");
    cap.drain();
    vm.send_bursts(4);
    let got = cap.collect(Duration::from_millis(1500), |f| {
        f.len() >= 12 && f[6..12] == vm_mac(1)
    });
    assert_eq!(got.len(), 128, "the host receives every VM frame ({kind})");
    vm.receive();
    for i in 0..50 {
        cap.send(&frame(BROADCAST, host_mac, None, i));
    }
    assert!(
        settle(|| vm.stats().0 >= 50),
        "the VM receives the host's frames ({kind})"
    );
    assert_eq!(vm.stats().0, 50);
    assert!(parse(&frame(BROADCAST, host_mac, None, 0)).is_some());
    assert_eq!(counter(&sw, "host", "rx_packets"), 50);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn vm_talks_to_a_netns_host_through_afxdp() {
    if skip("vm_talks_to_a_netns_host_through_afxdp") {
        return;
    }
    let _one_at_a_time = serial();
    vm_and_netns_host("afxdp");
}

#[test]
fn vm_talks_to_a_netns_host_through_dpdk() {
    if skip("vm_talks_to_a_netns_host_through_dpdk") {
        return;
    }
    let _one_at_a_time = serial();
    vm_and_netns_host("dpdk");
}
