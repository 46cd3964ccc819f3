//! Validation of `[[bridge.port]]`: kind, interface, OpenFlow number, VLAN mode and trunks,
//! policing and the backend keys, with the same located errors as the rest of the file.

use super::build::*;
use super::names;
use super::raw::{RawBridge, RawPort, Trunks};
use datapath::config::{
    ConfigError, Policing, PortConfig, PortKind, VlanMode, VlanSet, VlanSetError,
};
use std::collections::{HashMap, HashSet};
use toml::Spanned;

pub(super) fn build_ports(
    src: &Src,
    b: &RawBridge,
    bi: usize,
    seen: &mut Seen,
    switch_mtu: u32,
) -> Result<Vec<PortConfig>, ConfigError> {
    // Explicit ofports first (range, uniqueness within the bridge), then auto-assignment.
    let mut by_ofport: HashMap<u64, (String, usize)> = HashMap::new();
    for (pi, p) in b.port.iter().enumerate() {
        let p = p.get_ref();
        if let Some(v) = &p.ofport {
            let field = format!("bridge[{bi}].port[{pi}].ofport");
            let n = *v.get_ref();
            if !(1..=OFPORT_MAX).contains(&n) {
                return Err(src.err(
                    v.span(),
                    &field,
                    format!("ofport {n} out of range 1..{OFPORT_MAX:#x}"),
                ));
            }
            let here = (p.name.get_ref().clone(), src.line(v.span().start));
            if let Some((other, line)) = by_ofport.insert(n as u64, here) {
                return Err(src.err(
                    v.span(),
                    &field,
                    format!("ofport {n} already used by port \"{other}\" (line {line})"),
                ));
            }
        }
    }
    let taken: HashSet<u64> = by_ofport.keys().copied().collect();
    // Numbers are only ever taken, so the lowest free one never goes down: one cursor, not a
    // scan from 1 per port (which made a 1000-port bridge cost half a million lookups).
    let mut next = 1u64;
    let mut ports = Vec::new();
    for (pi, p) in b.port.iter().enumerate() {
        let ofport = match &p.get_ref().ofport {
            // Range-checked above.
            Some(v) => *v.get_ref() as u32,
            None => {
                while taken.contains(&next) {
                    next += 1;
                }
                let n = next;
                next += 1;
                u32::try_from(n).unwrap_or(u32::MAX)
            }
        };
        ports.push(build_port(src, p, bi, pi, ofport, seen, switch_mtu)?);
    }
    Ok(ports)
}

fn build_port(
    src: &Src,
    raw: &Spanned<RawPort>,
    bi: usize,
    pi: usize,
    ofport: u32,
    seen: &mut Seen,
    switch_mtu: u32,
) -> Result<PortConfig, ConfigError> {
    let p = raw.get_ref();
    let prefix = format!("bridge[{bi}].port[{pi}]");
    let f = |k: &str| format!("{prefix}.{k}");
    let name = check_name(src, &p.name, &f("name"), names::check_port)?;
    if let Some(first) = seen
        .ports
        .insert(name.clone(), src.line(p.name.span().start))
    {
        return Err(src.err(
            p.name.span(),
            &f("name"),
            format!("duplicate port name \"{name}\" (first defined at line {first})"),
        ));
    }
    let kind = PortKind::from_name(p.kind.get_ref()).ok_or_else(|| {
        src.err(
            p.kind.span(),
            &f("kind"),
            format!(
                "unknown port kind \"{}\" (expected afpacket, afxdp, dpdk, vhost, tap or mock)",
                p.kind.get_ref()
            ),
        )
    })?;
    let (interface, if_span, if_field) = match &p.interface {
        Some(i) => (i.get_ref().clone(), i.span(), f("interface")),
        None => (name.clone(), p.name.span(), f("name")),
    };
    let backend = super::backend::backend(src, p, kind, &prefix, raw.span())?;
    if matches!(kind, PortKind::AfPacket | PortKind::Tap | PortKind::AfXdp) {
        names::check_interface(&interface).map_err(|e| src.err(if_span.clone(), &if_field, e))?;
        if let Some(other) = seen.interfaces.insert(interface.clone(), name.clone()) {
            return Err(src.err(
                if_span,
                &if_field,
                format!("interface \"{interface}\" is already used by port \"{other}\""),
            ));
        }
    }
    let vlan = vlan_mode(src, p, &prefix)?;
    let mac_limit = match &p.mac_limit {
        None => None,
        Some(v) => {
            Some(usize::try_from(non_negative(src, v, &f("mac_limit"))?).unwrap_or(usize::MAX))
        }
    };
    let rxq = match &p.rxq {
        None => 1,
        Some(v) => {
            // 1..=64 fits u16.
            let n = in_range(src, v, &f("rxq"), "rxq", 1, RXQ_MAX)? as u16;
            if matches!(kind, PortKind::AfPacket | PortKind::AfXdp | PortKind::Tap) && n != 1 {
                return Err(src.err(
                    v.span(),
                    &f("rxq"),
                    format!("{kind} ports have exactly one rx queue"),
                ));
            }
            n
        }
    };
    let kbits = |v: &Option<Spanned<i64>>, key: &str| -> Result<u32, ConfigError> {
        match v {
            None => Ok(0),
            Some(v) => Ok(in_range(src, v, &f(key), key, 0, i64::from(u32::MAX))? as u32),
        }
    };
    let mtu = port_mtu(src, &p.mtu, &f("mtu"), switch_mtu)?;
    let rate = kbits(&p.ingress_policing_rate, "ingress_policing_rate")?;
    let burst = kbits(&p.ingress_policing_burst, "ingress_policing_burst")?;
    let qos = match &p.qos {
        None => None,
        Some(q) => Some(super::qos::build_qos(src, q, &f("qos"))?),
    };
    Ok(PortConfig {
        name,
        kind,
        interface,
        ofport,
        ofport_requested: raw.get_ref().ofport.is_some(),
        vlan,
        mac_limit,
        rxq,
        mtu,
        policing: Policing::new(rate, burst),
        qos,
        tcp_checksum_fill: p.tcp_checksum_fill.as_ref().is_some_and(|v| *v.get_ref()),
        backend,
        location: src.loc(raw.span(), &prefix),
    })
}

/// A port's `mtu`: the switch's when absent, else 576 up to the switch's (which sizes the
/// packet buffers, so no port can carry more).
fn port_mtu(
    src: &Src,
    v: &Option<Spanned<i64>>,
    field: &str,
    switch_mtu: u32,
) -> Result<u32, ConfigError> {
    let Some(v) = v else {
        return Ok(switch_mtu);
    };
    let n = *v.get_ref();
    if n > i64::from(switch_mtu) && n <= i64::from(datapath::port::mtu::MTU_MAX) {
        return Err(src.err(
            v.span(),
            field,
            format!(
                "port MTU {n} is above the switch MTU {switch_mtu} (the switch's packet buffers \
                 hold {switch_mtu}-byte payloads; raise [switch] mtu to {n} or more)"
            ),
        ));
    }
    Ok(in_range(
        src,
        v,
        field,
        "MTU",
        i64::from(datapath::port::mtu::MTU_MIN),
        i64::from(switch_mtu),
    )? as u32)
}

/// Reject `v` if present: it does not belong with this VLAN mode.
fn forbid<T>(
    src: &Src,
    v: &Option<Spanned<T>>,
    field: String,
    message: &str,
) -> Result<(), ConfigError> {
    match v {
        Some(v) => Err(src.err(v.span(), &field, message)),
        None => Ok(()),
    }
}

fn vlan_mode(src: &Src, p: &RawPort, prefix: &str) -> Result<VlanMode, ConfigError> {
    let f = |k: &str| format!("{prefix}.{k}");
    const TAG_ONLY_ACCESS: &str = "tag is only valid with vlan_mode = \"access\"";
    const TRUNKS_ONLY_TRUNK: &str = "trunks is only valid with vlan_mode = \"trunk\"";
    const NATIVE_ONLY_TRUNK: &str = "native_vlan is only valid with vlan_mode = \"trunk\"";
    let (mode, mode_span) = match &p.vlan_mode {
        None => ("none", p.name.span()),
        Some(m) => (m.get_ref().as_str(), m.span()),
    };
    match mode {
        "none" => {
            forbid(src, &p.tag, f("tag"), TAG_ONLY_ACCESS)?;
            forbid(src, &p.trunks, f("trunks"), TRUNKS_ONLY_TRUNK)?;
            forbid(src, &p.native_vlan, f("native_vlan"), NATIVE_ONLY_TRUNK)?;
            Ok(VlanMode::None)
        }
        "access" => {
            forbid(src, &p.trunks, f("trunks"), TRUNKS_ONLY_TRUNK)?;
            forbid(
                src,
                &p.native_vlan,
                f("native_vlan"),
                "native_vlan is only valid with vlan_mode = \"trunk\" (an access port's tag is its untagged VLAN)",
            )?;
            let tag = p
                .tag
                .as_ref()
                .ok_or_else(|| src.err(mode_span, &f("vlan_mode"), "access port needs a tag"))?;
            Ok(VlanMode::Access {
                tag: vlan_id(src, tag, &f("tag"))?,
            })
        }
        "trunk" => {
            forbid(
                src,
                &p.tag,
                f("tag"),
                "tag is only valid with vlan_mode = \"access\" (a trunk's untagged VLAN is native_vlan)",
            )?;
            let trunks = p
                .trunks
                .as_ref()
                .ok_or_else(|| src.err(mode_span, &f("vlan_mode"), "trunk port needs trunks"))?;
            let mut allowed = trunk_set(trunks.get_ref())
                .map_err(|e| src.err(trunks.span(), &f("trunks"), e.to_string()))?;
            let native = match &p.native_vlan {
                None => None,
                Some(v) => Some(vlan_id(src, v, &f("native_vlan"))?),
            };
            if let Some(n) = native {
                allowed.insert(n);
            }
            Ok(VlanMode::Trunk { allowed, native })
        }
        other => Err(src.err(
            mode_span,
            &f("vlan_mode"),
            format!("unknown vlan_mode \"{other}\" (expected none, access or trunk)"),
        )),
    }
}

fn trunk_set(t: &Trunks) -> Result<VlanSet, VlanSetError> {
    match t {
        Trunks::Text(s) => s.parse(),
        Trunks::List(list) if list.is_empty() => Err(VlanSetError::Empty),
        Trunks::List(list) => list
            .iter()
            .map(|&v| match u16::try_from(v) {
                Ok(v) if (1..=4094).contains(&v) => Ok(v),
                _ => Err(VlanSetError::OutOfRange(v.to_string())),
            })
            .collect(),
    }
}
