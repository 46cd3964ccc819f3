//! The mock-port switch rig shared by the mock datapath tests: a switch built from a config
//! text with mock ports, its control handler, and frame helpers.
#![allow(dead_code)]

use datapath::port::mock::MockHandle;
use datapath::switch::Switch;
use packet::build;
use serde_json::json;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchd::control::{Control, FLOW_DUMP_MAX};
use switchd_api::rpc::{RpcError, RpcHandler, INVALID_PARAMS};

pub const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
pub const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
pub const C: [u8; 6] = [2, 0, 0, 0, 0, 0xc];
pub const BCAST: [u8; 6] = [0xff; 6];

pub struct Rig {
    pub sw: Arc<Switch>,
    pub ctl: Control,
}

impl Rig {
    pub fn new(ports: &str, flows: &[&str]) -> Rig {
        Self::with(ports, flows, "", "[0]")
    }

    pub fn with(ports: &str, flows: &[&str], bridge_extra: &str, cores: &str) -> Rig {
        Self::build(ports, flows, bridge_extra, cores, "")
    }

    /// A rig with more `[switch]` settings.
    pub fn with_switch(ports: &str, flows: &[&str], switch_extra: &str) -> Rig {
        Self::build(ports, flows, "", "[0]", switch_extra)
    }

    fn build(
        ports: &str,
        flows: &[&str],
        bridge_extra: &str,
        cores: &str,
        switch_extra: &str,
    ) -> Rig {
        let flows: String = flows.iter().map(|f| format!("  \"{f}\",\n")).collect();
        let text = format!(
            "[switch]\npmd_cores = {cores}\npool_frames = 1024\npmd_sleep_max_us = 100\n\
             {switch_extra}\n[[bridge]]\nname = \"br0\"\n{bridge_extra}\nflows = [\n{flows}]\n{ports}"
        );
        let cfg = switchd::conffile::parse(&text, Path::new("mock.toml")).expect("config");
        let sw = Arc::new(Switch::build(cfg).expect("build"));
        sw.start().expect("start");
        let ctl = Control::new(sw.clone(), Arc::new(AtomicBool::new(false)));
        Rig { sw, ctl }
    }

    pub fn port(&self, name: &str) -> &MockHandle {
        self.sw.mock(name).expect("mock port")
    }

    /// Inject into `from`, then collect what every port sends until `expect` frames in total
    /// have come out (or a short timeout for "nothing").
    pub fn send(&self, from: &str, frame: Vec<u8>, expect: usize) -> Vec<(String, Vec<u8>)> {
        self.port(from).inject(frame);
        let deadline = Instant::now()
            + if expect == 0 {
                Duration::from_millis(150)
            } else {
                Duration::from_secs(3)
            };
        let mut out = Vec::new();
        while Instant::now() < deadline {
            for (name, h) in &self.sw.mock_handles {
                for f in h.take_sent() {
                    out.push((name.clone(), f));
                }
            }
            if expect > 0 && out.len() >= expect && self.port(from).pending() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        out
    }

    pub fn call(&self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.ctl.call(method, params).expect(method)
    }

    /// A call that must be refused with INVALID_PARAMS; its message.
    pub fn refused(&self, method: &str, params: serde_json::Value) -> String {
        let e: RpcError = self
            .ctl
            .call(method, params.clone())
            .expect_err(&format!("{method} {params} must be refused"));
        assert_eq!(e.code, INVALID_PARAMS, "{method} {params}: {e:?}");
        e.message
    }

    /// The bridge's flows as text, every page, without the ever-changing durations.
    pub fn all_flows(&self, limit: Option<usize>) -> Vec<String> {
        let mut params = json!({"bridge": "br0"});
        if let Some(l) = limit {
            params["limit"] = json!(l);
        }
        let mut out = Vec::new();
        loop {
            let page = self.call("flow/dump", params.clone());
            let flows = page["flows"].as_array().expect("flows");
            assert!(
                flows.len() <= limit.unwrap_or(FLOW_DUMP_MAX),
                "page too big"
            );
            out.extend(flows.iter().map(|f| without_duration(f.as_str().unwrap())));
            match page.get("next") {
                Some(next) => params["after"] = next.clone(),
                None => return out,
            }
        }
    }

    pub fn drops(&self, reason: &str) -> u64 {
        self.call("drop/stats", json!({}))[reason].as_u64().unwrap()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.sw.stop();
    }
}

/// A dumped flow without its `duration=...s, ` (which grows between two dumps).
pub fn without_duration(f: &str) -> String {
    match (f.find("duration="), f.find("s, table=")) {
        (Some(a), Some(b)) => format!("{}{}", &f[..a], &f[b + 3..]),
        _ => f.to_string(),
    }
}

pub fn port(name: &str, ofport: u32, vlan: &str) -> String {
    format!("\n[[bridge.port]]\nname = \"{name}\"\nkind = \"mock\"\nofport = {ofport}\n{vlan}\n")
}

pub fn eth(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    build::ethernet_frame(src, dst, 0x88b5, &[0u8; 46])
}

pub fn udp(dst_mac: [u8; 6], src_mac: [u8; 6], dst: Ipv4Addr) -> Vec<u8> {
    build::udp_ipv4_frame(
        src_mac,
        dst_mac,
        Ipv4Addr::new(10, 0, 0, 1),
        dst,
        1234,
        80,
        b"hi",
    )
}

pub fn four_ports() -> String {
    port("a", 1, "vlan_mode = \"access\"\ntag = 10")
        + &port("b", 2, "vlan_mode = \"access\"\ntag = 10")
        + &port("c", 3, "vlan_mode = \"access\"\ntag = 20")
        + &port("t", 4, "vlan_mode = \"trunk\"\ntrunks = \"10,20\"")
}
