//! Network namespaces and veth pairs created (and always removed) by a test.

use crate::{run, try_run, unique_tag};

/// A network namespace, deleted on drop.
pub struct Netns {
    /// Namespace name.
    pub name: String,
}

impl Netns {
    /// Create `dvs-<prefix>-<unique>` with its loopback up.
    pub fn new(prefix: &str) -> Netns {
        let name = format!("dvs-{prefix}-{}", unique_tag());
        run("ip", &["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> <args>`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut a = vec!["-n", &self.name];
        a.extend_from_slice(args);
        run("ip", &a)
    }

    /// Run a command inside the namespace; returns (success, stdout).
    pub fn exec(&self, cmd: &[&str]) -> (bool, String) {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(cmd)
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec: {e}"));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    }

    /// `ping -c count -W 1 -i 0.2 dst` inside the namespace; true when every reply came back.
    pub fn ping(&self, dst: &str, count: u32) -> bool {
        let c = count.to_string();
        self.exec(&["ping", "-n", "-q", "-c", &c, "-W", "1", "-i", "0.2", dst])
            .0
    }

    /// Like [`Netns::ping`] but retries a few times (first packets may be spent on ARP).
    pub fn ping_ok(&self, dst: &str) -> bool {
        (0..3).any(|_| self.ping(dst, 2))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = try_run("ip", &["netns", "del", &self.name]);
    }
}

/// A veth pair: `host` stays in the root namespace (the switch's side), `peer` lives in a
/// namespace as `eth0`-like interface of a test VM. Deleting the host end deletes both.
pub struct Veth {
    /// Root-namespace end (give this to the switch).
    pub host: String,
    /// Name of the end inside the namespace.
    pub peer: String,
}

impl Veth {
    /// Create a pair, move the peer into `ns` with `mac`, optional `addr` (CIDR), bring both up.
    pub fn new(ns: &Netns, mac: [u8; 6], addr: Option<&str>) -> Veth {
        let tag = unique_tag();
        let host = format!("dvh{tag}");
        let tmp = format!("dvp{tag}");
        run(
            "ip",
            &["link", "add", &host, "type", "veth", "peer", "name", &tmp],
        );
        let v = Veth {
            host: host.clone(),
            peer: "eth0".to_string(),
        };
        run("ip", &["link", "set", &tmp, "netns", &ns.name]);
        ns.ip(&["link", "set", &tmp, "name", "eth0"]);
        ns.ip(&["link", "set", "eth0", "address", &crate::mac_str(mac)]);
        if let Some(a) = addr {
            ns.ip(&["addr", "add", a, "dev", "eth0"]);
        }
        // No IPv6 chatter (router solicitations, DAD) in counters-sensitive tests.
        let _ = ns.exec(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        let _ = ns.exec(&["sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1"]);
        // The switch's AF_PACKET ports take frames up to the MTU: no TSO/GSO super-frames.
        let _ = ns.exec(&["ethtool", "-K", "eth0", "tso", "off", "gso", "off"]);
        ns.ip(&["link", "set", "eth0", "up"]);
        let _ = try_run(
            "sysctl",
            &["-qw", &format!("net.ipv6.conf.{host}.disable_ipv6=1")],
        );
        run("ip", &["link", "set", &host, "up"]);
        // Keep VLAN tags in the frame (no rx offload stripping) where the driver supports it.
        let _ = try_run("ethtool", &["-K", &host, "rxvlan", "off", "txvlan", "off"]);
        v
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = try_run("ip", &["link", "del", &self.host]);
    }
}

/// The (transmitted, received) counts of a `ping` summary.
pub fn ping_counts(out: &str) -> (u64, u64) {
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
