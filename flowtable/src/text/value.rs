//! Field values in `ovs-ofctl` spelling, both directions: MAC and IP addresses with their mask
//! forms (`/24`, `/255.255.0.0`, `/ff:ff:..`), numbers in decimal or `0x` hex with `/mask`,
//! TCP flags (`+syn-ack`), fragment names (`later`) and ports (numbers, reserved names, or names
//! resolved by the caller). One parser and one printer per value kind, shared by matches,
//! `set_field` and traces, so the three can never disagree on spelling.

use crate::action::{
    OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_LOCAL, OFPP_NORMAL,
};
use crate::field::Field;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{PortLookup, PortNames};

/// How a field's value is spelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Mac,
    Ipv4,
    Ipv6,
    /// Numbers printed in hex even when exact.
    Hex,
    /// Numbers printed in decimal when exact, hex when masked.
    Dec,
    TcpFlags,
    Frag,
    Port,
}

pub(crate) fn kind(f: Field) -> Kind {
    match f {
        Field::EthSrc | Field::EthDst | Field::ArpSha | Field::ArpTha => Kind::Mac,
        Field::NdSll | Field::NdTll => Kind::Mac,
        Field::Ipv4Src | Field::Ipv4Dst | Field::ArpSpa | Field::ArpTpa => Kind::Ipv4,
        Field::Ipv6Src | Field::Ipv6Dst | Field::NdTarget => Kind::Ipv6,
        Field::Metadata | Field::Reg(_) | Field::Ipv6Label | Field::EthType => Kind::Hex,
        Field::Ipv6Exthdr | Field::TunnelId => Kind::Hex,
        Field::TcpFlags => Kind::TcpFlags,
        Field::IpFrag => Kind::Frag,
        Field::InPort => Kind::Port,
        _ => Kind::Dec,
    }
}

/// Reserved port names (printed upper case, parsed case-insensitively).
const RESERVED_PORTS: &[(&str, u32)] = &[
    ("IN_PORT", OFPP_IN_PORT),
    ("NORMAL", OFPP_NORMAL),
    ("FLOOD", OFPP_FLOOD),
    ("ALL", OFPP_ALL),
    ("CONTROLLER", OFPP_CONTROLLER),
    ("LOCAL", OFPP_LOCAL),
    ("ANY", OFPP_ANY),
];

/// Parse an unsigned number (decimal or `0x` hex).
pub(crate) fn parse_num(s: &str) -> Result<u128, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u128::from_str_radix(h, 16),
        None => s.parse::<u128>(),
    };
    r.map_err(|_| format!("bad number '{s}'"))
}

/// Parse a number that must fit in `bits` bits.
pub(crate) fn parse_uint(s: &str, bits: u32) -> Result<u128, String> {
    let v = parse_num(s)?;
    if bits < 128 && v >> bits != 0 {
        return Err(format!("{s} does not fit in {bits} bits"));
    }
    Ok(v)
}

/// Parse a port: a number, a reserved name, or a name known to `ports`.
pub(crate) fn parse_port(s: &str, ports: PortLookup<'_>) -> Result<u32, String> {
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return parse_uint(s, 32).map(|v| v as u32);
    }
    if let Some((_, p)) = RESERVED_PORTS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
    {
        return Ok(*p);
    }
    ports(s).ok_or_else(|| format!("unknown port '{s}'"))
}

/// Print a port: reserved name, caller's name, or number.
pub fn format_port(p: u32, names: PortNames<'_>) -> String {
    if let Some((n, _)) = RESERVED_PORTS.iter().find(|(_, v)| *v == p) {
        return (*n).to_string();
    }
    names(p).unwrap_or_else(|| p.to_string())
}

fn parse_mac(s: &str) -> Result<u128, String> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err("bad MAC address".into());
    }
    let mut v = 0u128;
    for p in parts {
        if p.is_empty() || p.len() > 2 {
            return Err("bad MAC address".into());
        }
        let b = u8::from_str_radix(p, 16).map_err(|_| "bad MAC address".to_string())?;
        v = (v << 8) | u128::from(b);
    }
    Ok(v)
}

fn format_mac(v: u128) -> String {
    let b = (v as u64).to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

fn prefix_mask(len: u32, bits: u32) -> u128 {
    if len == 0 {
        0
    } else {
        let full = if bits == 128 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        (full << (bits - len)) & full
    }
}

/// The prefix length of `mask` if it is a CIDR mask of a `bits`-wide field.
fn prefix_len(mask: u128, bits: u32) -> Option<u32> {
    let len = mask.count_ones();
    (len <= bits && prefix_mask(len, bits) == mask).then_some(len)
}

fn parse_ip(s: &str, v6: bool) -> Result<u128, String> {
    if v6 {
        s.parse::<Ipv6Addr>()
            .map(u128::from)
            .map_err(|_| "bad IPv6 address".into())
    } else {
        s.parse::<Ipv4Addr>()
            .map(|a| u128::from(u32::from(a)))
            .map_err(|_| "bad IPv4 address".into())
    }
}

fn format_ip(v: u128, v6: bool) -> String {
    if v6 {
        Ipv6Addr::from(v).to_string()
    } else {
        Ipv4Addr::from(v as u32).to_string()
    }
}

const TCP_FLAGS: &[(&str, u16)] = &[
    ("fin", 0x001),
    ("syn", 0x002),
    ("rst", 0x004),
    ("psh", 0x008),
    ("ack", 0x010),
    ("urg", 0x020),
    ("ece", 0x040),
    ("cwr", 0x080),
    ("ns", 0x100),
];

fn parse_tcp_flags(s: &str) -> Result<(u128, u128), String> {
    let (mut v, mut m) = (0u16, 0u16);
    let mut rest = s;
    while !rest.is_empty() {
        let set = rest.starts_with('+');
        if !set && !rest.starts_with('-') {
            return Err("expected +flag or -flag".into());
        }
        rest = &rest[1..];
        let end = rest.find(['+', '-']).unwrap_or(rest.len());
        let name = &rest[..end];
        let bit = TCP_FLAGS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
            .ok_or_else(|| format!("unknown TCP flag '{name}'"))?;
        if m & bit != 0 {
            return Err(format!("TCP flag '{name}' given twice"));
        }
        m |= bit;
        if set {
            v |= bit;
        }
        rest = &rest[end..];
    }
    Ok((v.into(), m.into()))
}

const FRAG_NAMES: &[(&str, u128, u128)] = &[
    ("no", 0, 1),
    ("yes", 1, 1),
    ("first", 1, 3),
    ("later", 3, 3),
    ("not_later", 0, 2),
];

/// Parse `value[/mask]` for `f`. Returns (value, mask) with the mask clipped to the field.
pub(crate) fn parse_value(
    f: Field,
    s: &str,
    ports: PortLookup<'_>,
) -> Result<(u128, u128), String> {
    let full = f.full_mask();
    let bits = f.bits();
    let k = kind(f);
    if k == Kind::TcpFlags && s.starts_with(['+', '-']) {
        return parse_tcp_flags(s);
    }
    if k == Kind::Frag {
        if let Some((_, v, m)) = FRAG_NAMES.iter().find(|(n, _, _)| *n == s) {
            return Ok((*v, *m));
        }
    }
    if k == Kind::Port {
        return parse_port(s, ports).map(|p| (u128::from(p), full));
    }
    let (vs, ms) = match s.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (s, None),
    };
    let v = match k {
        Kind::Mac => parse_mac(vs)?,
        Kind::Ipv4 | Kind::Ipv6 => parse_ip(vs, k == Kind::Ipv6)?,
        _ => parse_uint(vs, bits)?,
    };
    let m = match (k, ms) {
        (_, None) => full,
        (Kind::Mac, Some(m)) => parse_mac(m)?,
        (Kind::Ipv4 | Kind::Ipv6, Some(m)) if m.chars().all(|c| c.is_ascii_digit()) => {
            let len: u32 = m.parse().map_err(|_| "bad prefix length".to_string())?;
            if len > bits {
                return Err(format!("prefix length /{len} is longer than {bits} bits"));
            }
            prefix_mask(len, bits)
        }
        (Kind::Ipv4 | Kind::Ipv6, Some(m)) => parse_ip(m, k == Kind::Ipv6)?,
        (_, Some(m)) => parse_uint(m, bits)?,
    };
    if k == Kind::Ipv4 || k == Kind::Ipv6 || k == Kind::Mac {
        // Host bits under a prefix are ignored, as ovs-ofctl does.
        return Ok((v & m, m));
    }
    if v & !m != 0 {
        return Err("value has bits outside the mask".into());
    }
    Ok((v, m))
}

/// Print `value[/mask]` of `f` (the mask is omitted when exact).
pub(crate) fn format_value(f: Field, v: u128, m: u128, names: PortNames<'_>) -> String {
    let full = f.full_mask();
    let bits = f.bits();
    let exact = m == full;
    match kind(f) {
        Kind::Mac if exact => format_mac(v),
        Kind::Mac => format!("{}/{}", format_mac(v), format_mac(m)),
        Kind::Ipv4 | Kind::Ipv6 => {
            let v6 = kind(f) == Kind::Ipv6;
            match prefix_len(m, bits) {
                _ if exact => format_ip(v, v6),
                Some(len) => format!("{}/{}", format_ip(v, v6), len),
                None => format!("{}/{}", format_ip(v, v6), format_ip(m, v6)),
            }
        }
        Kind::Port if exact => format_port(v as u32, names),
        Kind::Frag => match FRAG_NAMES.iter().find(|(_, fv, fm)| *fv == v && *fm == m) {
            Some((n, _, _)) => (*n).to_string(),
            None => format!("{v:#x}/{m:#x}"),
        },
        Kind::TcpFlags if !exact && m & !0x1ff == 0 && m != 0 => {
            let mut s = String::new();
            for (n, b) in TCP_FLAGS {
                let b = u128::from(*b);
                if m & b != 0 {
                    s.push(if v & b != 0 { '+' } else { '-' });
                    s.push_str(n);
                }
            }
            s
        }
        Kind::TcpFlags if exact => format!("{v:#05x}"),
        Kind::Hex if exact && f == Field::EthType => format!("{v:#06x}"),
        Kind::Hex if exact => format!("{v:#x}"),
        Kind::Dec if exact => v.to_string(),
        _ => format!("{v:#x}/{m:#x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_ports(_: &str) -> Option<u32> {
        None
    }

    #[test]
    fn addresses_and_masks() {
        let p = &no_ports;
        assert_eq!(
            parse_value(Field::Ipv4Dst, "10.0.0.0/24", p),
            Ok((0x0a00_0000, 0xffff_ff00))
        );
        assert_eq!(
            parse_value(Field::Ipv4Dst, "10.1.2.3/255.255.0.0", p),
            Ok((0x0a01_0000, 0xffff_0000))
        );
        assert_eq!(
            parse_value(Field::Ipv4Dst, "10.0.0.300", p),
            Err("bad IPv4 address".to_string())
        );
        assert_eq!(
            parse_value(Field::EthDst, "01:00:00:00:00:00/01:00:00:00:00:00", p),
            Ok((0x0100_0000_0000, 0x0100_0000_0000))
        );
        let (v, m) = parse_value(Field::Ipv6Src, "2001:db8::/32", p).expect("v6");
        assert_eq!(
            format_value(Field::Ipv6Src, v, m, &|_| None),
            "2001:db8::/32"
        );
        assert_eq!(
            format_value(Field::Ipv4Src, 0x0a00_0001, 0xff00_ff00, &|_| None),
            "10.0.0.1/255.0.255.0"
        );
    }

    #[test]
    fn numbers_flags_ports() {
        let p = &no_ports;
        assert_eq!(parse_value(Field::TcpDst, "0x50", p), Ok((80, 0xffff)));
        assert!(parse_value(Field::TcpDst, "70000", p).is_err());
        assert!(parse_value(Field::Metadata, "0x3/0x1", p).is_err());
        assert_eq!(
            parse_value(Field::TcpFlags, "+syn-ack", p),
            Ok((0x002, 0x012))
        );
        assert_eq!(
            format_value(Field::TcpFlags, 0x002, 0x012, &|_| None),
            "+syn-ack"
        );
        assert!(parse_value(Field::TcpFlags, "+syn+bogus", p).is_err());
        assert_eq!(parse_value(Field::IpFrag, "later", p), Ok((3, 3)));
        assert_eq!(
            parse_value(Field::InPort, "local", p),
            Ok((u128::from(OFPP_LOCAL), 0xffff_ffff))
        );
        let named = |s: &str| (s == "vm1").then_some(7);
        assert_eq!(
            parse_value(Field::InPort, "vm1", &named),
            Ok((7, 0xffff_ffff))
        );
        assert_eq!(
            parse_value(Field::InPort, "vm2", &named),
            Err("unknown port 'vm2'".to_string())
        );
        assert_eq!(
            format_value(Field::EthType, 0x800, 0xffff, &|_| None),
            "0x0800"
        );
    }
}
