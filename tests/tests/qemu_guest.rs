//! Real Linux guests under QEMU (TCG) on dvs-switchd's vhost-user ports: the VMs users run, not
//! a stand-in. Each guest is Debian's cloud kernel with a busybox initramfs
//! (`tests::guest`); the tests drive its serial console and assert on what the guest's pings and
//! counters show and on the switch's port state.
//!
//! TCG guests are slow, so traffic is a few pings and timeouts are generous; load tests stay with
//! testpmd's virtio-user (`vhost_vm.rs`).

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tests::frames::{frame, BROADCAST};
use tests::guest::{self, Guest, Nic};
use tests::lab::pmd_core;
use tests::{require_root, vm_mac, wait_until as wait, Netns, RawSock, Switchd, Veth};

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
    config_mtu(1500, ports)
}

fn config_mtu(mtu: u32, ports: &str) -> String {
    format!(
        "[switch]\npmd_cores = [{}]\npool_frames = 4096\npmd_sleep_max_us = 200\nmtu = {mtu}\n\n\
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

/// A port's vhost details (`switch/show`).
fn details(sw: &Switchd, port: &str) -> Value {
    port_show(sw, port)["details"].clone()
}

fn detail(sw: &Switchd, port: &str, key: &str) -> u64 {
    details(sw, port)[key].as_u64().unwrap_or(0)
}

/// Packets moved on virtqueue `index` of `port` (from the port's ring list).
fn ring_packets(sw: &Switchd, port: &str, index: u64) -> u64 {
    details(sw, port)["rings"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["index"] == index))
        .and_then(|r| r["packets"].as_u64())
        .unwrap_or(0)
}

/// Guests `vm1..=vmN` on ports of the same names; `tags[i]` is vm(i+1)'s access VLAN and
/// `10.50.0.(i+1)/24` its address.
struct Vms {
    sw: Switchd,
    vms: Vec<Guest>,
    cfg: String,
    dir: PathBuf,
}

fn addr(i: usize) -> String {
    format!("10.50.0.{}", i + 1)
}

impl Vms {
    /// `dvs_role` is the switch's vhost-user role ("server" or "client"). `msix_qemu` runs the
    /// guests on that QEMU with MSI-X interrupts (else the default QEMU with INTx).
    fn start(dvs_role: &str, tags: &[u16], queues: u16, msix_qemu: Option<&str>, mtu: u32) -> Vms {
        let dir = sock_dir();
        let ports: String = tags
            .iter()
            .enumerate()
            .map(|(i, tag)| {
                let name = format!("vm{}", i + 1);
                vhost_port(&name, i as u32 + 1, &dir, dvs_role, *tag, queues)
            })
            .collect();
        let cfg = config_mtu(mtu, &ports);
        let qemu_server = dvs_role == "client";
        // QEMU starts no guest before its vhost-user NIC is connected. dvs as server listens
        // before QEMU starts; dvs as client connects to the sockets QEMU creates, so QEMU comes
        // first and the guests boot once the switch is up.
        let sw_first = (!qemu_server).then(|| Switchd::start(&cfg));
        let mut vms: Vec<Guest> = (0..tags.len())
            .map(|i| {
                let sock = dir.join(format!("vm{}.sock", i + 1));
                let mut nic = Nic::new(&sock, qemu_server, vm_mac(i as u8 + 1)).queues(queues);
                if msix_qemu.is_some() {
                    nic = nic.msix(true);
                }
                let qemu = msix_qemu.map_or_else(guest::qemu_binary, str::to_string);
                Guest::spawn_on(&qemu, &format!("vm{}", i + 1), &[nic])
            })
            .collect();
        let sw = sw_first.unwrap_or_else(|| {
            // QEMU creates its socket at start.
            let socks = (1..=tags.len()).map(|i| dir.join(format!("vm{i}.sock")));
            for s in socks {
                assert!(
                    wait(Duration::from_secs(20), || s.exists()),
                    "QEMU made no {s:?}"
                );
            }
            Switchd::start(&cfg)
        });
        for vm in vms.iter_mut() {
            vm.wait_ready();
        }
        let mut t = Vms { sw, vms, cfg, dir };
        for i in 0..t.vms.len() {
            t.configure(i);
        }
        t
    }

    /// Address vm(i+1)'s eth0 and wait until both ends of its link are up.
    fn configure(&mut self, i: usize) {
        self.vms[i].ip_up("eth0", &format!("{}/24", addr(i)));
        self.wait_link(i);
    }

    fn wait_link(&mut self, i: usize) {
        let port = format!("vm{}", i + 1);
        assert!(
            wait(CARRIER, || link_up(&self.sw, &port)),
            "switch port {port} never came up: {}\n{}",
            port_show(&self.sw, &port),
            self.sw.dvsctl(&["switch", "show"]).1
        );
        assert!(
            self.vms[i].wait_carrier("eth0", CARRIER),
            "{port}'s eth0 has no carrier; the switch says {}",
            port_show(&self.sw, &port)
        );
    }

    /// vm(a+1) pings vm(b+1).
    fn ping(&mut self, a: usize, b: usize) -> bool {
        let dst = addr(b);
        self.vms[a].ping(&dst)
    }

    fn assert_ping(&mut self, a: usize, b: usize, when: &str) {
        assert!(
            self.ping(a, b),
            "{when}: vm{} cannot ping vm{}: {}\n{}",
            a + 1,
            b + 1,
            self.sw.call("port/stats", json!({})),
            self.sw.dvsctl(&["switch", "show"]).1
        );
    }

    fn assert_isolated(&mut self, a: usize, b: usize, when: &str) {
        let dst = addr(b);
        assert!(
            self.vms[a].ping_fails(&dst),
            "{when}: vm{} reached vm{} across VLANs",
            a + 1,
            b + 1
        );
    }

    /// The three-guest VLAN check: vm1 <-> vm2 (VLAN 10) ping, vm3 (VLAN 20) is unreachable.
    fn check_vlans(&mut self, when: &str) {
        self.assert_ping(0, 1, when);
        self.assert_ping(1, 0, when);
        self.assert_isolated(0, 2, when);
        self.assert_isolated(2, 1, when);
    }

    /// (connections, link up) of a port, to show that it was not disturbed.
    fn untouched(&self, port: &str) -> (u64, bool) {
        (
            detail(&self.sw, port, "connections"),
            link_up(&self.sw, port),
        )
    }
}

impl Drop for Vms {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[test]
fn guests_with_dvs_as_server_ping_in_their_vlan_through_a_reboot_and_a_qemu_restart() {
    let test = "guests_with_dvs_as_server_ping_in_their_vlan_through_a_reboot_and_a_qemu_restart";
    if skip(test) {
        return;
    }
    let _one = serial();
    let mut t = Vms::start("server", &[10, 10, 20], 1, None, 1500);
    t.check_vlans("dvs as server");
    let (_, out) = t.sw.dvsctl(&["switch", "show"]);
    for want in [
        "vhost-user server",
        "connected, 1 connection",
        "frontend status: 0x0f (ACKNOWLEDGE DRIVER DRIVER_OK FEATURES_OK)",
        "queue pairs: 1 of 1 active",
        "ring 1 (guest tx): size 256, addressed started enabled call live",
    ] {
        assert!(out.contains(want), "switch show lacks {want:?}:\n{out}");
    }
    assert!(
        !t.vms[0].qemu_log().contains("F_CONFIG"),
        "QEMU complains about a protocol feature it cannot use:\n{}",
        t.vms[0].qemu_log()
    );
    let vm3_before = t.untouched("vm3");

    // The guest reboots: QEMU resets the device, the driver starts it again.
    t.vms[1].reboot();
    t.configure(1);
    t.assert_ping(0, 1, "after vm2 rebooted");

    // QEMU dies and is started again on the same socket: it reconnects to the switch.
    t.vms[0].kill();
    assert!(
        wait(CARRIER, || !link_up(&t.sw, "vm1")),
        "vm1's port stays up without its QEMU"
    );
    t.vms[0].restart();
    t.configure(0);
    t.assert_ping(0, 1, "after vm1's QEMU restarted");
    assert_eq!(detail(&t.sw, "vm1", "connections"), 2);
    assert_eq!(t.untouched("vm3"), vm3_before, "vm3's port was disturbed");
    t.assert_isolated(0, 2, "after the restarts");
}

#[test]
fn guests_with_dvs_as_client_survive_a_switch_restart_and_a_qemu_restart() {
    let test = "guests_with_dvs_as_client_survive_a_switch_restart_and_a_qemu_restart";
    if skip(test) {
        return;
    }
    let _one = serial();
    let mut t = Vms::start("client", &[10, 10, 20], 1, None, 1500);
    t.check_vlans("dvs as client");

    // The switch restarts; it reconnects to every QEMU, which kept running.
    assert!(t.sw.stop(), "dvs-switchd did not stop cleanly");
    t.sw = Switchd::start(&t.cfg);
    for i in 0..3 {
        t.wait_link(i);
    }
    t.check_vlans("after dvs-switchd restarted");

    // vm1's QEMU is killed and started again; dvs reconnects with backoff.
    let vm3_before = t.untouched("vm3");
    t.vms[0].kill();
    assert!(wait(CARRIER, || !link_up(&t.sw, "vm1")));
    t.vms[0].restart();
    t.configure(0);
    t.assert_ping(0, 1, "after vm1's QEMU restarted");
    assert!(detail(&t.sw, "vm1", "reconnects") >= 1);
    assert_eq!(t.untouched("vm3"), vm3_before, "vm3's port was disturbed");
}

#[test]
fn guest_driver_reload_link_flap_and_jumbo_mtu() {
    if skip("guest_driver_reload_link_flap_and_jumbo_mtu") {
        return;
    }
    let _one = serial();
    let mut t = Vms::start("server", &[10, 10], 1, None, 9000);
    t.assert_ping(0, 1, "at start");

    // The virtio-net driver is unloaded and loaded again.
    t.vms[0].must("ip link set eth0 down; rmmod virtio_net");
    assert!(
        wait(CARRIER, || !link_up(&t.sw, "vm1")),
        "the port stays up with no driver: {}",
        port_show(&t.sw, "vm1")
    );
    t.vms[0].must("insmod /mods/virtio_net.ko");
    t.configure(0);
    t.assert_ping(0, 1, "after the driver reload");

    // The guest takes its link down and up again.
    t.vms[1].must("ip link set eth0 down");
    assert!(t.vms[0].ping_fails(&addr(1)), "vm2 answered with eth0 down");
    t.vms[1].must("ip link set eth0 up");
    assert!(t.vms[1].wait_carrier("eth0", CARRIER));
    t.assert_ping(0, 1, "after vm2's link flap");

    // Both guests raise their MTU; 8000-byte pings cross whole (mergeable buffers).
    for vm in t.vms.iter_mut() {
        vm.must("ip link set eth0 mtu 9000");
    }
    let before = t.sw.port_stats("vm2")["tx_bytes"].as_u64().unwrap_or(0);
    assert!(
        t.vms[0]
            .sh_timeout(
                &format!("ping -c 3 -W 3 -s 8000 {} >/dev/null", addr(1)),
                Duration::from_secs(60)
            )
            .0
            == 0,
        "jumbo pings failed: {}",
        t.sw.call("port/stats", json!({}))
    );
    let moved = t.sw.port_stats("vm2")["tx_bytes"].as_u64().unwrap_or(0) - before;
    assert!(moved >= 3 * 8000, "only {moved} bytes reached vm2");
    assert_eq!(t.sw.drops("oversize"), 0);
}

#[test]
fn two_queue_pairs_carry_traffic_after_ethtool_l() {
    if skip("two_queue_pairs_carry_traffic_after_ethtool_l") {
        return;
    }
    let _one = serial();
    let mut t = Vms::start("server", &[10, 10], 2, None, 1500);
    assert_eq!(
        detail(&t.sw, "vm1", "active_queue_pairs"),
        1,
        "one vCPU: one pair at boot"
    );
    t.vms[0].must("ethtool -L eth0 combined 2");
    assert!(
        wait(CARRIER, || detail(&t.sw, "vm1", "active_queue_pairs") == 2),
        "the second queue pair never came up: {}",
        t.sw.dvsctl(&["switch", "show"]).1
    );
    t.assert_ping(0, 1, "with two queue pairs");
    // Sixteen flows (static neighbours, so no ARP is needed): the guest hashes them over its
    // two TX queues, and the switch floods the unknown unicast to vm2.
    let mut cmd = String::new();
    for i in 0..16 {
        cmd.push_str(&format!(
            "arp -s 10.50.0.{} 02:aa:00:00:00:{:02x}; ping -c 1 -W 1 10.50.0.{} >/dev/null; ",
            100 + i,
            i,
            100 + i
        ));
    }
    t.vms[0].sh_timeout(&cmd, Duration::from_secs(120));
    let (q0, q1) = (ring_packets(&t.sw, "vm1", 1), ring_packets(&t.sw, "vm1", 3));
    assert!(
        q0 > 0 && q1 > 0,
        "guest TX on queue 0: {q0}, on queue 1: {q1}: {}",
        t.sw.dvsctl(&["switch", "show"]).1
    );
    // Back to one pair: the second one is disabled and traffic still flows.
    t.vms[0].must("ethtool -L eth0 combined 1");
    assert!(wait(CARRIER, || detail(&t.sw, "vm1", "active_queue_pairs") == 1));
    t.assert_ping(0, 1, "back on one queue pair");
}

#[test]
fn guest_reaches_a_netns_host_and_announce_self_moves_its_mac_back() {
    if skip("guest_reaches_a_netns_host_and_announce_self_moves_its_mac_back") {
        return;
    }
    let _one = serial();
    let dir = sock_dir();
    let ns = Netns::new("qhost");
    let host_mac = vm_mac(9);
    let veth = Veth::new(&ns, host_mac, Some("10.50.0.9/24"));
    let sw = Switchd::start(&config(
        &(vhost_port("vm1", 1, &dir, "server", 10, 1)
            + &format!(
                "\n[[bridge.port]]\nname = \"host\"\nkind = \"afpacket\"\ninterface = \"{}\"\n\
                 ofport = 2\nvlan_mode = \"access\"\ntag = 10\n",
                veth.host
            )),
    ));
    let mut vm = Guest::start("vm1", &[Nic::new(&dir.join("vm1.sock"), false, vm_mac(1))]);
    vm.ip_up("eth0", "10.50.0.1/24");
    assert!(vm.wait_carrier("eth0", CARRIER));
    assert!(
        vm.ping("10.50.0.9"),
        "the guest cannot reach the netns host"
    );
    assert!(
        ns.ping_ok("10.50.0.1"),
        "the netns host cannot reach the guest"
    );

    // Something on the host port claims the guest's MAC (as the VM's old location would):
    // the switch moves the MAC there.
    let mac_port = |sw: &Switchd| {
        sw.call("mac/show", json!({"bridge": "br0"}))
            .as_array()
            .and_then(|a| {
                a.iter()
                    .find(|e| e["mac"] == tests::mac_str(vm_mac(1)))
                    .map(|e| e["port"].as_str().unwrap_or("").to_string())
            })
            .unwrap_or_default()
    };
    assert_eq!(mac_port(&sw), "vm1");
    let cap = RawSock::open(&ns, "eth0");
    cap.send(&frame(BROADCAST, vm_mac(1), None, 1));
    assert!(wait(Duration::from_secs(5), || mac_port(&sw) == "host"));
    cap.drain();
    // The switch holds an address that moved for 1 s before it may move again (flap damping),
    // and QEMU's five announcements span 0.8 s: let the hold-down pass, as it has long passed
    // when a VM really migrates.
    std::thread::sleep(Duration::from_millis(1200));

    // QEMU announces the guest (as after a migration): it asks the backend for a RARP, which
    // the switch sends from the guest's port, so the MAC moves back and the host sees it.
    let answer = vm.monitor("announce_self");
    assert!(
        wait(Duration::from_secs(10), || mac_port(&sw) == "vm1"),
        "no move after announce_self ({answer}); {}\nmac table: {}\n{}\nports: {}\ndrops: {}",
        port_show(&sw, "vm1"),
        sw.call("mac/show", json!({"bridge": "br0"})),
        sw.call("switch/show", json!({}))["bridges"][0]["mac_table"],
        sw.call("port/stats", json!({})),
        sw.call("drop/stats", json!({}))
    );
    let rarps = cap.collect(Duration::from_millis(1500), |f| {
        f.len() >= 14 && f[12..14] == [0x80, 0x35] && f[6..12] == vm_mac(1)
    });
    assert!(!rarps.is_empty(), "the host saw no RARP for the guest");
    assert!(detail(&sw, "vm1", "rarps_sent") >= 1);
    drop(vm);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A QEMU whose TCG path supports MSI-X for vhost (QEMU 7.2's does not): `DVS_QEMU_MSIX`, or
/// the QEMU 10 that `scripts/setup.sh` unpacks from Debian's backports.
fn msix_qemu() -> Option<String> {
    std::env::var("DVS_QEMU_MSIX")
        .ok()
        .or_else(|| Some("/opt/dvs-qemu10/usr/bin/qemu-system-x86_64".to_string()))
        .filter(|p| {
            std::process::Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[test]
fn guests_ping_with_msix_interrupts_on_a_newer_qemu() {
    let test = "guests_ping_with_msix_interrupts_on_a_newer_qemu";
    if skip(test) {
        return;
    }
    let Some(qemu) = msix_qemu() else {
        eprintln!(
            "skipping {test}: no QEMU with MSI-X under TCG (set DVS_QEMU_MSIX, or run \
             scripts/setup.sh, which unpacks QEMU 10 into /opt/dvs-qemu10)"
        );
        return;
    };
    let _one = serial();
    let mut t = Vms::start("client", &[10, 10], 1, Some(&qemu), 1500);
    t.assert_ping(0, 1, "MSI-X guests");
    t.assert_ping(1, 0, "MSI-X guests");
}

#[test]
fn a_vm_port_added_while_running_carries_a_new_guest_and_the_others_keep_their_link() {
    let test = "a_vm_port_added_while_running_carries_a_new_guest_and_the_others_keep_their_link";
    if skip(test) {
        return;
    }
    let _one = serial();
    let mut t = Vms::start("server", &[10, 10], 1, None, 1500);
    t.assert_ping(0, 1, "at start");
    // vm1 pings vm2 ten times a second, in the background, while the switch is reconfigured.
    t.vms[0].must(&format!(
        "ping -c 80 -i 0.1 {} > /tmp/flood 2>&1 &",
        addr(1)
    ));

    // The operator adds a port for a third VM to the file and reloads: no restart.
    let path = t.sw.config_path();
    let before = std::fs::read_to_string(&path).unwrap();
    let with_vm3 = before.clone() + &vhost_port("vm3", 3, &t.dir, "server", 10, 1);
    std::fs::write(&path, &with_vm3).unwrap();
    let (ok, out) = t.sw.dvsctl(&["switch", "reload"]);
    assert!(ok && out.contains("port vm3 added"), "{out}");
    let nic = Nic::new(&t.dir.join("vm3.sock"), false, vm_mac(3));
    t.vms.push(Guest::start("vm3", &[nic]));
    t.configure(2);
    t.assert_ping(2, 0, "the new VM");

    // The background pings all came back: vm1 and vm2 never lost their link.
    let (_, flood) = t.vms[0].sh_timeout("wait; cat /tmp/flood", Duration::from_secs(60));
    assert!(
        flood.contains("80 packets transmitted, 80 packets received"),
        "pings lost while vm3 was added:\n{flood}"
    );
    assert_eq!(detail(&t.sw, "vm1", "connections"), 1);
    assert_eq!(detail(&t.sw, "vm2", "connections"), 1);

    // And removed again: vm3 is cut off, the others are not.
    std::fs::write(&path, &before).unwrap();
    let (ok, out) = t.sw.dvsctl(&["switch", "reload"]);
    assert!(ok && out.contains("port vm3 removed"), "{out}");
    let cut = wait(CARRIER, || !t.vms[2].carrier("eth0")) || t.vms[2].ping_fails(&addr(0));
    assert!(cut, "vm3 still reaches vm1 after its port was removed");
    assert!(!t.sw.dvsctl(&["switch", "show"]).1.contains("Port vm3"));
    t.assert_ping(0, 1, "after vm3's port was removed");
}

/// Is `f` one unfragmented IPv4 ICMP packet of `len` bytes with DF set, from `mac`?
fn whole_df_icmp(f: &[u8], mac: [u8; 6], len: usize) -> Result<(), String> {
    if f.len() < 34 || f[6..12] != mac || f[12..14] != [0x08, 0x00] || f[23] != 1 {
        return Err(format!(
            "not an ICMP packet from the guest: {:02x?}",
            &f[..f.len().min(34)]
        ));
    }
    let frag = u16::from_be_bytes([f[20], f[21]]);
    let ip_len = usize::from(u16::from_be_bytes([f[16], f[17]]));
    if f.len() != len || ip_len != len - 14 || frag != 0x4000 {
        return Err(format!(
            "{} bytes (IP total length {ip_len}, flags/offset {frag:#06x}); want {len} with DF only",
            f.len()
        ));
    }
    Ok(())
}

#[test]
fn guest_with_host_mtu_9000_and_a_netns_host_exchange_9000_byte_packets_unfragmented() {
    let test = "guest_with_host_mtu_9000_and_a_netns_host_exchange_9000_byte_packets_unfragmented";
    if skip(test) {
        return;
    }
    let _one = serial();
    let dir = sock_dir();
    let ns = Netns::new("qjumbo");
    let host_mac = vm_mac(9);
    let veth = Veth::new(&ns, host_mac, Some("10.50.0.9/24"));
    tests::run("ip", &["link", "set", &veth.host, "mtu", "9000"]);
    ns.ip(&["link", "set", "eth0", "mtu", "9000"]);
    // The switch, both ports and both links at 9000.
    let sw = Switchd::start(&config_mtu(
        9000,
        &(vhost_port("vm1", 1, &dir, "server", 10, 1).replacen(
            "ofport = 1\n",
            "ofport = 1\nmtu = 9000\n",
            1,
        ) + &format!(
            "\n[[bridge.port]]\nname = \"host\"\nkind = \"afpacket\"\ninterface = \"{}\"\n\
             ofport = 2\nvlan_mode = \"access\"\ntag = 10\nmtu = 9000\n",
            veth.host
        )),
    ));
    let nic = Nic::new(&dir.join("vm1.sock"), false, vm_mac(1)).host_mtu(9000);
    let mut vm = Guest::start("vm1", &[nic]);
    // QEMU tells the guest `host_mtu` only when the backend offers VIRTIO_NET_F_MTU, which the
    // switch does not: the guest raises its MTU itself, as its administrator would.
    vm.must("ip link set eth0 mtu 9000");
    vm.ip_up("eth0", "10.50.0.1/24");
    assert!(vm.wait_carrier("eth0", CARRIER));
    assert!(
        vm.ping("10.50.0.9"),
        "the guest cannot reach the host at all"
    );
    let guest_mtu = vm.must("cat /sys/class/net/eth0/mtu");
    assert_eq!(guest_mtu.trim(), "9000");

    // Host -> guest: 8972 bytes of ICMP payload in a 9000-byte packet that may not be
    // fragmented; the guest's replies come back the same size.
    let (ok, out) = ns.exec(&[
        "ping",
        "-n",
        "-q",
        "-c",
        "3",
        "-W",
        "5",
        "-i",
        "0.5",
        "-M",
        "do",
        "-s",
        "8972",
        "10.50.0.1",
    ]);
    assert!(
        ok,
        "9000-byte pings from the host: {out}\n{}\n{}",
        sw.call("port/stats", json!({})),
        sw.call("drop/stats", json!({}))
    );
    // One byte more does not fit the host's eth0: refused there, not fragmented.
    let (ok, _) = ns.exec(&[
        "ping",
        "-n",
        "-q",
        "-c",
        "1",
        "-W",
        "2",
        "-M",
        "do",
        "-s",
        "8973",
        "10.50.0.1",
    ]);
    assert!(!ok, "a 9001-byte packet with DF passed an MTU of 9000");

    // Guest -> host: busybox's ping has no `-M do`, but Linux sets DF on every packet that fits
    // the route's MTU and fragments only what does not; so the host must see the guest's
    // 9000-byte echo requests whole, each one 9014-byte frame with DF set.
    let cap = RawSock::open(&ns, "eth0");
    cap.drain();
    let before = sw.port_stats("vm1")["rx_bytes"].as_u64().unwrap_or(0);
    let (st, out) = vm.sh_timeout("ping -c 3 -W 5 -s 8972 10.50.0.9", Duration::from_secs(60));
    assert_eq!(
        st,
        0,
        "9000-byte pings from the guest: {out}\n{}",
        sw.call("port/stats", json!({}))
    );
    let requests = cap.collect(Duration::from_millis(500), |f| {
        f.len() >= 35 && f[6..12] == vm_mac(1) && f[12..14] == [0x08, 0x00] && f[23] == 1
    });
    assert!(
        requests.len() >= 3,
        "the host saw {} ICMP frames from the guest",
        requests.len()
    );
    for f in &requests {
        if let Err(e) = whole_df_icmp(f, vm_mac(1), 9014) {
            panic!("guest -> host: {e}");
        }
    }
    let moved = sw.port_stats("vm1")["rx_bytes"].as_u64().unwrap_or(0) - before;
    assert!(moved >= 3 * 9014, "only {moved} bytes came from the guest");
    assert_eq!(
        sw.drops("too_big"),
        0,
        "{}",
        sw.call("drop/stats", json!({}))
    );
    drop(vm);
    let _ = std::fs::remove_dir_all(&dir);
}
