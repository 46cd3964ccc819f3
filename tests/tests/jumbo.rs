//! Jumbo frames end to end: with a switch MTU of 9000, 9000-byte payloads (9014-byte frames)
//! cross the switch whole on every port kind that can carry them, anything bigger is dropped and
//! counted (`too_big`) instead of truncated, and a port with a smaller MTU between jumbo ports
//! drops the jumbo frames going out of it, counted on its `tx_dropped`. A backend that cannot
//! carry the MTU (AF_XDP without multi-buffer) is refused when the switch starts.
//!
//! Every VM is a network namespace behind a veth; frames are sent and captured with raw
//! sockets so their bytes can be compared, and `ping -M do` / iperf3 show real stacks agreeing.

use std::process::{Command, Stdio};
use std::time::Duration;
use tests::frames::{frame, parse, BROADCAST};
use tests::lab::{config_text, Vm, VmSpec};
use tests::{require_root, vm_mac, Netns, RawSock, Switchd, Veth};

const WINDOW: Duration = Duration::from_millis(700);

/// One VM of a jumbo lab: its spec, the MTU of both ends of its veth, and its port's own `mtu`
/// (`None`: the switch's).
struct Spec {
    vm: VmSpec,
    link_mtu: u32,
    port_mtu: Option<u32>,
}

fn spec(vm: VmSpec, link_mtu: u32, port_mtu: Option<u32>) -> Spec {
    Spec {
        vm,
        link_mtu,
        port_mtu,
    }
}

struct JumboLab {
    sw: Switchd,
    vms: Vec<Vm>,
}

impl JumboLab {
    fn vm(&self, name: &str) -> &Vm {
        self.vms
            .iter()
            .find(|v| v.spec.name == name)
            .unwrap_or_else(|| panic!("no vm {name}"))
    }

    fn stat(&self, port: &str, counter: &str) -> u64 {
        self.sw.port_stats(port)[counter].as_u64().unwrap_or(0)
    }
}

/// Namespaces and veths for `specs`, and the switch configuration for them (switch MTU 9000).
fn build(specs: &[Spec]) -> (Vec<Vm>, String) {
    let mut vms = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let ns = Netns::new(s.vm.name);
        let mac = vm_mac(i as u8 + 1);
        let veth = Veth::new(&ns, mac, s.vm.addr);
        let m = s.link_mtu.to_string();
        tests::run("ip", &["link", "set", &veth.host, "mtu", &m]);
        ns.ip(&["link", "set", "eth0", "mtu", &m]);
        vms.push(Vm {
            spec: s.vm.clone(),
            mac,
            ns,
            veth,
        });
    }
    let mut cfg = config_text(&vms, &[], "").replacen("[switch]\n", "[switch]\nmtu = 9000\n", 1);
    for s in specs {
        if let Some(m) = s.port_mtu {
            let name = format!("name = \"{}\"\n", s.vm.name);
            cfg = cfg.replacen(&name, &format!("{name}mtu = {m}\n"), 1);
        }
    }
    (vms, cfg)
}

fn start(specs: &[Spec]) -> JumboLab {
    let (vms, cfg) = build(specs);
    let sw = Switchd::start(&cfg);
    JumboLab { sw, vms }
}

/// A test frame of exactly `len` bytes whose payload is a counting pattern (so a truncated or
/// altered copy cannot pass for the original).
fn big_frame(src: [u8; 6], marker: u32, len: usize) -> Vec<u8> {
    let mut f = frame(BROADCAST, src, None, marker);
    let head = f.len().min(26);
    f.truncate(head);
    f.extend((head..len).map(|i| (i * 7 + 3) as u8));
    f
}

fn with_marker(marker: u32) -> impl Fn(&[u8]) -> bool {
    move |f: &[u8]| parse(f).is_some_and(|p| p.3 == marker)
}

/// Ping with `size` bytes of payload and DF set; true if every echo came back (retried once:
/// the first may be spent on ARP).
fn ping_df(ns: &Netns, dst: &str, size: u32) -> (bool, String) {
    let s = size.to_string();
    let run = |c: &str| {
        ns.exec(&[
            "ping", "-n", "-q", "-c", c, "-W", "1", "-i", "0.2", "-M", "do", "-s", &s, dst,
        ])
    };
    let first = run("3");
    if first.0 {
        return first;
    }
    run("2")
}

#[test]
fn afpacket_jumbo_frames_cross_whole_and_bigger_ones_are_dropped_and_counted() {
    if !require_root("afpacket_jumbo_frames_cross_whole_and_bigger_ones_are_dropped_and_counted") {
        return;
    }
    // vm1's link takes 9100 so that it can send a frame over the switch MTU at all; vm3's port
    // has MTU 1500 on a 9000 link, so only the switch stops jumbo frames towards it.
    let lab = start(&[
        spec(VmSpec::access("vm1", 10, "10.0.90.1/24"), 9100, None),
        spec(VmSpec::access("vm2", 10, "10.0.90.2/24"), 9000, None),
        spec(VmSpec::access("vm3", 10, "10.0.90.3/24"), 9000, Some(1500)),
    ]);
    let (vm1, vm2, vm3) = (lab.vm("vm1"), lab.vm("vm2"), lab.vm("vm3"));
    let tx = RawSock::open(&vm1.ns, "eth0");
    let c2 = RawSock::open(&vm2.ns, "eth0");
    let c3 = RawSock::open(&vm3.ns, "eth0");
    c2.drain();
    c3.drain();

    // 9000 bytes of payload: vm2 gets it byte for byte; vm3's port (MTU 1500) drops it.
    let jumbo = big_frame(vm1.mac, 1, 9014);
    tx.send(&jumbo);
    let got2 = c2.collect(WINDOW, with_marker(1));
    assert_eq!(got2.len(), 1, "vm2 receives the 9014-byte frame once");
    assert!(
        got2[0] == jumbo,
        "received {} bytes, not the frame sent",
        got2[0].len()
    );
    assert!(
        c3.collect(WINDOW, with_marker(1)).is_empty(),
        "vm3's port MTU is 1500"
    );
    assert_eq!(
        lab.stat("vm3", "tx_dropped"),
        1,
        "{}",
        lab.sw.port_stats("vm3")
    );
    assert_eq!(lab.stat("vm3", "tx_packets"), 0);

    // A full standard frame still reaches both.
    let std_frame = big_frame(vm1.mac, 2, 1514);
    tx.send(&std_frame);
    assert_eq!(c2.collect(WINDOW, with_marker(2)), vec![std_frame.clone()]);
    assert_eq!(c3.collect(WINDOW, with_marker(2)), vec![std_frame]);
    assert_eq!(lab.stat("vm3", "tx_dropped"), 1);

    // One byte over the switch MTU: dropped on receive as too_big, nobody sees it.
    let too_big_before = lab.sw.drops("too_big");
    let over = big_frame(vm1.mac, 3, 9015);
    tx.send(&over);
    assert!(
        c2.collect(WINDOW, with_marker(3)).is_empty(),
        "9015 bytes must not pass"
    );
    assert!(c3
        .collect(Duration::from_millis(100), with_marker(3))
        .is_empty());
    assert_eq!(
        lab.sw.drops("too_big"),
        too_big_before + 1,
        "{}",
        lab.sw.log()
    );
    assert_eq!(lab.stat("vm1", "rx_dropped"), 1);
    assert_eq!(lab.stat("vm1", "rx_errors"), 0);
    assert_eq!(lab.stat("vm2", "tx_packets"), 2);
}

#[test]
fn ping_and_iperf3_with_mtu_9000_through_the_switch() {
    if !require_root("ping_and_iperf3_with_mtu_9000_through_the_switch") {
        return;
    }
    let lab = start(&[
        spec(VmSpec::access("vm1", 10, "10.0.91.1/24"), 9000, None),
        spec(VmSpec::access("vm2", 10, "10.0.91.2/24"), 9000, None),
        spec(VmSpec::access("vm3", 10, "10.0.91.3/24"), 9000, Some(1500)),
    ]);
    let (vm1, vm2) = (lab.vm("vm1"), lab.vm("vm2"));
    // 8972 bytes of ICMP payload = a 9000-byte IP packet that may not be fragmented.
    let (ok, out) = ping_df(&vm1.ns, "10.0.91.2", 8972);
    assert!(ok, "9000-byte pings must pass: {out}\n{}", lab.sw.log());
    let (ok, out) = ping_df(&vm1.ns, "10.0.91.2", 8973);
    assert!(
        !ok,
        "a 9001-byte packet does not fit eth0 (MTU 9000): {out}"
    );
    // Towards vm3 (port MTU 1500 on a 9000 link) the small ping passes, the jumbo one is
    // dropped by the switch, counted.
    assert!(vm1.ns.ping_ok("10.0.91.3"));
    let dropped = lab.stat("vm3", "tx_dropped");
    let (ok, _) = ping_df(&vm1.ns, "10.0.91.3", 8972);
    assert!(!ok, "vm3's port MTU is 1500");
    assert!(lab.stat("vm3", "tx_dropped") > dropped);

    // iperf3 TCP with 9000-byte segments: the frames vm2's port sends average well over 1514.
    let mut server = Command::new("ip")
        .args([
            "netns",
            "exec",
            &vm2.ns.name,
            "iperf3",
            "-s",
            "-1",
            "-p",
            "5290",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 server");
    std::thread::sleep(Duration::from_millis(500));
    let (before_p, before_b) = (lab.stat("vm2", "tx_packets"), lab.stat("vm2", "tx_bytes"));
    let (ok, out) = vm1.ns.exec(&[
        "iperf3",
        "-c",
        "10.0.91.2",
        "-p",
        "5290",
        "-t",
        "3",
        "-M",
        "8948",
    ]);
    let _ = server.kill();
    let _ = server.wait();
    assert!(ok, "iperf3 over jumbo frames: {out}");
    let (p, b) = (
        lab.stat("vm2", "tx_packets") - before_p,
        lab.stat("vm2", "tx_bytes") - before_b,
    );
    assert!(p > 100, "iperf3 moved {p} frames");
    assert!(
        b / p > 4000,
        "average frame {} bytes: jumbo frames were not used",
        b / p
    );
    assert_eq!(lab.stat("vm1", "rx_errors"), 0);
    assert_eq!(lab.stat("vm2", "tx_errors"), 0);
}

#[test]
fn afxdp_refuses_a_jumbo_mtu_at_start_and_takes_a_standard_one() {
    if !require_root("afxdp_refuses_a_jumbo_mtu_at_start_and_takes_a_standard_one") {
        return;
    }
    let (vms, cfg) = build(&[
        spec(
            VmSpec::access("vm1", 10, "10.0.92.1/24").kind("afxdp"),
            9000,
            None,
        ),
        spec(VmSpec::access("vm2", 10, "10.0.92.2/24"), 9000, None),
    ]);
    // Started by hand: the switch must refuse to start, saying why and what to use instead.
    let dir = std::env::temp_dir().join(format!("dvs-jumbo-{}", tests::unique_tag()));
    std::fs::create_dir_all(&dir).expect("dir");
    let text = cfg.replacen(
        "[switch]",
        &format!("[switch]\nrundir = \"{}\"", dir.join("run").display()),
        1,
    );
    let path = dir.join("switch.toml");
    std::fs::write(&path, text).expect("config");
    let out = Command::new(tests::bin("dvs-switchd"))
        .arg("--config")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("run dvs-switchd");
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must not start: {err}");
    assert!(
        err.contains("afxdp port: MTU 9000 does not fit") && err.contains("\"afpacket\""),
        "{err}"
    );
    drop(vms);

    // The same port with its own MTU of 1500 in the jumbo switch works, and keeps to it.
    let lab = start(&[
        spec(
            VmSpec::access("vm1", 10, "10.0.93.1/24").kind("afxdp"),
            1500,
            Some(1500),
        ),
        spec(VmSpec::access("vm2", 10, "10.0.93.2/24"), 9000, None),
    ]);
    assert!(lab.vm("vm1").ns.ping_ok("10.0.93.2"), "{}", lab.sw.log());
    let (ok, _) = ping_df(&lab.vm("vm2").ns, "10.0.93.1", 8972);
    assert!(!ok, "vm1's port carries 1500 only");
    assert!(
        lab.stat("vm1", "tx_dropped") > 0,
        "{}",
        lab.sw.port_stats("vm1")
    );
}

#[test]
fn dpdk_port_carries_jumbo_frames() {
    if !require_root("dpdk_port_carries_jumbo_frames") {
        return;
    }
    let (vms, cfg) = build(&[
        spec(
            VmSpec::access("vm1", 10, "10.0.94.1/24").kind("dpdk"),
            9000,
            None,
        ),
        spec(VmSpec::access("vm2", 10, "10.0.94.2/24"), 9000, None),
        spec(
            VmSpec::access("vm3", 10, "10.0.94.3/24").kind("dpdk"),
            9000,
            Some(1500),
        ),
    ]);
    // DPDK 22.11's af_packet and tap PMDs stop at 1518-byte frames (their `max_rx_pktlen`);
    // the pcap PMD on a live interface takes frames up to 64 KiB, in chained mbufs on receive.
    let cfg = cfg.replace(
        &format!("net_af_packet0,iface={}\"", vms[0].veth.host),
        &format!("net_pcap0,iface={}\"", vms[0].veth.host),
    );
    let lab = JumboLab {
        sw: Switchd::start(&cfg),
        vms,
    };
    let (vm1, vm2, vm3) = (lab.vm("vm1"), lab.vm("vm2"), lab.vm("vm3"));
    let (ok, out) = ping_df(&vm1.ns, "10.0.94.2", 8972);
    assert!(
        ok,
        "9000-byte pings through a DPDK port: {out}\n{}",
        lab.sw.log()
    );

    let c1 = RawSock::open(&vm1.ns, "eth0");
    let c3 = RawSock::open(&vm3.ns, "eth0");
    let tx = RawSock::open(&vm2.ns, "eth0");
    c1.drain();
    c3.drain();
    let jumbo = big_frame(vm2.mac, 11, 9014);
    tx.send(&jumbo);
    let got = c1.collect(WINDOW, with_marker(11));
    assert_eq!(got.len(), 1, "vm1 (dpdk) receives the jumbo frame");
    assert!(
        got[0] == jumbo,
        "received {} bytes, not the frame sent",
        got[0].len()
    );
    assert!(
        c3.collect(WINDOW, with_marker(11)).is_empty(),
        "vm3's port MTU is 1500"
    );
    assert!(
        lab.stat("vm3", "tx_dropped") >= 1,
        "{}",
        lab.sw.port_stats("vm3")
    );
}

/// A `dpdk-testpmd` guest (`net_virtio_user`, receive only), killed on drop.
struct Guest(std::process::Child);

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start a guest on vhost-user socket `sock` (the switch listens) with `mrg_rxbuf` on or off.
/// Its receive buffers are testpmd's default 2 KiB mbufs.
fn guest(sock: &std::path::Path, mrg_rxbuf: bool) -> Guest {
    let vdev = format!(
        "net_virtio_user0,path={},queues=1,server=0,mac={},mrg_rxbuf={}",
        sock.display(),
        tests::mac_str(vm_mac(1)),
        u8::from(mrg_rxbuf)
    );
    let prefix = format!("dvsjumbo{}", tests::unique_tag());
    Guest(
        Command::new("dpdk-testpmd")
            .args(["-l", "0,1", "--main-lcore", "1", "--no-pci", "--in-memory"])
            .args(["--single-file-segments", "-m", "256", "--no-telemetry"])
            .args(["--file-prefix", &prefix, "--vdev", &vdev, "--"])
            .args([
                "--nb-cores=1",
                "--total-num-mbufs=8192",
                "--forward-mode=rxonly",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn dpdk-testpmd"),
    )
}

#[test]
fn vhost_jumbo_frames_spread_over_merged_buffers_or_are_dropped_whole() {
    let t = "vhost_jumbo_frames_spread_over_merged_buffers_or_are_dropped_whole";
    if !require_root(t) || !tests::testpmd::available(t) {
        return;
    }
    for mrg in [true, false] {
        let (vms, cfg) = build(&[spec(VmSpec::access("host", 10, "10.0.95.1/24"), 9000, None)]);
        let dir = std::env::temp_dir().join(format!("dvs-jumbo-vhu-{}", tests::unique_tag()));
        std::fs::create_dir_all(&dir).expect("dir");
        let sock = dir.join("vm.sock");
        let cfg = format!(
            "{cfg}\n[[bridge.port]]\nname = \"vm\"\nkind = \"vhost\"\nsocket = \"{}\"\n\
             vhost_role = \"server\"\nofport = 2\nvlan_mode = \"access\"\ntag = 10\n",
            sock.display()
        );
        let lab = JumboLab {
            sw: Switchd::start(&cfg),
            vms,
        };
        let _guest = guest(&sock, mrg);
        let host = lab.vm("host");
        let tx = RawSock::open(&host.ns, "eth0");
        // A standard frame gets through once the guest is up.
        let small = big_frame(host.mac, 20, 1514);
        let up = tests::wait_until(Duration::from_secs(30), || {
            tx.send(&small);
            std::thread::sleep(Duration::from_millis(100));
            lab.stat("vm", "tx_packets") > 0
        });
        assert!(
            up,
            "the guest never received (mrg_rxbuf={mrg}): {}",
            lab.sw.log()
        );
        std::thread::sleep(Duration::from_millis(300));
        let (p0, d0) = (lab.stat("vm", "tx_packets"), lab.stat("vm", "tx_dropped"));
        for i in 0..3 {
            tx.send(&big_frame(host.mac, 21 + i, 9014));
        }
        std::thread::sleep(Duration::from_millis(500));
        let (p1, d1) = (lab.stat("vm", "tx_packets"), lab.stat("vm", "tx_dropped"));
        let details = lab.sw.call("switch/show", serde_json::json!({}));
        if mrg {
            assert_eq!(
                (p1 - p0, d1 - d0),
                (3, 0),
                "merged buffers carry 9014 bytes: {details}"
            );
            assert!(lab.stat("vm", "tx_bytes") >= 3 * 9014);
        } else {
            assert_eq!(
                (p1 - p0, d1 - d0),
                (0, 3),
                "without MRG_RXBUF a 2 KiB buffer cannot take 9014 bytes: dropped, not \
                 truncated: {details}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// What a guest's jumbo frame must look like at the far port: `len` bytes from `mac`, with
/// testpmd's txonly IPv4/UDP headers saying the same length (so a frame cut short, or one whose
/// tail went missing between descriptors, cannot pass).
fn whole_txonly_frame(f: &[u8], mac: [u8; 6], len: usize) -> Result<(), String> {
    if f.len() != len {
        return Err(format!("{} bytes, not {len}", f.len()));
    }
    if f[6..12] != mac || f[12..14] != [0x08, 0x00] {
        return Err(format!("not the guest's IPv4 frame: {:02x?}", &f[..14]));
    }
    let ip_len = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let udp_len = usize::from(u16::from_be_bytes([f[38], f[39]]));
    if ip_len != len - 14 || udp_len != len - 34 {
        return Err(format!(
            "headers say IP {ip_len} / UDP {udp_len} bytes in a {len}-byte frame"
        ));
    }
    Ok(())
}

#[test]
fn vhost_guest_sends_jumbo_frames_in_one_descriptor_or_a_chain_and_oversize_ones_are_dropped() {
    let t =
        "vhost_guest_sends_jumbo_frames_in_one_descriptor_or_a_chain_and_oversize_ones_are_dropped";
    if !require_root(t) || !tests::testpmd::available(t) {
        return;
    }
    let (vms, cfg) = build(&[spec(VmSpec::access("host", 10, "10.0.96.1/24"), 9000, None)]);
    let dir = std::env::temp_dir().join(format!("dvs-jumbo-vtx-{}", tests::unique_tag()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sock = dir.join("vm.sock");
    let cfg = format!(
        "{cfg}\n[[bridge.port]]\nname = \"vm\"\nkind = \"vhost\"\nsocket = \"{}\"\n\
         vhost_role = \"server\"\nofport = 2\nvlan_mode = \"access\"\ntag = 10\n",
        sock.display()
    );
    let lab = JumboLab {
        sw: Switchd::start(&cfg),
        vms,
    };
    // 9400-byte mbufs: a 9014-byte frame fits one (testpmd pushes the virtio-net header into its
    // headroom: one descriptor); a segment list makes a chain of mbufs (a header descriptor and
    // one per segment).
    let vm_mac_ = vm_mac(7);
    let mut vm = tests::testpmd::Testpmd::start_with(
        &sock,
        false,
        vm_mac_,
        &[
            "--mbuf-size=9400",
            "--max-pkt-len=9600",
            "--enable-scatter",
            "--tx-offloads=0x8000",
        ],
    );
    vm.wait_link_up(Duration::from_secs(20));
    let host = lab.vm("host");
    let cap = RawSock::open(&host.ns, "eth0");
    let from_vm = move |f: &[u8]| f.len() >= 14 && f[6..12] == vm_mac_;

    let shapes = [
        ("one descriptor", "9014"),
        ("a chain of five segments", "2048,2048,2048,2048,822"),
        ("a chain of uneven segments", "60,4000,1,3000,1953"),
    ];
    for (what, txpkts) in shapes {
        cap.drain();
        let (p0, b0) = (lab.stat("vm", "rx_packets"), lab.stat("vm", "rx_bytes"));
        vm.send_shaped(txpkts, 2);
        let got = cap.collect(WINDOW, from_vm);
        assert_eq!(
            got.len(),
            2,
            "{what}: the host got {:?} byte frames; vm port {}\n{}",
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            lab.sw.port_stats("vm"),
            lab.sw.log()
        );
        for f in &got {
            if let Err(e) = whole_txonly_frame(f, vm_mac_, 9014) {
                panic!("{what}: {e}");
            }
        }
        assert_eq!(lab.stat("vm", "rx_packets") - p0, 2, "{what}");
        assert_eq!(lab.stat("vm", "rx_bytes") - b0, 2 * 9014, "{what}");
    }
    assert_eq!(
        lab.stat("vm", "rx_errors"),
        0,
        "{}",
        lab.sw.port_stats("vm")
    );
    assert_eq!(lab.stat("vm", "rx_dropped"), 0);

    // One byte over the MTU, in one descriptor and in a chain: dropped whole, counted as
    // too_big on the switch and on the port, never delivered cut to 9014 bytes.
    let too_big = lab.sw.drops("too_big");
    for txpkts in ["9015", "2048,2048,2048,2048,823"] {
        cap.drain();
        vm.send_shaped(txpkts, 1);
        let got = cap.collect(WINDOW, from_vm);
        assert!(
            got.is_empty(),
            "{txpkts}: {:?} byte frames passed",
            got.iter().map(Vec::len).collect::<Vec<_>>()
        );
    }
    assert_eq!(
        lab.sw.drops("too_big"),
        too_big + 2,
        "{}",
        lab.sw.call("drop/stats", serde_json::json!({}))
    );
    let stats = lab.sw.port_stats("vm");
    assert_eq!(stats["rx_dropped"].as_u64(), Some(2), "{stats}");
    assert_eq!(stats["drops"]["too_big"].as_u64(), Some(2), "{stats}");
    assert_eq!(stats["rx_errors"].as_u64(), Some(0), "{stats}");

    // 9700 bytes do not even fit a pool frame: the port drops the frame whole while copying it
    // out of the guest, counted on the port under the same reason (the switch-wide count is
    // the PMD's, which never sees it).
    cap.drain();
    vm.send_shaped("4000,4000,1700", 1);
    assert!(cap.collect(WINDOW, from_vm).is_empty(), "9700 bytes passed");
    let counted = tests::wait_until(Duration::from_secs(5), || {
        lab.sw.port_stats("vm")["drops"]["too_big"].as_u64() == Some(3)
    });
    let stats = lab.sw.port_stats("vm");
    assert!(counted, "{stats}");
    assert_eq!(stats["rx_dropped"].as_u64(), Some(3), "{stats}");
    assert_eq!(stats["rx_errors"].as_u64(), Some(0), "{stats}");

    // A standard frame still passes after all that.
    cap.drain();
    vm.send_shaped("1514", 1);
    let got = cap.collect(WINDOW, from_vm);
    assert_eq!(got.len(), 1);
    assert!(whole_txonly_frame(&got[0], vm_mac_, 1514).is_ok());
    drop(vm);
    let _ = std::fs::remove_dir_all(&dir);
}
