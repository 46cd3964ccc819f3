//! A multi-host lab on one machine: dvsm, a "top of rack" switch, hosts running dvs-switchd,
//! ovsdb-server and dvs-agent, and VMs, each where it would be in a real cluster.
//!
//! - **mgmt**: a namespace with a Linux bridge (10.255.0.1/24) and `dvsm` (REST API on its
//!   loopback, agent listener on 10.255.0.1). `dvsctl` runs there too ([`Cluster::ctl`]).
//! - **tor**: a namespace running Open vSwitch's userspace datapath (`datapath_type=netdev`) as a
//!   VLAN-aware switch; each host's uplink is a veth into one of its trunk ports. This kernel has
//!   no bridge VLAN filtering (see `../shared/docs/MACHINE.md`).
//! - **hosts** `h1`, `h2`...: a namespace each, with `mgmt0` on the management bridge, `up0` to
//!   the top of rack, and a dvs-switchd (`--db`, PMD sleep on: several switches share two cores),
//!   its ovsdb-server and a dvs-agent. The database servers run outside the namespace: they only
//!   use unix sockets.
//! - **VMs**: a namespace each with `eth0`, a veth whose other end (named after the VM) is in its
//!   host's namespace and is bound through dvsm as a `linux` backend port.
//!
//! Everything is configured through `dvsctl` against dvsm, as an operator would. Processes are
//! killed and namespaces removed on drop; [`Cluster::keep`] leaves them running for the demo
//! (`dvs-cluster up`), which records what to remove in a state file for `dvs-cluster down`.

use crate::flows::FlowLine;
use crate::netns::Netns;
use crate::ovsdb::OvsDb;
use crate::switchd::Switchd;
use crate::{bin, mac_str, run, try_run, unique_tag, vm_mac, wait_until};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// dvsm's agent address on the management network.
pub const DVSM_IP: &str = "10.255.0.1";
/// dvsm's agent port.
pub const AGENT_PORT: u16 = 6680;
/// dvsm's REST API (inside the mgmt namespace).
pub const API: &str = "http://127.0.0.1:6681";

/// A daemon started by the lab (optionally inside a namespace), killed on drop.
pub struct Daemon {
    child: Option<Child>,
    argv: Vec<String>,
    /// Its log (stderr and stdout).
    pub log: PathBuf,
}

impl Daemon {
    /// Start `argv` (program first) inside `ns`, logging to `log` (appended).
    pub fn start(ns: Option<&str>, argv: Vec<String>, log: PathBuf) -> Daemon {
        let mut d = Daemon {
            child: None,
            argv: match ns {
                Some(n) => ["ip", "netns", "exec", n]
                    .iter()
                    .map(|s| s.to_string())
                    .chain(argv)
                    .collect(),
                None => argv,
            },
            log,
        };
        d.launch();
        d
    }

    fn launch(&mut self) {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("daemon log");
        let child = Command::new(&self.argv[0])
            .args(&self.argv[1..])
            .stdout(f.try_clone().expect("log fd"))
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.argv));
        self.child = Some(child);
    }

    /// Its process id (`ip netns exec` execs the program, so this is the daemon's own).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `kill -9` and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start again with the same arguments (after [`Daemon::kill9`]).
    pub fn restart(&mut self) {
        self.kill9();
        self.launch();
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Forget the process (leave it running).
    fn keep(&mut self) {
        self.child = None;
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The top-of-rack switch: Open vSwitch's userspace datapath in its own namespace.
pub struct Tor {
    /// `ovs-vswitchd`.
    pub vswitchd: Daemon,
    /// Its database.
    pub db: OvsDb,
    /// Its namespace.
    pub ns: Netns,
}

/// One compute host.
pub struct HostNode {
    /// Host name in dvsm (`h1`...).
    pub name: String,
    /// Its agent's token.
    pub token: String,
    /// The agent.
    pub agent: Daemon,
    /// The switch.
    pub sw: Switchd,
    /// The switch's database (its directory is the switch's run directory).
    pub db: OvsDb,
    /// Its namespace.
    pub ns: Netns,
}

impl HostNode {
    /// The flows of a bridge on this host (`ovs-ofctl -O OpenFlow13 dump-flows`).
    pub fn flows(&self, bridge: &str) -> Vec<FlowLine> {
        crate::flows::dump(&self.db.dir.join(format!("{bridge}.mgmt")))
    }
}

/// A namespace VM on a host.
pub struct VmNode {
    /// Name (also its port id in dvsm and its interface on the host).
    pub name: String,
    /// Index of its host in [`Cluster::hosts`].
    pub host: usize,
    /// Its MAC.
    pub mac: [u8; 6],
    /// Its address (CIDR).
    pub addr: String,
    /// Its namespace.
    pub ns: Netns,
}

impl VmNode {
    /// Address without the prefix length.
    pub fn ip(&self) -> &str {
        self.addr.split('/').next().unwrap_or("")
    }
}

/// The whole lab.
pub struct Cluster {
    /// VMs (dropped first).
    pub vms: Vec<VmNode>,
    /// Hosts.
    pub hosts: Vec<HostNode>,
    /// The top of rack.
    pub tor: Tor,
    /// dvsm.
    pub dvsm: Daemon,
    /// dvsm's store and logs.
    pub dir: PathBuf,
    /// The management namespace.
    pub mgmt: Netns,
}

/// The `[switch]` section of every host's dvs-switchd: buffers for jumbo frames (a DVS with
/// MTU 9000); the agent sets each port's MTU from its DVS.
fn switch_section() -> String {
    format!(
        "[switch]\npmd_cores = [{}]\npool_frames = 4096\npmd_sleep_max_us = 200\nmtu = 9000\n",
        crate::lab::pmd_core()
    )
}

/// Whether a lab test must skip (not root, no ovsdb-server or no ovs-vswitchd), saying why.
pub fn skip(test: &str) -> bool {
    if !crate::require_root(test) || !crate::ovsdb::available(test) {
        return true;
    }
    let vswitchd = Command::new("ovs-vswitchd")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !vswitchd {
        eprintln!("skipping {test}: needs ovs-vswitchd (the top of rack; setup.sh installs it)");
    }
    !vswitchd
}

impl Cluster {
    /// dvsm, the top of rack trunking `tor_vlans` (e.g. "10,20,30"), and `hosts` hosts with
    /// their switches and agents (registered in dvsm, not yet in any DVS).
    pub fn start(hosts: usize, tor_vlans: &str) -> Cluster {
        let dir = std::env::temp_dir().join(format!("dvs-cluster-{}", unique_tag()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let mgmt = Netns::new("mgmt");
        mgmt.ip(&["link", "add", "mbr", "type", "bridge"]);
        mgmt.ip(&["addr", "add", &format!("{DVSM_IP}/24"), "dev", "mbr"]);
        mgmt.ip(&["link", "set", "mbr", "up"]);
        let dvsm = Daemon::start(
            Some(&mgmt.name),
            vec![
                bin("dvsm").display().to_string(),
                "--db".into(),
                dir.join("dvsm.db").display().to_string(),
                "--api".into(),
                "127.0.0.1:6681".into(),
                "--agents".into(),
                format!("{DVSM_IP}:{AGENT_PORT}"),
            ],
            dir.join("dvsm.log"),
        );
        // The top of rack.
        let tor_ns = Netns::new("tor");
        let tor_db = OvsDb::start();
        let vswitchd = Daemon::start(
            Some(&tor_ns.name),
            vec![
                "ovs-vswitchd".into(),
                "-vconsole:off".into(),
                format!(
                    "--log-file={}",
                    tor_db.dir.join("ovs-vswitchd.log").display()
                ),
                format!(
                    "--unixctl={}",
                    tor_db.dir.join("ovs-vswitchd.ctl").display()
                ),
                "--no-chdir".into(),
                tor_db.addr(),
            ],
            tor_db.dir.join("ovs-vswitchd.out"),
        );
        tor_db.must(&[
            "add-br",
            "tor",
            "--",
            "set",
            "bridge",
            "tor",
            "datapath_type=netdev",
        ]);
        let tor = Tor {
            vswitchd,
            db: tor_db,
            ns: tor_ns,
        };
        let mut c = Cluster {
            vms: Vec::new(),
            hosts: Vec::new(),
            tor,
            dvsm,
            dir,
            mgmt,
        };
        assert!(
            wait_until(Duration::from_secs(15), || c.ctl(&["host", "list"]).0),
            "dvsm did not come up: {}",
            c.dvsm.log_text()
        );
        for i in 1..=hosts {
            c.add_host(i, tor_vlans);
        }
        c
    }

    fn add_host(&mut self, i: usize, tor_vlans: &str) {
        let name = format!("h{i}");
        let ns = Netns::new(&name);
        // Management link.
        let m = format!("m{i}");
        run(
            "ip",
            &[
                "link",
                "add",
                &m,
                "netns",
                &self.mgmt.name,
                "type",
                "veth",
                "peer",
                "name",
                "mgmt0",
                "netns",
                &ns.name,
            ],
        );
        self.mgmt.ip(&["link", "set", &m, "master", "mbr"]);
        self.mgmt.ip(&["link", "set", &m, "up"]);
        ns.ip(&[
            "addr",
            "add",
            &format!("10.255.0.{}/24", 10 + i),
            "dev",
            "mgmt0",
        ]);
        ns.ip(&["link", "set", "mgmt0", "up"]);
        // Uplink into the top of rack.
        let t = format!("t{i}");
        run(
            "ip",
            &[
                "link",
                "add",
                &t,
                "netns",
                &self.tor.ns.name,
                "type",
                "veth",
                "peer",
                "name",
                "up0",
                "netns",
                &ns.name,
            ],
        );
        for (n, dev) in [(&self.tor.ns, t.as_str()), (&ns, "up0")] {
            let _ = n.exec(&[
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{dev}.disable_ipv6=1"),
            ]);
            let _ = n.exec(&["ethtool", "-K", dev, "rxvlan", "off", "txvlan", "off"]);
            let _ = n.exec(&["ethtool", "-K", dev, "tso", "off", "gso", "off"]);
            n.ip(&["link", "set", dev, "up"]);
        }
        let trunks = format!("trunks={tor_vlans}");
        self.tor
            .db
            .must(&["add-port", "tor", &t, "--", "set", "port", &t, &trunks]);
        // The host's switch and agent.
        let db = OvsDb::start();
        let sw = Switchd::start_db_in(Some(&ns.name), &switch_section(), &db.addr(), &db.dir);
        let created = self.ctl_json(&["host", "create", &name]);
        let token = created["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {created}"))
            .to_string();
        let agent = Daemon::start(
            Some(&ns.name),
            vec![
                bin("dvs-agent").display().to_string(),
                "--dvsm".into(),
                format!("{DVSM_IP}:{AGENT_PORT}"),
                "--host".into(),
                name.clone(),
                "--token".into(),
                token.clone(),
                "--ovsdb".into(),
                db.addr(),
            ],
            db.dir.join("agent.log"),
        );
        self.hosts.push(HostNode {
            name,
            token,
            agent,
            sw,
            db,
            ns,
        });
    }

    /// dvsm's log, and each host's agent and switch logs (for assertion messages).
    pub fn logs(&self) -> String {
        let mut s = format!("dvsm:\n{}\n", self.dvsm.log_text());
        for h in &self.hosts {
            s += &format!(
                "{} agent:\n{}\n{} switch:\n{}\n",
                h.name,
                h.agent.log_text(),
                h.name,
                h.sw.log()
            );
        }
        s
    }

    /// Run `dvsctl --dvsm API ARGS` in the mgmt namespace: (success, stdout + stderr).
    pub fn ctl(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.mgmt.name])
            .arg(bin("dvsctl"))
            .args(["--dvsm", API])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run dvsctl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// [`Cluster::ctl`] that must succeed.
    pub fn must(&self, args: &[&str]) -> String {
        let (ok, out) = self.ctl(args);
        assert!(ok, "dvsctl {}: {out}", args.join(" "));
        out
    }

    /// `dvsctl --json ARGS`, parsed.
    pub fn ctl_json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.must(&a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    /// A DVS over every host, with an uplink `up0` on each (uplink names `<dvs>-<host>`).
    pub fn dvs(&self, name: &str, pool: &str) {
        self.dvs_with(name, pool, &[], &[]);
    }

    /// [`Cluster::dvs`] with more DVS fields (`mtu=9000`) and uplink fields (`egress_kbps=..`).
    pub fn dvs_with(&self, name: &str, pool: &str, dvs_fields: &[&str], uplink_fields: &[&str]) {
        let hosts: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        let (pool, hosts_arg) = (
            format!("vlan_pool={pool}"),
            format!("hosts={}", hosts.join(",")),
        );
        let mut args = vec!["dvs", "create", name, pool.as_str(), hosts_arg.as_str()];
        args.extend_from_slice(dvs_fields);
        self.must(&args);
        for h in &hosts {
            let (up, d, host) = (
                format!("{name}-{h}"),
                format!("dvs={name}"),
                format!("host={h}"),
            );
            let mut args = vec!["uplink", "create", &up, &d, &host, "nic=up0"];
            args.extend_from_slice(uplink_fields);
            self.must(&args);
        }
    }

    /// An access port group.
    pub fn access_group(&self, name: &str, dvs: &str, vlan: u16) {
        self.must(&[
            "portgroup",
            "create",
            name,
            &format!("dvs={dvs}"),
            "vlan.mode=access",
            &format!("vlan.vlan={vlan}"),
        ]);
    }

    /// A namespace VM on host `host` (index), bound to `group`; `n` numbers its MAC.
    pub fn vm(&mut self, name: &str, host: usize, group: &str, n: u8, addr: &str) -> usize {
        let ns = Netns::new("vm");
        let mac = vm_mac(n);
        let vm = VmNode {
            name: name.to_string(),
            host,
            mac,
            addr: addr.to_string(),
            ns,
        };
        self.plug(&vm, host);
        self.must(&[
            "port",
            "create",
            name,
            &format!("vm={name}"),
            &format!("host={}", self.hosts[host].name),
            &format!("port_group={group}"),
            &format!("mac={}", mac_str(mac)),
            &format!("ips={}", vm.ip()),
            "backend.kind=linux",
            &format!("backend.interface={name}"),
        ]);
        self.vms.push(vm);
        self.vms.len() - 1
    }

    /// Give `vm` a fresh `eth0` whose other end is on host `host`.
    fn plug(&self, vm: &VmNode, host: usize) {
        let h = &self.hosts[host];
        run(
            "ip",
            &[
                "link",
                "add",
                &vm.name,
                "netns",
                &h.ns.name,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &vm.ns.name,
            ],
        );
        let ns = &vm.ns;
        let _ = ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        let _ = ns.exec(&["sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1"]);
        ns.ip(&["link", "set", "eth0", "address", &mac_str(vm.mac)]);
        ns.ip(&["addr", "add", &vm.addr, "dev", "eth0"]);
        let _ = ns.exec(&["ethtool", "-K", "eth0", "tso", "off", "gso", "off"]);
        ns.ip(&["link", "set", "eth0", "up"]);
        let _ = h.ns.exec(&[
            "sysctl",
            "-qw",
            &format!("net.ipv6.conf.{}.disable_ipv6=1", vm.name),
        ]);
        let _ =
            h.ns.exec(&["ethtool", "-K", &vm.name, "rxvlan", "off", "txvlan", "off"]);
        h.ns.ip(&["link", "set", &vm.name, "up"]);
    }

    /// Move VM `i` to host `to` as a migration does: its NIC reappears on the new host, dvsm
    /// rebinds the port, and the VM announces itself (one ping to `announce_to`, which makes
    /// it broadcast an ARP request from its MAC). Returns when the dvsctl update returned.
    pub fn migrate(&mut self, i: usize, to: usize) {
        let from = self.vms[i].host;
        let name = self.vms[i].name.clone();
        let _ = self.hosts[from].ns.exec(&["ip", "link", "del", &name]);
        self.vms[i].host = to;
        let vm = &self.vms[i];
        self.plug(vm, to);
        self.must(&[
            "port",
            "update",
            &name,
            &format!("host={}", self.hosts[to].name),
        ]);
    }

    /// A namespace behind the top of rack on an access port of `vlan` (a server on the uplink
    /// side, e.g. a DHCP server), with `eth0` at `addr` (`10.61.0.1/24`).
    pub fn tor_host(&self, name: &str, vlan: u16, addr: &str) -> Netns {
        let ns = Netns::new("srv");
        run(
            "ip",
            &[
                "link",
                "add",
                name,
                "netns",
                &self.tor.ns.name,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &ns.name,
            ],
        );
        let _ = ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        ns.ip(&["addr", "add", addr, "dev", "eth0"]);
        // Checksums complete in software, as they are on a wire: the top of rack (userspace
        // OVS) forwards a veth's partial checksums as they are, and a DHCP client checks them.
        let _ = ns.exec(&[
            "ethtool", "-K", "eth0", "tso", "off", "gso", "off", "tx", "off",
        ]);
        ns.ip(&["link", "set", "eth0", "up"]);
        self.tor.ns.ip(&["link", "set", name, "up"]);
        let tag = format!("tag={vlan}");
        self.tor
            .db
            .must(&["add-port", "tor", name, "--", "set", "port", name, &tag]);
        ns
    }

    /// Set the MTU of every link a frame crosses: the top of rack's ports (and its
    /// `mtu_request`), each host's `up0`, and both ends of every VM's veth. (The switches take
    /// theirs from the DVS through the agent.)
    pub fn set_link_mtu(&self, mtu: u32) {
        let m = mtu.to_string();
        for (i, h) in self.hosts.iter().enumerate() {
            let t = format!("t{}", i + 1);
            self.tor.ns.ip(&["link", "set", &t, "mtu", &m]);
            self.tor
                .db
                .must(&["set", "interface", &t, &format!("mtu_request={mtu}")]);
            h.ns.ip(&["link", "set", "up0", "mtu", &m]);
        }
        for v in &self.vms {
            self.hosts[v.host]
                .ns
                .ip(&["link", "set", &v.name, "mtu", &m]);
            v.ns.ip(&["link", "set", "eth0", "mtu", &m]);
        }
    }

    /// Ping from VM `from` to VM `to` in the background: `count` pings every `interval_ms`;
    /// the thread returns (transmitted, received).
    pub fn ping_in_background(
        &self,
        from: usize,
        to: usize,
        count: u32,
        interval_ms: u32,
    ) -> std::thread::JoinHandle<(u64, u64)> {
        let ns = self.vms[from].ns.name.clone();
        let dst = self.vms[to].ip().to_string();
        let interval = format!("{:.3}", f64::from(interval_ms) / 1000.0);
        std::thread::spawn(move || {
            let out = Command::new("ip")
                .args(["netns", "exec", &ns, "ping", "-n", "-q", "-W", "1", "-i"])
                .arg(&interval)
                .arg("-c")
                .arg(count.to_string())
                .arg(&dst)
                .output()
                .expect("ping");
            crate::netns::ping_counts(&String::from_utf8_lossy(&out.stdout))
        })
    }

    /// Whether VM `a` reaches VM `b` (a few pings, retried: the first may wait for ARP).
    pub fn reach(&self, a: usize, b: usize) -> bool {
        self.vms[a].ns.ping_ok(self.vms[b].ip())
    }

    /// Wait until VM `a` reaches VM `b` (true) or `timeout` passes.
    pub fn wait_reach(&self, a: usize, b: usize, timeout: Duration) -> bool {
        wait_until(timeout, || self.vms[a].ns.ping(self.vms[b].ip(), 1))
    }

    /// Wait until every host's agent is connected and has applied everything dvsm sent it
    /// (`in_sync`), and the switches have caught up with their databases.
    pub fn wait_synced(&self, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.hosts.iter().all(|h| {
                // dvsm may be restarting: not answering is not being in sync.
                let (ok, out) = self.ctl(&["--json", "host", "show", &h.name]);
                ok && serde_json::from_str::<Value>(&out)
                    .is_ok_and(|v| v["in_sync"] == Value::Bool(true))
                    && h.db.get("Open_vSwitch", ".", "cur_cfg")
                        == h.db.get("Open_vSwitch", ".", "next_cfg")
            })
        })
    }

    /// The reachability matrix of all VMs as text (`ok`/`--`), and whether it matched
    /// `expect(a, b)` everywhere.
    pub fn matrix(&self, expect: impl Fn(usize, usize) -> bool) -> (String, bool) {
        let mut out = String::from("from\\to");
        for v in &self.vms {
            out += &format!(" {:>6}", v.name);
        }
        out.push('\n');
        let mut all = true;
        for (a, va) in self.vms.iter().enumerate() {
            out += &format!("{:<7}", va.name);
            for b in 0..self.vms.len() {
                if a == b {
                    out += &format!(" {:>6}", "-");
                    continue;
                }
                let ok = if expect(a, b) {
                    self.reach(a, b)
                } else {
                    va.ns.ping(self.vms[b].ip(), 2)
                };
                all &= ok == expect(a, b);
                out += &format!(" {:>6}", if ok { "ok" } else { "--" });
            }
            out.push('\n');
        }
        (out, all)
    }

    /// Leave everything running and record what `dvs-cluster down` removes in `state`.
    pub fn keep(mut self, state: &Path) {
        let mut pids = Vec::new();
        let mut keep = |d: &mut Daemon| {
            if let Some(p) = d.pid() {
                pids.push(p.to_string());
            }
            d.keep();
        };
        keep(&mut self.dvsm);
        keep(&mut self.tor.vswitchd);
        for h in &mut self.hosts {
            keep(&mut h.agent);
        }
        let mut names = vec![self.mgmt.name.clone(), self.tor.ns.name.clone()];
        names.extend(self.hosts.iter().map(|h| h.ns.name.clone()));
        names.extend(self.vms.iter().map(|v| v.ns.name.clone()));
        let mut dirs = vec![self.dir.display().to_string()];
        dirs.push(self.tor.db.dir.display().to_string());
        let mut switch_pids = Vec::new();
        for h in &self.hosts {
            dirs.push(h.db.dir.display().to_string());
            dirs.push(h.sw.dir.display().to_string());
            if let Some(p) = h.sw.pid() {
                switch_pids.push(p.to_string());
            }
        }
        let text = format!(
            "pids={} {}\nnetns={}\ndirs={}\n",
            pids.join(" "),
            switch_pids.join(" "),
            names.join(" "),
            dirs.join(" ")
        );
        std::fs::write(state, text).expect("state file");
        // Processes the guards own (ovsdb-servers, switches) and namespaces are leaked on
        // purpose: `down` removes them.
        std::mem::forget(self);
    }
}

/// Remove what [`Cluster::keep`] left running, from its state file.
pub fn teardown(state: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(state)
        .map_err(|e| format!("{}: {e} (is the lab up?)", state.display()))?;
    let field = |k: &str| -> Vec<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    for p in field("pids") {
        let _ = try_run("kill", &["-9", &p]);
    }
    for d in field("dirs") {
        // ovsdb-servers: the pid files are not kept; kill by socket directory.
        let _ = try_run("pkill", &["-9", "-f", &d]);
        let _ = std::fs::remove_dir_all(&d);
    }
    for n in field("netns") {
        let _ = try_run("ip", &["netns", "del", &n]);
    }
    let _ = std::fs::remove_file(state);
    Ok(())
}
