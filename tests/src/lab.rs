//! A lab: test VMs (each a namespace with a veth into the switch) behind one `dvs-switchd`
//! bridge `br0`, built from a short description. Used by the integration tests and by the
//! `dvs-lab` demo binary.

use crate::{vm_mac, Netns, Switchd, Veth};

/// How a VM's switch port handles VLANs.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Access port on this VLAN.
    Access(u16),
    /// Trunk with an allowed list ("10,20-30") and optional native VLAN.
    Trunk(&'static str, Option<u16>),
    /// No VLAN processing.
    None,
}

/// One VM of the lab.
#[derive(Clone, Debug)]
pub struct VmSpec {
    /// Port and VM name (vm1...).
    pub name: &'static str,
    /// VLAN mode of its switch port.
    pub mode: Mode,
    /// Address inside the VM (CIDR), if any.
    pub addr: Option<&'static str>,
    /// Switch port kind for the VM's veth (`afpacket` unless changed with [`VmSpec::kind`]).
    pub kind: &'static str,
}

impl VmSpec {
    /// Access-port VM with an address.
    pub fn access(name: &'static str, vlan: u16, addr: &'static str) -> VmSpec {
        VmSpec {
            name,
            mode: Mode::Access(vlan),
            addr: Some(addr),
            kind: "afpacket",
        }
    }

    /// A trunk-port VM without an address (it speaks through raw sockets).
    pub fn trunk(name: &'static str, allowed: &'static str, native: Option<u16>) -> VmSpec {
        VmSpec {
            name,
            mode: Mode::Trunk(allowed, native),
            addr: None,
            kind: "afpacket",
        }
    }

    /// Use another port kind for this VM's switch port (e.g. `afxdp`).
    pub fn kind(mut self, kind: &'static str) -> VmSpec {
        self.kind = kind;
        self
    }
}

/// A built VM.
pub struct Vm {
    /// Its spec.
    pub spec: VmSpec,
    /// Its MAC.
    pub mac: [u8; 6],
    /// Its namespace.
    pub ns: Netns,
    /// Its link into the switch (declared after `ns` so it drops first).
    pub veth: Veth,
}

impl Vm {
    /// IPv4 address without prefix.
    pub fn ip(&self) -> &str {
        self.spec
            .addr
            .and_then(|a| a.split('/').next())
            .unwrap_or("")
    }
}

/// VMs plus the switch in front of them.
pub struct Lab {
    /// The switch (dropped first).
    pub sw: Switchd,
    /// The VMs.
    pub vms: Vec<Vm>,
}

/// Core for the lab switch's PMD: the second core when there is one.
pub fn pmd_core() -> usize {
    let n = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if n > 1 {
        1
    } else {
        0
    }
}

impl Lab {
    /// Build the VMs and start a switch with `flows` on `br0`.
    pub fn new(specs: &[VmSpec], flows: &[&str]) -> Lab {
        Self::with_extra(specs, flows, "")
    }

    /// Like [`Lab::new`] with extra `[[bridge]]` keys (e.g. `mac_limit = 2`).
    pub fn with_extra(specs: &[VmSpec], flows: &[&str], bridge_extra: &str) -> Lab {
        Self::build(specs, flows, bridge_extra, 1500, "")
    }

    /// Like [`Lab::new`] with every link and the switch at `mtu`.
    pub fn with_mtu(specs: &[VmSpec], flows: &[&str], mtu: u32) -> Lab {
        Self::build(specs, flows, "", mtu, "")
    }

    /// Like [`Lab::new`] with more `[[bridge.port]]` sections (e.g. vhost ports for QEMU VMs)
    /// after the namespace VMs' ports.
    pub fn with_ports(specs: &[VmSpec], flows: &[&str], ports: &str) -> Lab {
        Self::build(specs, flows, "", 1500, ports)
    }

    /// Like [`Lab::new`] with more `[switch]` keys (e.g. `upcall_rate_per_port = 1000`).
    pub fn with_switch(specs: &[VmSpec], flows: &[&str], switch_extra: &str) -> Lab {
        Self::build_with(specs, flows, "", 1500, "", switch_extra)
    }

    fn build(specs: &[VmSpec], flows: &[&str], bridge_extra: &str, mtu: u32, ports: &str) -> Lab {
        Self::build_with(specs, flows, bridge_extra, mtu, ports, "")
    }

    fn build_with(
        specs: &[VmSpec],
        flows: &[&str],
        bridge_extra: &str,
        mtu: u32,
        ports: &str,
        switch_extra: &str,
    ) -> Lab {
        let mut vms = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let ns = Netns::new(s.name);
            let mac = vm_mac(i as u8 + 1);
            let veth = Veth::new(&ns, mac, s.addr);
            if mtu != 1500 {
                let m = mtu.to_string();
                crate::run("ip", &["link", "set", &veth.host, "mtu", &m]);
                ns.ip(&["link", "set", "eth0", "mtu", &m]);
            }
            vms.push(Vm {
                spec: s.clone(),
                mac,
                ns,
                veth,
            });
        }
        let cfg = config_text(&vms, flows, bridge_extra).replacen(
            "[switch]\n",
            &format!("[switch]\nmtu = {mtu}\n{switch_extra}"),
            1,
        ) + ports;
        let sw = Switchd::start(&cfg);
        Lab { sw, vms }
    }

    /// The VM named `name`.
    pub fn vm(&self, name: &str) -> &Vm {
        self.vms
            .iter()
            .find(|v| v.spec.name == name)
            .unwrap_or_else(|| panic!("no vm {name}"))
    }
}

/// The switch configuration for a set of VMs.
pub fn config_text(vms: &[Vm], flows: &[&str], bridge_extra: &str) -> String {
    let mut s = format!(
        "[switch]\npmd_cores = [{}]\npool_frames = 4096\npmd_sleep_max_us = 200\n\n\
         [[bridge]]\nname = \"br0\"\n{bridge_extra}\n",
        pmd_core()
    );
    if !flows.is_empty() {
        s.push_str("flows = [\n");
        for f in flows {
            s.push_str(&format!("  \"{f}\",\n"));
        }
        s.push_str("]\n");
    }
    for (i, vm) in vms.iter().enumerate() {
        let link = if vm.spec.kind == "dpdk" {
            // DPDK reaches the veth through its af_packet driver.
            format!("devargs = \"net_af_packet{i},iface={}\"", vm.veth.host)
        } else {
            format!("interface = \"{}\"", vm.veth.host)
        };
        s.push_str(&format!(
            "\n[[bridge.port]]\nname = \"{}\"\nkind = \"{}\"\n{link}\nofport = {}\n",
            vm.spec.name,
            vm.spec.kind,
            i + 1
        ));
        match &vm.spec.mode {
            Mode::Access(v) => s.push_str(&format!("vlan_mode = \"access\"\ntag = {v}\n")),
            Mode::Trunk(list, native) => {
                s.push_str(&format!("vlan_mode = \"trunk\"\ntrunks = \"{list}\"\n"));
                if let Some(n) = native {
                    s.push_str(&format!("native_vlan = {n}\n"));
                }
            }
            Mode::None => {}
        }
    }
    s
}
