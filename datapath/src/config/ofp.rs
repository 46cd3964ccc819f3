//! OpenFlow endpoints of a bridge in the OVS target syntax, so operators can copy them from
//! `ovs-vsctl set-controller` habits:
//!
//! - `ofp_listen = ["ptcp:6653:127.0.0.1", "pssl:6653:0.0.0.0"]`: passive listeners, plain TCP
//!   or TLS. The per-bridge unix management socket (`<rundir>/<bridge>.mgmt`) always exists and
//!   needs no configuration.
//! - `controllers = ["tcp:127.0.0.1:6653", "ssl:192.0.2.1:6653"]`: controllers the switch
//!   connects to (and reconnects to, see `ofp::active`), plain or TLS. The host must be an IP
//!   literal (IPv6 in brackets, `tcp:[::1]:6653`): resolving names would make the switch's
//!   behaviour depend on DNS at start and at every reconnect, which OVS avoids too. The port
//!   defaults to 6653 (IANA's OpenFlow port), as `tcp:IP` and `ssl:IP` do in OVS.
//! - `fail_mode = "standalone" | "secure"`: what the bridge does while no controller is
//!   connected (OVS's two modes, standalone by default).
//!
//! TLS endpoints (`pssl:`, `ssl:`) use the switch's private key, certificate and CA certificate
//! ([`SslFiles`], OVS's `SSL` table), and verify the peer against that CA both ways. A target
//! carries the files it uses: the parsers leave them out (they only read the target text) and
//! the front end that knows them attaches them ([`OfpListen::with_ssl`],
//! [`OfpController::with_ssl`]). So the OpenFlow server, which sees one bridge's configuration at
//! a time, knows which files to load, and a change of files is a change of the bridge's OpenFlow
//! settings (its listeners restart, as for any other). The engine only carries the paths; the
//! daemon reads them.

use serde::Serialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

/// The port a `tcp:` or `ssl:` controller target without one connects to (IANA's OpenFlow
/// port).
pub const DEFAULT_CONTROLLER_PORT: u16 = 6653;

/// The files of the switch's TLS identity, as OVS's `SSL` table has them: all three PEM.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct SslFiles {
    /// The switch's private key.
    pub private_key: PathBuf,
    /// The switch's certificate, optionally followed by intermediate CA certificates.
    pub certificate: PathBuf,
    /// The CA certificate(s) a peer's certificate must chain to.
    pub ca_cert: PathBuf,
}

/// One passive OpenFlow endpoint (serialized in its target syntax).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum OfpListen {
    /// `ptcp:<port>[:<addr>]`: listen on TCP (on the loopback address when no address is
    /// given; see [`OfpListen::is_loopback`]).
    Ptcp(SocketAddr),
    /// `pssl:<port>[:<addr>]`: listen on TLS (loopback without an address, like `ptcp:`); every
    /// client must present a certificate signed by the CA. The files are `None` until a front
    /// end attaches them ([`OfpListen::with_ssl`]).
    Pssl(SocketAddr, Option<SslFiles>),
}

impl OfpListen {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        match self {
            OfpListen::Ptcp(a) | OfpListen::Pssl(a, _) => *a,
        }
    }

    /// True when only this host can connect. A plain-TCP listener on any other address lets
    /// whoever reaches it rewrite the flow tables, so front ends refuse one unless
    /// `remote_openflow` is set; a TLS one admits only holders of a certificate from the CA.
    pub fn is_loopback(&self) -> bool {
        self.addr().ip().is_loopback()
    }

    /// True for a TLS listener (`pssl:`).
    pub fn is_ssl(&self) -> bool {
        matches!(self, OfpListen::Pssl(..))
    }

    /// The same target, with `files` attached when it is a TLS one.
    pub fn with_ssl(self, files: &SslFiles) -> OfpListen {
        match self {
            OfpListen::Pssl(a, _) => OfpListen::Pssl(a, Some(files.clone())),
            plain => plain,
        }
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
            OfpListen::Pssl(a, _) => write!(f, "pssl:{}:{}", a.port(), a.ip()),
        }
    }
}

/// Parse one target (the files of a `pssl:` one are left to the front end); the error says
/// what is wrong with it.
pub fn parse_listen(s: &str) -> Result<OfpListen, String> {
    let (rest, ssl) = if let Some(r) = s.strip_prefix("ptcp:") {
        (r, false)
    } else if let Some(r) = s.strip_prefix("pssl:") {
        (r, true)
    } else {
        return Err(format!(
            "unsupported OpenFlow listener \"{s}\" (expected ptcp:<port>[:<address>] or \
             pssl:<port>[:<address>])"
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
    let addr = SocketAddr::new(ip, port);
    Ok(if ssl {
        OfpListen::Pssl(addr, None)
    } else {
        OfpListen::Ptcp(addr)
    })
}

/// One controller the switch connects to (serialized in its target syntax).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub enum OfpController {
    /// `tcp:<ip>[:<port>]` (IPv6 as `tcp:[<ip>][:<port>]`).
    Tcp(SocketAddr),
    /// `ssl:<ip>[:<port>]`: TLS; the controller's certificate must be signed by the CA (its
    /// names are not checked, as in OVS: the target is an address, not a name). The files are
    /// `None` until a front end attaches them ([`OfpController::with_ssl`]).
    Ssl(SocketAddr, Option<SslFiles>),
}

impl OfpController {
    /// The address it connects to.
    pub fn addr(&self) -> SocketAddr {
        match self {
            OfpController::Tcp(a) | OfpController::Ssl(a, _) => *a,
        }
    }

    /// True for a TLS controller (`ssl:`).
    pub fn is_ssl(&self) -> bool {
        matches!(self, OfpController::Ssl(..))
    }

    /// The same target, with `files` attached when it is a TLS one.
    pub fn with_ssl(self, files: &SslFiles) -> OfpController {
        match self {
            OfpController::Ssl(a, _) => OfpController::Ssl(a, Some(files.clone())),
            plain => plain,
        }
    }
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
            OfpController::Ssl(a, _) => write!(f, "ssl:{a}"),
        }
    }
}

/// Parse one controller target (the files of an `ssl:` one are left to the front end); the
/// error says what is wrong with it.
pub fn parse_controller(s: &str) -> Result<OfpController, String> {
    let (rest, ssl) = if let Some(r) = s.strip_prefix("tcp:") {
        (r, false)
    } else if let Some(r) = s.strip_prefix("ssl:") {
        (r, true)
    } else {
        return Err(format!(
            "unsupported controller target \"{s}\" (expected tcp:<ip>[:<port>] or \
             ssl:<ip>[:<port>])"
        ));
    };
    let scheme = if ssl { "ssl" } else { "tcp" };
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
                "write an IPv6 controller address in brackets: {scheme}:[<ip>]:<port> (got \"{s}\")"
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
    let addr = SocketAddr::new(host, port);
    Ok(if ssl {
        OfpController::Ssl(addr, None)
    } else {
        OfpController::Tcp(addr)
    })
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
        assert!(e("unix:/tmp/ctl.sock").contains("unsupported controller target"));
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
    fn pssl_targets() {
        let pssl = |a: &str| Ok(OfpListen::Pssl(a.parse().unwrap(), None));
        assert_eq!(parse_listen("pssl:6653:0.0.0.0"), pssl("0.0.0.0:6653"));
        // No address: loopback, as with ptcp.
        assert_eq!(parse_listen("pssl:6653"), pssl("127.0.0.1:6653"));
        assert_eq!(parse_listen("pssl:6654:[::]"), pssl("[::]:6654"));
        let l = parse_listen("pssl:6653:10.0.0.1").unwrap();
        assert!(l.is_ssl() && !l.is_loopback());
        assert!(!parse_listen("ptcp:6653").unwrap().is_ssl());
        assert_eq!(l.to_string(), "pssl:6653:10.0.0.1");
        assert!(parse_listen("pssl:x").unwrap_err().contains("bad port"));
        assert!(parse_listen("pssl:1:nope")
            .unwrap_err()
            .contains("bad address"));
        assert!(parse_listen("ssl:1.2.3.4:6653")
            .unwrap_err()
            .contains("pssl:<port>"));
        // Serialized in the target syntax, without the files.
        let files = SslFiles {
            private_key: "/k.pem".into(),
            certificate: "/c.pem".into(),
            ca_cert: "/ca.pem".into(),
        };
        let with = l.clone().with_ssl(&files);
        assert_eq!(with, OfpListen::Pssl(l.addr(), Some(files.clone())));
        assert_ne!(with, l, "a change of files is a change of the listener");
        assert_eq!(
            serde_json::to_value(&with).unwrap(),
            serde_json::json!("pssl:6653:10.0.0.1")
        );
        let plain = parse_listen("ptcp:6653").unwrap();
        assert_eq!(plain.clone().with_ssl(&files), plain);
    }

    #[test]
    fn ssl_controller_targets() {
        let ssl = |a: &str| Ok(OfpController::Ssl(a.parse().unwrap(), None));
        assert_eq!(
            parse_controller("ssl:192.0.2.1:6633"),
            ssl("192.0.2.1:6633")
        );
        assert_eq!(parse_controller("ssl:192.0.2.1"), ssl("192.0.2.1:6653"));
        assert_eq!(parse_controller("ssl:[::1]"), ssl("[::1]:6653"));
        let c = parse_controller("ssl:[::1]:7000").unwrap();
        assert!(c.is_ssl());
        assert!(!parse_controller("tcp:[::1]").unwrap().is_ssl());
        assert_eq!(c.to_string(), "ssl:[::1]:7000");
        let e = |s: &str| parse_controller(s).unwrap_err();
        assert!(e("ssl:ctl.example.com").contains("bad address"));
        assert!(e("ssl:::1").contains("ssl:[<ip>]"));
        assert!(e("ssl:1.2.3.4:0").contains("bad port"));
        assert!(e("ssl:0.0.0.0").contains("cannot be connected to"));
        assert!(e("pssl:6653").contains("unsupported controller target"));
        let files = SslFiles {
            private_key: "k".into(),
            certificate: "c".into(),
            ca_cert: "a".into(),
        };
        let with = c.clone().with_ssl(&files);
        assert_eq!(with.addr(), c.addr());
        assert_eq!(with.to_string(), "ssl:[::1]:7000");
        assert_eq!(
            serde_json::to_value(&with).unwrap(),
            serde_json::json!("ssl:[::1]:7000")
        );
    }

    #[test]
    fn fail_modes() {
        assert_eq!(parse_fail_mode("secure"), Ok(FailMode::Secure));
        assert_eq!(parse_fail_mode("standalone"), Ok(FailMode::Standalone));
        assert_eq!(FailMode::default(), FailMode::Standalone);
        assert!(parse_fail_mode("open").unwrap_err().contains("expected"));
    }
}
