//! The Open_vSwitch database's rows, read as a desired switch configuration.
//!
//! [`desired`] walks `Open_vSwitch` -> `Bridge` -> `Port` -> `Interface` (and `Controller`) the
//! way ovs-vswitchd does, and produces the same validated [`SwitchConfig`] the file front end
//! produces, so both go through one applier (`datapath::reconfig`). What cannot be applied is kept
//! out of it, per row, never silently:
//! - a row that cannot work at all (an unknown interface type, a `dpdkvhostuserclient` without
//!   `options:vhost-server-path`, a bond, an interface name the file front end would refuse
//!   too, see `conffile::names`) leaves its interface out, with the message ovs-vswitchd
//!   would put in `Interface.error`; nothing else is affected;
//! - a bridge whose name is not a valid bridge name (it names the management socket
//!   `<rundir>/<bridge>.mgmt`, so `../x` would escape the run directory) is left out with a log
//!   line (bridges have no error column) and its interfaces get the error; the other bridges
//!   are unaffected;
//! - a setting the switch does not have yet (`mac-table-size`, a `unix:` controller...) is a
//!   warning for the log; the rest of the row applies;
//! - `Interface.mtu_request` is the port's MTU (empty: the switch's `mtu`); above the switch's
//!   MTU, which sizes the packet buffers, the interface is refused with both numbers in its
//!   `error`. `Interface.mtu` reports the port's effective MTU;
//! - `Port.qos` names a `QoS` row of type `dvs-shaper` (`other_config`: `cir` bytes/s, `cbs`
//!   bytes, optional `pir` bytes/s and `pbs` bytes, optional `queue-packets`) whose `queues`
//!   map queue ids 0..7 to `Queue` rows with `other_config:priority` 0..7: the port's egress
//!   shaper (see `datapath::shaper`), changed live. Another type or a bad value refuses the
//!   interface with the reason in `error` (see `dbfront::qos`).
//!   `Interface.other_config:tcp-checksum-fill=true` recomputes the TCP checksum of every
//!   segment sent on the interface;
//! - `pssl:` and `ssl:` Controller targets use the files of the `SSL` row
//!   (`ovs-vsctl set-ssl KEY CERT CA`; without one, those of `--config`'s `[switch] ssl_*`).
//!   Without usable files (no row, a file that does not read or parse) those targets are left
//!   out with a warning naming the column at fault; the other targets apply.
//!
//! Choices worth knowing:
//! - an interface's name is the switch port's name (what `ovs-ofctl` shows), as with OVS;
//! - `internal` interfaces (the bridge's own, made by `add-br`) and `tap` interfaces are TAP
//!   devices created by the switch, as in OVS's userspace datapath. The bridge's own interface
//!   is an ordinary port with an ordinary number: the switch has no LOCAL port (OVS shows 65534,
//!   which OpenFlow 1.3 tools cannot decode as an ordinary port);
//! - `dpdkvhostuser` sockets live in the vhost socket directory (the database socket's
//!   directory, like OVS's run directory), named after the interface;
//! - a port without `tag`, `trunks` or `vlan_mode` does no VLAN processing (OVS's default trunk
//!   of every VLAN);
//! - without `other_config:datapath-id` a bridge's datapath id is derived from its name, so it
//!   survives restarts.

use crate::conffile::names;
use crate::ofp::SslFile;
use datapath::config::{
    parse_controller, parse_listen, Backend, BridgeConfig, FailMode, Location, Policing,
    PortConfig, PortKind, SslFiles, SwitchConfig, SwitchSection, VhostRole, VlanMode, VlanSet,
    XdpMode,
};
use ovsdb::{datum, Replica, Row};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Highest ordinary OpenFlow port number.
const OFPORT_MAX: i64 = 0xffff_ff00;
/// Longest unix socket path (sun_path minus the NUL).
const SOCKET_PATH_MAX: usize = 107;

/// Interface types the switch takes, as `Open_vSwitch.iface_types` lists them.
pub const IFACE_TYPES: &[&str] = &[
    "system",
    "internal",
    "tap",
    "afxdp",
    "dpdk",
    "dpdkvhostuser",
    "dpdkvhostuserclient",
];

/// What the database asks for.
#[derive(Debug)]
pub struct Desired {
    /// The configuration to apply (interfaces with an error left out).
    pub config: SwitchConfig,
    /// Interfaces left out, by name: the message for `Interface.error`.
    pub errors: BTreeMap<String, String>,
    /// Settings not applied, for the log (one line each).
    pub warnings: Vec<String>,
    /// `Open_vSwitch.next_cfg`.
    pub next_cfg: i64,
}

/// Where the switch keeps what the rows do not say.
#[derive(Debug, Clone)]
pub struct Context {
    /// Switch-wide settings (from `--config`, or defaults).
    pub switch: SwitchSection,
    /// Directory of `dpdkvhostuser` sockets.
    pub vhost_dir: PathBuf,
    /// DPDK's EAL is up (`other_config:dpdk-init` at start): `dpdk` interfaces can open.
    pub dpdk_initialized: bool,
}

fn col<'a>(row: &'a Row, name: &str) -> &'a Value {
    row.get(name).unwrap_or(&Value::Null)
}

fn name_of(row: &Row) -> String {
    col(row, "name").as_str().unwrap_or_default().to_string()
}

fn location(table: &str, name: &str) -> Location {
    Location {
        file: PathBuf::from(format!("ovsdb:{table}")),
        line: 0,
        field: name.to_string(),
    }
}

/// Read the database's rows as a desired configuration.
pub fn desired(db: &Replica, ctx: &Context) -> Desired {
    let mut out = Desired {
        config: SwitchConfig {
            path: PathBuf::from("ovsdb"),
            switch: ctx.switch.clone(),
            bridges: Vec::new(),
        },
        errors: BTreeMap::new(),
        warnings: Vec::new(),
        next_cfg: 0,
    };
    let Some((_, root)) = db.table("Open_vSwitch").next() else {
        return out;
    };
    out.next_cfg = col(root, "next_cfg").as_i64().unwrap_or(0);
    let table =
        |t: &str| -> BTreeMap<&str, &Row> { db.table(t).map(|(u, r)| (u.as_str(), r)).collect() };
    let (bridges, ports, ifaces, ctls) = (
        table("Bridge"),
        table("Port"),
        table("Interface"),
        table("Controller"),
    );
    let (qos_rows, queue_rows) = (table("QoS"), table("Queue"));
    let ssl = ssl_files(db, root, &ctls, ctx);
    if let Ok(files) = &ssl {
        out.config.switch.ssl = Some(files.clone());
    }
    let ssl = ssl.as_ref().map_err(String::as_str);
    let mut seen_ifaces = HashSet::new();
    // The number each interface has in the database (written back by the switch).
    let had: BTreeMap<String, u32> = ifaces
        .values()
        .filter_map(|r| {
            let n = datum::opt_int(col(r, "ofport")).filter(|n| (1..=OFPORT_MAX).contains(n))?;
            Some((name_of(r), n as u32))
        })
        .collect();
    let mut brs: Vec<&Row> = datum::uuid_set(col(root, "bridges"))
        .into_iter()
        .filter_map(|u| bridges.get(u).copied())
        .collect();
    brs.sort_by_key(|r| name_of(r));
    for b in brs {
        let bname = name_of(b);
        let mut prs: Vec<&Row> = datum::uuid_set(col(b, "ports"))
            .into_iter()
            .filter_map(|u| ports.get(u).copied())
            .collect();
        prs.sort_by_key(|r| name_of(r));
        if let Err(e) = names::check_bridge(&bname) {
            refuse_bridge(&e, &prs, &ifaces, &mut seen_ifaces, &mut out);
            continue;
        }
        let mut bc = bridge(
            b,
            &bname,
            &ctls,
            ctx.switch.remote_openflow,
            ssl,
            &mut out.warnings,
        );
        for p in prs {
            let pname = name_of(p);
            let members = members(p, &ifaces);
            let vlan = port_vlan(p);
            for i in &members {
                let iname = name_of(i);
                if !seen_ifaces.insert(iname.clone()) {
                    out.errors.insert(
                        iname.clone(),
                        format!("interface {iname} is in more than one port"),
                    );
                    continue;
                }
                let result = if members.len() > 1 {
                    Err(format!(
                        "port {pname} has {} interfaces: bonds are not supported yet",
                        members.len()
                    ))
                } else {
                    vlan.clone()
                        .map_err(|e| format!("port {pname}: {e}"))
                        .and_then(|v| interface(i, &iname, v, ctx, &mut out.warnings))
                        .and_then(|pc| {
                            let w = &mut out.warnings;
                            super::qos::egress(pc, p, i, &qos_rows, &queue_rows, w)
                        })
                };
                match result {
                    Ok(pc) => bc.ports.push(pc),
                    Err(e) => {
                        out.errors.insert(iname, e);
                    }
                }
            }
        }
        settle_ofports(&mut bc, &had, &mut out.errors);
        out.config.bridges.push(bc);
    }
    out
}

/// The interface rows of port row `p`.
fn members<'a>(p: &Row, ifaces: &BTreeMap<&str, &'a Row>) -> Vec<&'a Row> {
    datum::uuid_set(col(p, "interfaces"))
        .into_iter()
        .filter_map(|u| ifaces.get(u).copied())
        .collect()
}

/// Leave out a bridge whose name is invalid (`why`): a log line, and each of its interfaces
/// (ports `prs`) gets the error.
fn refuse_bridge(
    why: &str,
    prs: &[&Row],
    ifaces: &BTreeMap<&str, &Row>,
    seen_ifaces: &mut HashSet<String>,
    out: &mut Desired,
) {
    out.warnings.push(format!("{why}: the bridge is left out"));
    for p in prs {
        for i in members(p, ifaces) {
            let iname = name_of(i);
            if seen_ifaces.insert(iname.clone()) {
                out.errors
                    .insert(iname, format!("bridge not started: {why}"));
            }
        }
    }
}

/// The TLS files `pssl:`/`ssl:` targets use: the `SSL` row's (`Open_vSwitch.ssl`), else
/// those of `--config`, checked (read and parsed); or why there are none. Only looked at when
/// some Controller row has such a target (the files are read on every sync).
fn ssl_files(
    db: &Replica,
    root: &Row,
    ctls: &BTreeMap<&str, &Row>,
    ctx: &Context,
) -> Result<SslFiles, String> {
    let wanted = ctls.values().any(|r| {
        col(r, "target")
            .as_str()
            .is_some_and(|t| t.starts_with("pssl:") || t.starts_with("ssl:"))
    });
    if !wanted {
        return Err("no TLS target".into());
    }
    let row = datum::uuid_set(col(root, "ssl")).into_iter().find_map(|u| {
        db.table("SSL")
            .find(|(id, _)| id.as_str() == u)
            .map(|(_, r)| r)
    });
    let files = match row {
        Some(r) => {
            let path = |f: SslFile| -> Result<PathBuf, String> {
                match datum::opt_str(col(r, f.column())) {
                    Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
                    _ => Err(format!("SSL {} is empty", f.column())),
                }
            };
            SslFiles {
                private_key: path(SslFile::PrivateKey)?,
                certificate: path(SslFile::Certificate)?,
                ca_cert: path(SslFile::CaCert)?,
            }
        }
        None => ctx.switch.ssl.clone().ok_or_else(|| {
            "no SSL configuration (ovs-vsctl set-ssl PRIVATE-KEY CERTIFICATE CA-CERT)".to_string()
        })?,
    };
    crate::ofp::check_ssl(&files).map_err(|e| format!("SSL {}: {e}", e.file.column()))?;
    Ok(files)
}

fn bridge(
    b: &Row,
    name: &str,
    ctls: &BTreeMap<&str, &Row>,
    remote_openflow: bool,
    ssl: Result<&SslFiles, &str>,
    warnings: &mut Vec<String>,
) -> BridgeConfig {
    let oc = datum::str_map(col(b, "other_config"));
    let datapath_id = oc
        .get("datapath-id")
        .and_then(|s| {
            let ok = s.len() == 16 && s.bytes().all(|c| c.is_ascii_hexdigit());
            if !ok {
                warnings.push(format!(
                    "bridge {name}: other_config:datapath-id \"{s}\" is not 16 hex digits; ignored"
                ));
            }
            u64::from_str_radix(s, 16).ok().filter(|_| ok)
        })
        .unwrap_or_else(|| default_dpid(name));
    let mac_aging_secs = match oc.get("mac-aging-time").map(|s| s.parse::<u64>()) {
        None => 300,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            warnings.push(format!(
                "bridge {name}: other_config:mac-aging-time is not a number; 300 s used"
            ));
            300
        }
    };
    if oc.contains_key("mac-table-size") {
        warnings.push(format!(
            "bridge {name}: other_config:mac-table-size is not supported (the switch limits \
             addresses per port, not per bridge); ignored"
        ));
    }
    match datum::opt_str(col(b, "datapath_type")) {
        None | Some("") | Some("netdev") => {}
        Some(t) => warnings.push(format!(
            "bridge {name}: datapath_type {t}: dvs is a userspace (netdev) datapath; used as netdev"
        )),
    }
    let protocols: Vec<&str> = datum::set(col(b, "protocols"))
        .into_iter()
        .filter_map(Value::as_str)
        .collect();
    if !protocols.is_empty() && !protocols.contains(&"OpenFlow13") {
        warnings.push(format!(
            "bridge {name}: protocols {} do not include OpenFlow13, the only version dvs speaks",
            protocols.join(",")
        ));
    }
    let fail_mode = match datum::opt_str(col(b, "fail_mode")) {
        Some("secure") => FailMode::Secure,
        _ => FailMode::Standalone,
    };
    let mut controllers = Vec::new();
    let mut ofp_listen = Vec::new();
    let mut targets: Vec<&str> = datum::uuid_set(col(b, "controller"))
        .into_iter()
        .filter_map(|u| ctls.get(u))
        .filter_map(|r| col(r, "target").as_str())
        .collect();
    targets.sort_unstable();
    for t in targets {
        if t.starts_with("ptcp:") || t.starts_with("pssl:") {
            match parse_listen(t) {
                Ok(l) if l.is_ssl() => match ssl {
                    Ok(files) => {
                        let l = l.with_ssl(files);
                        if !ofp_listen.contains(&l) {
                            ofp_listen.push(l);
                        }
                    }
                    Err(why) => warnings.push(format!(
                        "bridge {name}: controller {t}: {why}; not listening"
                    )),
                },
                Ok(l) if !l.is_loopback() && !remote_openflow => warnings.push(format!(
                    "bridge {name}: controller {t}: not a loopback address; without TLS anyone \
                     who reaches it could rewrite the flow tables (set [switch] remote_openflow \
                     = true in --config to allow it); not listening"
                )),
                Ok(l) if !ofp_listen.contains(&l) => ofp_listen.push(l),
                Ok(_) => {}
                Err(e) => warnings.push(format!("bridge {name}: controller {t}: {e}")),
            }
        } else {
            match parse_controller(t) {
                Ok(c) if c.is_ssl() => match ssl {
                    Ok(files) => {
                        let c = c.with_ssl(files);
                        if !controllers.contains(&c) {
                            controllers.push(c);
                        }
                    }
                    Err(why) => warnings.push(format!(
                        "bridge {name}: controller {t}: {why}; not connecting"
                    )),
                },
                Ok(c) if !controllers.contains(&c) => controllers.push(c),
                Ok(_) => {}
                Err(e) => warnings.push(format!("bridge {name}: controller {t}: {e}")),
            }
        }
    }
    BridgeConfig {
        name: name.to_string(),
        datapath_id,
        mac_aging_secs,
        mac_limit: 0,
        flows: Vec::new(),
        ofp_listen,
        controllers,
        fail_mode,
        ports: Vec::new(),
        location: location("Bridge", name),
    }
}

/// A datapath id from a bridge's name (FNV-1a, 48 bits, like a MAC-derived one): stable across
/// restarts and distinct between bridges in practice.
fn default_dpid(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h & 0xffff_ffff_ffff
}

/// A port's VLAN behaviour from `tag`, `trunks` and `vlan_mode`.
fn port_vlan(p: &Row) -> Result<VlanMode, String> {
    let vid = |n: i64| -> Result<u16, String> {
        u16::try_from(n)
            .ok()
            .filter(|v| (1..=4094).contains(v))
            .ok_or_else(|| format!("VLAN {n} out of range 1..4094"))
    };
    let tag = datum::opt_int(col(p, "tag")).map(vid).transpose()?;
    let mut trunks = VlanSet::new();
    for t in datum::int_set(col(p, "trunks")) {
        trunks.insert(vid(t)?);
    }
    let all = || {
        let mut s = VlanSet::new();
        for v in 1..=4094 {
            s.insert(v);
        }
        s
    };
    let mode = datum::opt_str(col(p, "vlan_mode"));
    Ok(match (mode, tag) {
        (None, None) if trunks.is_empty() => VlanMode::None,
        (None | Some("access"), Some(tag)) => VlanMode::Access { tag },
        (Some("access"), None) => return Err("vlan_mode access needs a tag".into()),
        (None | Some("trunk"), _) => VlanMode::Trunk {
            allowed: if trunks.is_empty() { all() } else { trunks },
            native: None,
        },
        (Some("native-untagged"), Some(tag)) => {
            let mut allowed = if trunks.is_empty() { all() } else { trunks };
            allowed.insert(tag);
            VlanMode::Trunk {
                allowed,
                native: Some(tag),
            }
        }
        (Some("native-untagged"), None) => {
            return Err("vlan_mode native-untagged needs a tag".into())
        }
        (Some(m), _) => return Err(format!("vlan_mode {m} is not supported")),
    })
}

fn interface(
    i: &Row,
    name: &str,
    vlan: VlanMode,
    ctx: &Context,
    warnings: &mut Vec<String>,
) -> Result<PortConfig, String> {
    // Before the name is used anywhere (a `dpdkvhostuser` socket is named after it).
    names::check_port(name)?;
    let opts = datum::str_map(col(i, "options"));
    let itype = col(i, "type").as_str().unwrap_or_default();
    let n_rxq = match opts.get("n_rxq") {
        None => 1,
        Some(s) => s
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=64).contains(n))
            .ok_or_else(|| format!("options:n_rxq \"{s}\" is not a number in 1..64"))?,
    };
    let one_queue = |kind: &str| -> Result<(), String> {
        if n_rxq == 1 {
            Ok(())
        } else {
            Err(format!(
                "{kind} interfaces have exactly one rx queue (options:n_rxq {n_rxq})"
            ))
        }
    };
    let (kind, backend) = match itype {
        "" | "system" => {
            one_queue("system")?;
            (PortKind::AfPacket, Backend::Plain)
        }
        "internal" | "tap" => {
            one_queue(itype)?;
            (PortKind::Tap, Backend::Plain)
        }
        "afxdp" => {
            one_queue("afxdp")?;
            let mode = match opts.get("xdp-mode").map(String::as_str) {
                None | Some("best-effort") => XdpMode::Auto,
                Some("native" | "native-with-zerocopy") => XdpMode::Native,
                Some("generic") => XdpMode::Generic,
                Some(m) => return Err(format!("options:xdp-mode \"{m}\" is not one of best-effort, native, native-with-zerocopy, generic")),
            };
            (PortKind::AfXdp, Backend::AfXdp { mode, queue: 0 })
        }
        "dpdk" => {
            if !ctx.dpdk_initialized {
                return Err(
                    "DPDK is not initialized: set other_config:dpdk-init=true on the \
                            Open_vSwitch row and restart dvs-switchd"
                        .into(),
                );
            }
            let devargs = opts
                .get("dpdk-devargs")
                .filter(|s| !s.is_empty())
                .ok_or("dpdk interfaces need options:dpdk-devargs")?;
            (
                PortKind::Dpdk,
                Backend::Dpdk {
                    devargs: devargs.clone(),
                },
            )
        }
        "dpdkvhostuser" => (
            PortKind::Vhost,
            Backend::Vhost {
                socket: socket_path(&ctx.vhost_dir.join(name))?,
                role: VhostRole::Server,
                mac: None,
            },
        ),
        "dpdkvhostuserclient" => {
            let path = opts
                .get("vhost-server-path")
                .filter(|s| !s.is_empty())
                .ok_or("dpdkvhostuserclient interfaces need options:vhost-server-path")?;
            (
                PortKind::Vhost,
                Backend::Vhost {
                    socket: socket_path(Path::new(path))?,
                    role: VhostRole::Client,
                    mac: None,
                },
            )
        }
        t => {
            return Err(format!(
                "interface type \"{t}\" is not supported (supported: {})",
                IFACE_TYPES.join(", ")
            ))
        }
    };
    if matches!(kind, PortKind::AfPacket | PortKind::Tap | PortKind::AfXdp) {
        names::check_interface(name)?;
    }
    let mtu = port_mtu(datum::opt_int(col(i, "mtu_request")), ctx.switch.mtu)?;
    if datum::opt_int(col(i, "ingress_policing_kpkts_rate")).is_some_and(|r| r != 0) {
        warnings.push(format!(
            "interface {name}: ingress_policing_kpkts_rate is not supported (use \
             ingress_policing_rate, in kb/s); ignored"
        ));
    }
    let kbits = |c: &str| {
        datum::opt_int(col(i, c)).map_or(0, |v| u32::try_from(v.max(0)).unwrap_or(u32::MAX))
    };
    let policing = Policing::new(
        kbits("ingress_policing_rate"),
        kbits("ingress_policing_burst"),
    );
    let requested = datum::opt_int(col(i, "ofport_request"));
    if let Some(r) = requested {
        if !(1..=OFPORT_MAX).contains(&r) {
            return Err(format!("ofport_request {r} out of range 1..{OFPORT_MAX}"));
        }
    }
    let db_ofport = datum::opt_int(col(i, "ofport")).filter(|n| (1..=OFPORT_MAX).contains(n));
    let (ofport, ofport_requested) = match requested {
        Some(r) => (r as u32, true),
        // The number the interface has in the database (written back by this switch, before a
        // restart too): a hint only, which `settle_ofports` drops when another port asks for
        // the number.
        None => (db_ofport.unwrap_or(0) as u32, false),
    };
    Ok(PortConfig {
        name: name.to_string(),
        kind,
        interface: name.to_string(),
        ofport,
        ofport_requested,
        vlan,
        mac_limit: None,
        rxq: n_rxq,
        mtu,
        policing,
        qos: None,
        tcp_checksum_fill: false,
        backend,
        location: location("Interface", name),
    })
}

/// An interface's MTU from `mtu_request` (empty: the switch's `mtu`). The switch's MTU sizes
/// the packet buffers, so a request above it is refused (the interface is left out, with the
/// message in `Interface.error`), as is one below the minimum.
fn port_mtu(request: Option<i64>, switch_mtu: u32) -> Result<u32, String> {
    use datapath::port::mtu::MTU_MIN;
    let Some(m) = request else {
        return Ok(switch_mtu);
    };
    if m > i64::from(switch_mtu) {
        return Err(format!(
            "mtu_request {m} is above the switch MTU {switch_mtu} (the switch's packet buffers \
             hold {switch_mtu}-byte payloads; raise the switch's mtu to {m} or more)"
        ));
    }
    if m < i64::from(MTU_MIN) {
        return Err(format!(
            "mtu_request {m} out of range {MTU_MIN}..{switch_mtu}"
        ));
    }
    Ok(m as u32)
}

fn socket_path(p: &Path) -> Result<PathBuf, String> {
    if p.as_os_str().len() > SOCKET_PATH_MAX {
        return Err(format!(
            "socket path {} is longer than {SOCKET_PATH_MAX} bytes",
            p.display()
        ));
    }
    if !p.is_absolute() {
        return Err(format!("socket path {} is not absolute", p.display()));
    }
    Ok(p.to_path_buf())
}

/// Make the bridge's OpenFlow numbers consistent. Two interfaces asking for one number: the
/// one that has it already (the database's `ofport`, written by the switch) keeps it and the
/// newcomer gets an error, so a bad row never takes a working port down; when neither has it,
/// both get the error. A hint (the number an interface had before a restart) is kept as a
/// request when free. Numbers still 0 are assigned by the applier.
fn settle_ofports(
    b: &mut BridgeConfig,
    had: &BTreeMap<String, u32>,
    errors: &mut BTreeMap<String, String>,
) {
    // A hint is the number the interface holds: it counts as asking for it.
    let mut askers: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for p in b.ports.iter().filter(|p| p.ofport != 0) {
        askers.entry(p.ofport).or_default().push(p.name.clone());
    }
    let mut refused = HashSet::new();
    let mut renumber = HashSet::new();
    let requested: HashSet<String> = b
        .ports
        .iter()
        .filter(|p| p.ofport_requested)
        .map(|p| p.name.clone())
        .collect();
    for (n, names) in askers.iter().filter(|(_, v)| v.len() > 1) {
        let holder = names.iter().find(|nm| had.get(*nm) == Some(n));
        for nm in names.iter().filter(|nm| Some(*nm) != holder) {
            if !requested.contains(nm) {
                // Only a hint: the interface simply gets another number.
                renumber.insert(nm.clone());
                continue;
            }
            refused.insert(nm.clone());
            let why = match holder {
                Some(h) => format!("ofport_request {n} is in use by interface {h}"),
                None => format!("ofport_request {n} is asked for by more than one interface"),
            };
            errors.insert(nm.clone(), why);
        }
    }
    for p in b.ports.iter_mut().filter(|p| renumber.contains(&p.name)) {
        p.ofport = 0;
    }
    b.ports.retain(|p| !refused.contains(&p.name));
    let mut taken = b.requested_ofports();
    for p in b.ports.iter_mut().filter(|p| !p.ofport_requested) {
        if p.ofport != 0 && taken.insert(p.ofport) {
            p.ofport_requested = true;
        } else {
            p.ofport = 0;
        }
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
