//! The shared test rig for OpenFlow tests: a running switch (PMD thread, mock ports a(1), b(2),
//! c(3) on br0, optionally br1 with d(4)) with its OpenFlow listeners, `ovs-ofctl` against its
//! management socket, and frame injection/collection on the mock ports.
#![allow(dead_code)]

use datapath::switch::Switch;
use packet::build;
use serde_json::json;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchd::control::Control;
use switchd::ofp::{mgmt_path, OfpServer};
use switchd_api::rpc::RpcHandler;

pub const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
pub const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];

pub struct Rig {
    pub sw: Arc<Switch>,
    pub ctl: Control,
    pub ofp: Option<OfpServer>,
    pub rundir: PathBuf,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Rig {
    /// Ports a(1), b(2), c(3) on br0 (and br1 with d(4) when `two_bridges`), default flows.
    pub fn new(two_bridges: bool) -> Rig {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let rundir = std::env::temp_dir().join(format!("dvs-ofctl-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&rundir);
        let port = |name: &str, ofport: u32| {
            format!("[[bridge.port]]\nname = \"{name}\"\nkind = \"mock\"\nofport = {ofport}\n")
        };
        let mut text = format!(
            "[switch]\nrundir = \"{}\"\npmd_cores = [0]\npool_frames = 1024\npmd_sleep_max_us = 100\n\n\
             [[bridge]]\nname = \"br0\"\ndatapath_id = \"0xabc\"\nofp_listen = [\"ptcp:0:127.0.0.1\"]\n{}{}{}",
            rundir.display(),
            port("a", 1),
            port("b", 2),
            port("c", 3)
        );
        if two_bridges {
            text.push_str(&format!("[[bridge]]\nname = \"br1\"\n{}", port("d", 4)));
        }
        let cfg = switchd::conffile::parse(&text, Path::new("ofctl.toml")).expect("config");
        let sw = Arc::new(Switch::build(cfg).expect("build"));
        sw.start().expect("start");
        let ofp = OfpServer::start(&sw).expect("ofp listeners");
        let ctl = Control::new(sw.clone(), Arc::new(AtomicBool::new(false)));
        Rig {
            sw,
            ctl,
            ofp: Some(ofp),
            rundir,
        }
    }

    pub fn target(&self) -> String {
        format!("unix:{}", mgmt_path(&self.rundir, "br0").display())
    }

    /// Run `ovs-ofctl -O OpenFlow13 <cmd> unix:.../br0.mgmt <args>`; panics with its stderr on
    /// failure.
    pub fn ofctl(&self, cmd: &str, args: &[&str]) -> String {
        let (ok, out, err) = self.ofctl_status(cmd, args);
        assert!(ok, "ovs-ofctl {cmd} {args:?} failed: {err}");
        out
    }

    pub fn ofctl_status(&self, cmd: &str, args: &[&str]) -> (bool, String, String) {
        let out = Command::new("ovs-ofctl")
            .args(["-O", "OpenFlow13", "--timeout=10", cmd, &self.target()])
            .args(args)
            .output()
            .expect("run ovs-ofctl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Inject `frame` into port `from` `count` times; return how many frames each of a, b, c
    /// sent once `expect` frames came out (or after a short wait when `expect` is 0).
    pub fn send(&self, from: &str, frame: Vec<u8>, count: usize, expect: usize) -> [usize; 3] {
        let h = self.sw.mock(from).expect("mock port");
        h.inject_all(std::iter::repeat_n(frame, count));
        let wait = if expect == 0 { 200 } else { 3000 };
        let deadline = Instant::now() + Duration::from_millis(wait);
        let mut got = [0usize; 3];
        while Instant::now() < deadline {
            for (i, name) in ["a", "b", "c"].iter().enumerate() {
                got[i] += self.sw.mock(name).expect("mock").take_sent().len();
            }
            if expect > 0 && got.iter().sum::<usize>() >= expect && h.pending() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        got
    }

    pub fn flows_text(&self, bridge: &str) -> Vec<String> {
        let v = self
            .ctl
            .call("flow/dump", json!({ "bridge": bridge }))
            .expect("flow/dump");
        v["flows"]
            .as_array()
            .expect("flows")
            .iter()
            .map(|f| strip_duration(f.as_str().expect("flow text")))
            .collect()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(o) = self.ofp.take() {
            o.shutdown();
        }
        self.sw.stop();
        let _ = std::fs::remove_dir_all(&self.rundir);
    }
}

pub fn strip_duration(s: &str) -> String {
    match (s.find("duration="), s.find("s, table=")) {
        (Some(a), Some(b)) => format!("{}{}", &s[..a], &s[b + 3..]),
        _ => s.to_string(),
    }
}

pub fn have_ofctl() -> bool {
    let ok = Command::new("ovs-ofctl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: ovs-ofctl is not installed (apt-get install openvswitch-common)");
    }
    ok
}

pub fn udp_to(dst: Ipv4Addr) -> Vec<u8> {
    // 60 bytes, the Ethernet minimum: the switch zero-pads shorter frames.
    let payload = b"hi-dvs-test-frame!";
    build::udp_ipv4_frame(A, B, Ipv4Addr::new(10, 0, 0, 1), dst, 1234, 80, payload)
}

/// Lines of `text` that mention `needle`.
pub fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

/// The number after `name=` in an ovs-ofctl line (`n_packets=3`).
pub fn field(line: &str, name: &str) -> u64 {
    field_sep(line, name, '=')
}

/// The number after `name` and `sep` in an ovs-ofctl line (`packet_in_count:300` with `':'`).
pub fn field_sep(line: &str, name: &str, sep: char) -> u64 {
    let at = line
        .find(&format!("{name}{sep}"))
        .unwrap_or_else(|| panic!("{name} in {line}"));
    line[at + name.len() + sep.len_utf8()..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("{name} in {line}"))
}

/// A drop counter of the switch (`drop/stats`, summed over PMDs); every reason is listed.
pub fn drops(r: &Rig, reason: &str) -> u64 {
    let v = r.ctl.call("drop/stats", json!({})).expect("drop/stats");
    v[reason]
        .as_u64()
        .unwrap_or_else(|| panic!("{reason} in {v}"))
}
