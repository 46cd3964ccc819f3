//! OpenFlow endpoints of a bridge in the OVS target syntax, so operators can copy them from
//! `ovs-vsctl set-controller` habits:
//!
//! - `ofp_listen = ["ptcp:6653:127.0.0.1"]`: passive listeners. Only TCP is accepted here: the
//!   per-bridge unix management socket (`<rundir>/<bridge>.mgmt`) always exists and needs no
//!   configuration.
//! - `controllers = ["tcp:127.0.0.1:6653"]`: controllers the switch connects to (and reconnects
//!   to, see `ofp::active`). The host must be an IP literal (IPv6 in brackets, `tcp:[::1]:6653`):
//!   resolving names would make the switch's behaviour depend on DNS at start and at every
//!   reconnect, which OVS avoids too. The port defaults to 6653 (IANA's OpenFlow port), as
//!   `tcp:IP` does in OVS.
//! - `fail_mode = "standalone" | "secure"`: what the bridge does while no controller is
//!   connected (OVS's two modes, standalone by default).

use serde::Serialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The port a `tcp:` controller target without one connects to (IANA's OpenFlow port).
pub const DEFAULT_CONTROLLER_PORT: u16 = 6653;

/// One passive OpenFlow endpoint (serialized in its target syntax).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum OfpListen {
    /// `ptcp:<port>[:<addr>]`: listen on TCP (on the loopback address when no address is
    /// given; see [`OfpListen::is_loopback`]).
    Ptcp(SocketAddr),
}

impl OfpListen {
    /// True when only this host can connect. A listener on any other address lets whoever
    /// reaches it rewrite the flow tables (there is no TLS yet), so front ends refuse one
    /// unless `remote_openflow` is set.
    pub fn is_loopback(&self) -> bool {
        let OfpListen::Ptcp(a) = self;
        a.ip().is_loopback()
    }
}

impl From<OfpListen> for String {
    fn from(l: OfpListen) -> String {
        l.to_string()
    }
}

impl fmt::Display for OfpListen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OfpListen::Ptcp(a) => write!(f, "ptcp:{}:{}", a.port(), a.ip()),
        }
    }
}

/// Parse one target; the error says what is wrong with it.
pub fn parse_listen(s: &str) -> Result<OfpListen, String> {
    let Some(rest) = s.strip_prefix("ptcp:") else {
        return Err(format!(
            "unsupported OpenFlow listener \"{s}\" (expected ptcp:<port>[:<address>])"
        ));
    };
    let (port, addr) = match rest.split_once(':') {
        Some((p, a)) => (p, a.trim_start_matches('[').trim_end_matches(']')),
        None => (rest, ""),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("bad port \"{port}\" in \"{s}\" (expected 0-65535)"))?;
    // Unlike OVS (all addresses), no address means loopback: listening on the network must be
    // asked for.
    let ip: IpAddr = if addr.is_empty() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.parse()
            .map_err(|_| format!("bad address \"{addr}\" in \"{s}\""))?
    };
    Ok(OfpListen::Ptcp(SocketAddr::new(ip, port)))
}

/// One controller the switch connects to (serialized in its target syntax).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub enum OfpController {
    /// `tcp:<ip>[:<port>]` (IPv6 as `tcp:[<ip>][:<port>]`).
    Tcp(SocketAddr),
}

impl From<OfpController> for String {
    fn from(c: OfpController) -> String {
        c.to_string()
    }
}

impl fmt::Display for OfpController {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // SocketAddr's Display already brackets IPv6 addresses.
            OfpController::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// Parse one controller target; the error says what is wrong with it.
pub fn parse_controller(s: &str) -> Result<OfpController, String> {
    let Some(rest) = s.strip_prefix("tcp:") else {
        return Err(format!(
            "unsupported controller target \"{s}\" (expected tcp:<ip>[:<port>])"
        ));
    };
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let Some((ip, after)) = v6.split_once(']') else {
            return Err(format!("missing ']' in \"{s}\""));
        };
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("unexpected \"{p}\" after the address in \"{s}\""))?,
            ),
        };
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| format!("bad IPv6 address \"{ip}\" in \"{s}\""))?;
        (IpAddr::V6(ip), port)
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        if host.contains(':') || port.is_some_and(|p| p.contains(':')) {
            return Err(format!(
                "write an IPv6 controller address in brackets: tcp:[<ip>]:<port> (got \"{s}\")"
            ));
        }
        let ip: Ipv4Addr = host.parse().map_err(|_| {
            format!("bad address \"{host}\" in \"{s}\" (expected an IPv4 or [IPv6] literal)")
        })?;
        (IpAddr::V4(ip), port)
    };
    let port = match port {
        None => DEFAULT_CONTROLLER_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n != 0 => n,
            _ => return Err(format!("bad port \"{p}\" in \"{s}\" (expected 1-65535)")),
        },
    };
    if host.is_unspecified() || host.is_multicast() {
        return Err(format!(
            "controller address {host} in \"{s}\" cannot be connected to"
        ));
    }
    Ok(OfpController::Tcp(SocketAddr::new(host, port)))
}

/// What a bridge with controllers does while none of them is connected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// After a grace period without any controller, forward like a learning switch (NORMAL
    /// for every packet, the flow tables bypassed) until a controller connects again. The
    /// bridge starts with the default `priority=0,actions=NORMAL` flow.
    #[default]
    Standalone,
    /// Never take over: the flow tables stay in charge whether or not a controller is
    /// connected, and the bridge starts without the default flow (only configured flows), so
    /// nothing is forwarded until someone installs flows.
    Secure,
}

impl FailMode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FailMode::Standalone => "standalone",
            FailMode::Secure => "secure",
        }
    }
}

impl fmt::Display for FailMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parse a `fail_mode` value.
pub fn parse_fail_mode(s: &str) -> Result<FailMode, String> {
    match s {
        "standalone" => Ok(FailMode::Standalone),
        "secure" => Ok(FailMode::Secure),
        _ => Err(format!(
            "unknown fail_mode \"{s}\" (expected \"standalone\" or \"secure\")"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptcp_targets() {
        assert_eq!(
            parse_listen("ptcp:6653:127.0.0.1"),
            Ok(OfpListen::Ptcp("127.0.0.1:6653".parse().unwrap()))
        );
        // No address: loopback, not every address.
        assert_eq!(
            parse_listen("ptcp:6653"),
            Ok(OfpListen::Ptcp("127.0.0.1:6653".parse().unwrap()))
        );
        assert!(parse_listen("ptcp:6653").unwrap().is_loopback());
        assert!(parse_listen("ptcp:6653:[::1]").unwrap().is_loopback());
        assert!(!parse_listen("ptcp:6653:0.0.0.0").unwrap().is_loopback());
        assert_eq!(
            parse_listen("ptcp:6653:[::1]").unwrap().to_string(),
            "ptcp:6653:::1"
        );
        assert!(parse_listen("tcp:1.2.3.4:6653").is_err());
        assert!(parse_listen("ptcp:99999").unwrap_err().contains("bad port"));
        assert!(parse_listen("ptcp:1:nope")
            .unwrap_err()
            .contains("bad address"));
    }

    #[test]
    fn tcp_controller_targets() {
        let tcp = |a: &str| Ok(OfpController::Tcp(a.parse().unwrap()));
        assert_eq!(
            parse_controller("tcp:127.0.0.1:6633"),
            tcp("127.0.0.1:6633")
        );
        assert_eq!(parse_controller("tcp:10.1.2.3"), tcp("10.1.2.3:6653"));
        assert_eq!(parse_controller("tcp:[::1]:7000"), tcp("[::1]:7000"));
        assert_eq!(parse_controller("tcp:[fe80::1]"), tcp("[fe80::1]:6653"));
        assert_eq!(
            parse_controller("tcp:[::1]:7000").unwrap().to_string(),
            "tcp:[::1]:7000"
        );
        assert_eq!(
            parse_controller("tcp:1.2.3.4").unwrap().to_string(),
            "tcp:1.2.3.4:6653"
        );
        let e = |s: &str| parse_controller(s).unwrap_err();
        assert!(e("ptcp:6653").contains("unsupported controller target"));
        assert!(e("ssl:1.2.3.4:6653").contains("unsupported controller target"));
        assert!(e("tcp:ctl.example.com:6653").contains("bad address"));
        assert!(e("tcp:1.2.3.4:0").contains("bad port"));
        assert!(e("tcp:1.2.3.4:70000").contains("bad port"));
        assert!(e("tcp:1.2.3.4:").contains("bad port"));
        assert!(e("tcp:::1").contains("brackets"));
        assert!(e("tcp:[::1").contains("missing ']'"));
        assert!(e("tcp:[::1]x").contains("unexpected"));
        assert!(e("tcp:[nope]:1").contains("bad IPv6"));
        assert!(e("tcp:0.0.0.0:6653").contains("cannot be connected to"));
    }

    #[test]
    fn fail_modes() {
        assert_eq!(parse_fail_mode("secure"), Ok(FailMode::Secure));
        assert_eq!(parse_fail_mode("standalone"), Ok(FailMode::Standalone));
        assert_eq!(FailMode::default(), FailMode::Standalone);
        assert!(parse_fail_mode("open").unwrap_err().contains("expected"));
    }
}
