//! Backend-specific port keys in the file: which keys each port kind takes, and their
//! validation.
//!
//! Every kind accepts only its own keys, so a `socket` on an AF_PACKET port or a `devargs` on a
//! vhost port is an error at its line instead of a silently ignored setting.

use super::build::{in_range, Src};
use super::raw::RawPort;
use datapath::config::{Backend, ConfigError, PortKind, VhostRole, XdpMode};
use toml::Spanned;

/// Longest unix socket path (sun_path minus the NUL).
const SOCKET_PATH_MAX: usize = 107;

fn forbid(
    src: &Src,
    v: Option<std::ops::Range<usize>>,
    field: &str,
    kind: PortKind,
) -> Result<(), ConfigError> {
    match v {
        Some(span) => Err(src.err(span, field, format!("not a setting of {kind} ports"))),
        None => Ok(()),
    }
}

fn span<T>(v: &Option<Spanned<T>>) -> Option<std::ops::Range<usize>> {
    v.as_ref().map(|s| s.span())
}

/// Validate the backend keys of port `p` of kind `kind`.
pub(super) fn backend(
    src: &Src,
    p: &RawPort,
    kind: PortKind,
    prefix: &str,
    port_span: std::ops::Range<usize>,
) -> Result<Backend, ConfigError> {
    let f = |k: &str| format!("{prefix}.{k}");
    let vhost_keys = [
        (span(&p.socket), "socket"),
        (span(&p.vhost_role), "vhost_role"),
        (span(&p.mac), "mac"),
    ];
    let dpdk_keys = [(span(&p.devargs), "devargs")];
    let xdp_keys = [
        (span(&p.xdp_mode), "xdp_mode"),
        (span(&p.xdp_queue), "xdp_queue"),
    ];
    let check = |keys: &[(Option<std::ops::Range<usize>>, &str)]| -> Result<(), ConfigError> {
        for (s, k) in keys {
            forbid(src, s.clone(), &f(k), kind)?;
        }
        Ok(())
    };
    if kind != PortKind::Vhost {
        check(&vhost_keys)?;
    }
    if kind != PortKind::Dpdk {
        check(&dpdk_keys)?;
    }
    if kind != PortKind::AfXdp {
        check(&xdp_keys)?;
    }
    Ok(match kind {
        PortKind::AfPacket | PortKind::Tap | PortKind::Mock => Backend::Plain,
        PortKind::Vhost => {
            let socket = p.socket.as_ref().ok_or_else(|| {
                src.err(
                    port_span.clone(),
                    &f("socket"),
                    "vhost ports need a socket path (socket = \"/run/dvs/vm1.sock\")",
                )
            })?;
            let path = src.resolve(socket.get_ref());
            if socket.get_ref().is_empty() || path.as_os_str().len() > SOCKET_PATH_MAX {
                return Err(src.err(
                    socket.span(),
                    &f("socket"),
                    format!("socket path must be 1..{SOCKET_PATH_MAX} bytes"),
                ));
            }
            let role = match p
                .vhost_role
                .as_ref()
                .map(|r| (r.get_ref().as_str(), r.span()))
            {
                None | Some(("client", _)) => VhostRole::Client,
                Some(("server", _)) => VhostRole::Server,
                Some((other, s)) => {
                    return Err(src.err(
                        s,
                        &f("vhost_role"),
                        format!("unknown vhost_role \"{other}\" (expected client or server)"),
                    ))
                }
            };
            let mac = match &p.mac {
                None => None,
                Some(m) => Some(parse_mac(m.get_ref()).ok_or_else(|| {
                    src.err(
                        m.span(),
                        &f("mac"),
                        format!("bad MAC address \"{}\"", m.get_ref()),
                    )
                })?),
            };
            Backend::Vhost {
                socket: path,
                role,
                mac,
            }
        }
        PortKind::Dpdk => {
            let d = p.devargs.as_ref().ok_or_else(|| {
                src.err(
                    port_span.clone(),
                    &f("devargs"),
                    "dpdk ports need devargs (a PCI address or a vdev like \"net_tap0,iface=t0\")",
                )
            })?;
            if d.get_ref().trim().is_empty() {
                return Err(src.err(d.span(), &f("devargs"), "must not be empty"));
            }
            Backend::Dpdk {
                devargs: d.get_ref().trim().to_string(),
            }
        }
        PortKind::AfXdp => {
            let mode = match p
                .xdp_mode
                .as_ref()
                .map(|r| (r.get_ref().as_str(), r.span()))
            {
                None | Some(("auto", _)) => XdpMode::Auto,
                Some(("native", _)) => XdpMode::Native,
                Some(("generic", _)) => XdpMode::Generic,
                Some((other, s)) => {
                    return Err(src.err(
                        s,
                        &f("xdp_mode"),
                        format!("unknown xdp_mode \"{other}\" (expected auto, native or generic)"),
                    ))
                }
            };
            let queue = match &p.xdp_queue {
                None => 0,
                // 0..=1023 fits u32.
                Some(q) => in_range(src, q, &f("xdp_queue"), "xdp_queue", 0, 1023)? as u32,
            };
            Backend::AfXdp { mode, queue }
        }
    })
}

/// `aa:bb:cc:dd:ee:ff` to bytes.
pub(super) fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}
