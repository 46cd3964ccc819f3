//! OpenFlow listener targets of a bridge (`ofp_listen = ["ptcp:6653:127.0.0.1"]`), in the OVS
//! target syntax so operators can copy them from `ovs-vsctl set-controller` habits.
//!
//! Only passive TCP is accepted here: the per-bridge unix management socket
//! (`<rundir>/<bridge>.mgmt`) always exists and needs no configuration, and active `tcp:`
//! controller connections belong to the controller settings, not to listeners.

use serde::Serialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// One passive OpenFlow endpoint (serialized in its target syntax).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum OfpListen {
    /// `ptcp:<port>[:<addr>]`: listen on TCP (all addresses when no address is given).
    Ptcp(SocketAddr),
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
    let ip: IpAddr = if addr.is_empty() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        addr.parse()
            .map_err(|_| format!("bad address \"{addr}\" in \"{s}\""))?
    };
    Ok(OfpListen::Ptcp(SocketAddr::new(ip, port)))
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
        assert_eq!(
            parse_listen("ptcp:6653"),
            Ok(OfpListen::Ptcp("0.0.0.0:6653".parse().unwrap()))
        );
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
}
