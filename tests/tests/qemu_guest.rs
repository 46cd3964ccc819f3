//! Real Linux guests under QEMU (TCG) on dvs-switchd's vhost-user ports: the VMs users run, not
//! a stand-in. Each guest is Debian's cloud kernel with a busybox initramfs
//! (`tests::guest`); the tests drive its serial console and assert on what the guest's pings and
//! counters show and on the switch's port state.
//!
//! TCG guests are slow, so traffic is a few pings and timeouts are generous; load tests stay with
//! testpmd's virtio-user (`vhost_vm.rs`).

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tests::guest::{self, Guest, Nic};
use tests::lab::pmd_core;
use tests::{require_root, vm_mac, Switchd};

const CARRIER: Duration = Duration::from_secs(30);

/// One guest test at a time: each runs several TCG guests on a 2-core machine.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn skip(test: &str) -> bool {
    !require_root(test) || !guest::available(test)
}

fn sock_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("dvs-qemu-{}", tests::unique_tag()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn vhost_port(name: &str, ofport: u32, dir: &Path, role: &str, tag: u16, queues: u16) -> String {
    format!(
        "\n[[bridge.port]]\nname = \"{name}\"\nkind = \"vhost\"\nsocket = \"{}\"\n\
         vhost_role = \"{role}\"\nrxq = {queues}\nofport = {ofport}\nvlan_mode = \"access\"\n\
         tag = {tag}\n",
        dir.join(format!("{name}.sock")).display()
    )
}

fn config(ports: &str) -> String {
    format!(
        "[switch]\npmd_cores = [{}]\npool_frames = 4096\npmd_sleep_max_us = 200\n\n\
         [[bridge]]\nname = \"br0\"\n{ports}",
        pmd_core()
    )
}

/// The `switch/show` entry of one port.
fn port_show(sw: &Switchd, port: &str) -> Value {
    let show = sw.call("switch/show", json!({}));
    show["bridges"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| b["ports"].as_array().into_iter().flatten())
        .find(|p| p["name"] == port)
        .cloned()
        .unwrap_or_else(|| panic!("no port {port} in {show}"))
}

fn link_up(sw: &Switchd, port: &str) -> bool {
    sw.port_stats(port)["link_up"].as_bool().unwrap_or(false)
}

/// Wait (bounded) until `f` holds.
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

/// Three guests: vm1 and vm2 in VLAN 10, vm3 in VLAN 20, all in one IP subnet.
struct Trio {
    sw: Switchd,
    vms: Vec<Guest>,
    cfg: String,
    _dir: PathBuf,
}

const ADDRS: [&str; 3] = ["10.50.0.1", "10.50.0.2", "10.50.0.3"];

impl Trio {
    /// `dvs_role` is the switch's vhost-user role ("server" or "client").
    fn start(dvs_role: &str) -> Trio {
        let dir = sock_dir();
        let cfg = config(
            &(vhost_port("vm1", 1, &dir, dvs_role, 10, 1)
                + &vhost_port("vm2", 2, &dir, dvs_role, 10, 1)
                + &vhost_port("vm3", 3, &dir, dvs_role, 20, 1)),
        );
        let qemu_server = dvs_role == "client";
        // dvs as server must listen before QEMU starts (QEMU waits for the connection); dvs as
        // client connects to sockets QEMU creates, so the guests come first.
        let sw_first = (!qemu_server).then(|| Switchd::start(&cfg));
        let vms: Vec<Guest> = (1..=3u8)
            .map(|i| {
                let nic = Nic::new(&dir.join(format!("vm{i}.sock")), qemu_server, vm_mac(i));
                Guest::start(&format!("vm{i}"), &[nic])
            })
            .collect();
        let sw = sw_first.unwrap_or_else(|| Switchd::start(&cfg));
        let mut t = Trio {
            sw,
            vms,
            cfg,
            _dir: dir,
        };
        for (vm, addr) in t.vms.iter_mut().zip(ADDRS) {
            vm.ip_up("eth0", &format!("{addr}/24"));
        }
        t.wait_links();
        t
    }

    fn wait_links(&mut self) {
        for i in 0..3 {
            let port = format!("vm{}", i + 1);
            assert!(
                wait(CARRIER, || link_up(&self.sw, &port)),
                "switch port {port} never came up: {}",
                port_show(&self.sw, &port)
            );
            assert!(
                self.vms[i].wait_carrier("eth0", CARRIER),
                "{port}'s eth0 has no carrier; switch says {}",
                port_show(&self.sw, &port)
            );
        }
    }

    /// vm1 <-> vm2 ping (same VLAN) and vm1 -> vm3 does not (other VLAN).
    fn check_vlans(&mut self, when: &str) {
        assert!(
            self.vms[0].ping(ADDRS[1]),
            "{when}: vm1 cannot ping vm2: {}",
            self.sw.call("port/stats", json!({}))
        );
        assert!(self.vms[1].ping(ADDRS[0]), "{when}: vm2 cannot ping vm1");
        assert!(
            self.vms[0].ping_fails(ADDRS[2]),
            "{when}: vm1 reached vm3 across VLANs"
        );
        assert!(
            self.vms[2].ping_fails(ADDRS[1]),
            "{when}: vm3 reached vm2 across VLANs"
        );
    }
}

#[test]
fn guests_ping_in_their_vlan_with_dvs_as_server() {
    if skip("guests_ping_in_their_vlan_with_dvs_as_server") {
        return;
    }
    let _one = serial();
    let mut t = Trio::start("server");
    t.check_vlans("dvs as server");
    let _ = &t.cfg;
}
