//! Parsing the `actions=` part of a flow string into OpenFlow 1.3 instructions.
//!
//! Actions are split at top-level commas (commas inside `write_actions(...)` or `resubmit(,N)`
//! belong to their action). OpenFlow 1.0 spellings (`mod_vlan_vid`, `strip_vlan`, `mod_nw_dst`, ...)
//! become their 1.3 equivalents (`set_field`, `pop_vlan`) so the pipeline only knows one form;
//! `resubmit(,N)` is accepted as `goto_table:N` since tables only go forward here.

use super::parse::{field_by_name, Ctx};
use super::value::{parse_port, parse_uint, parse_value};
use super::{PortLookup, TextError};
use crate::action::{Action, Instructions, OFPP_CONTROLLER};
use crate::field::{is_mpls, Field, ETH_TYPE_QINQ, ETH_TYPE_VLAN};
use crate::key::VLAN_PRESENT;
use crate::matches::Match;

/// `max_len` of a bare `controller` action (OFPCML_NO_BUFFER: the whole packet).
pub(crate) const CONTROLLER_MAX_LEN: u16 = 0xffff;

fn bad(token: &str, why: impl Into<String>) -> TextError {
    TextError::BadAction {
        token: token.to_string(),
        why: why.into(),
    }
}

/// The argument of `name:arg`, which this action requires.
fn need<'a>(token: &str, arg: Option<&'a str>) -> Result<&'a str, TextError> {
    arg.ok_or_else(|| bad(token, "missing argument"))
}

/// Split at commas outside parentheses.
pub(crate) fn split_top(s: &str) -> Result<Vec<&str>, TextError> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(TextError::Unbalanced(s.to_string()));
                }
            }
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(TextError::Unbalanced(s.to_string()));
    }
    out.push(s[start..].trim());
    Ok(out.into_iter().filter(|t| !t.is_empty()).collect())
}

fn num<T: TryFrom<u128>>(token: &str, v: &str, bits: u32) -> Result<T, TextError> {
    let n = parse_uint(v, bits).map_err(|why| bad(token, why))?;
    T::try_from(n).map_err(|_| bad(token, "out of range"))
}

fn set_field(token: &str, f: Field, v: &str, ports: PortLookup<'_>) -> Result<Action, TextError> {
    if !f.settable() {
        return Err(bad(token, format!("{} is read-only", f.name())));
    }
    let (v, m) = parse_value(f, v, ports).map_err(|why| bad(token, why))?;
    if m != f.full_mask() {
        return Err(bad(token, "set_field takes an exact value"));
    }
    Ok(Action::SetField(f, v))
}

/// Parse one plain action (not an instruction). `None` = not a plain action name.
fn parse_action(
    token: &str,
    ctx: &Ctx,
    ports: PortLookup<'_>,
) -> Result<Option<Action>, TextError> {
    // `name:arg`, or `name(arg)` for the few actions ovs-ofctl prints that way.
    let (name, arg) = match token.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => match paren_arg(token, "set_mpls_ttl") {
            Some(a) => ("set_mpls_ttl", Some(a)),
            None => (token, None),
        },
    };
    let lname = name.to_ascii_lowercase();
    let a = match (lname.as_str(), arg) {
        ("output", a) => {
            let p = parse_port(need(token, a)?, ports).map_err(|why| bad(token, why))?;
            if p == OFPP_CONTROLLER {
                Action::Output {
                    port: p,
                    max_len: CONTROLLER_MAX_LEN,
                }
            } else {
                Action::output(p)
            }
        }
        ("controller", None) => Action::Output {
            port: OFPP_CONTROLLER,
            max_len: CONTROLLER_MAX_LEN,
        },
        ("controller", Some(a)) => Action::Output {
            port: OFPP_CONTROLLER,
            max_len: num(token, a.trim_start_matches("max_len="), 16)?,
        },
        ("normal" | "flood" | "all" | "in_port" | "local", None) => {
            Action::output(parse_port(&lname, ports).map_err(|why| bad(token, why))?)
        }
        ("push_vlan", a) => {
            let tpid: u16 = num(token, need(token, a)?, 16)?;
            if tpid != ETH_TYPE_VLAN && tpid != ETH_TYPE_QINQ {
                return Err(bad(token, "TPID must be 0x8100 or 0x88a8"));
            }
            Action::PushVlan(tpid)
        }
        ("strip_vlan" | "pop_vlan", None) => Action::PopVlan,
        ("mod_vlan_vid", a) => {
            let vid: u16 = num(token, need(token, a)?, 12)?;
            Action::SetField(Field::VlanVid, u128::from(VLAN_PRESENT | vid))
        }
        ("mod_vlan_pcp", a) => Action::SetField(Field::VlanPcp, num(token, need(token, a)?, 3)?),
        ("mod_dl_src", a) => set_field(token, Field::EthSrc, need(token, a)?, ports)?,
        ("mod_dl_dst", a) => set_field(token, Field::EthDst, need(token, a)?, ports)?,
        ("mod_nw_src", a) => set_field(token, Field::Ipv4Src, need(token, a)?, ports)?,
        ("mod_nw_dst", a) => set_field(token, Field::Ipv4Dst, need(token, a)?, ports)?,
        ("mod_nw_tos", a) => {
            let tos: u8 = num(token, need(token, a)?, 8)?;
            if tos & 3 != 0 {
                return Err(bad(token, "TOS must be a multiple of 4"));
            }
            Action::SetField(Field::IpDscp, (tos >> 2).into())
        }
        ("mod_tp_src" | "mod_tp_dst", a) => {
            let f = ctx
                .tp_field(lname == "mod_tp_src")
                .filter(|f| !matches!(f, Field::Icmpv4Type | Field::Icmpv4Code))
                .filter(|f| !matches!(f, Field::Icmpv6Type | Field::Icmpv6Code))
                .ok_or_else(|| bad(token, "the flow must match tcp, udp or sctp"))?;
            set_field(token, f, need(token, a)?, ports)?
        }
        ("set_field", a) => {
            let (v, fname) = need(token, a)?
                .split_once("->")
                .ok_or_else(|| bad(token, "expected set_field:VALUE->FIELD"))?;
            let f = match fname {
                "tp_src" | "tp_dst" => ctx.tp_field(fname == "tp_src"),
                _ => field_by_name(fname),
            }
            .ok_or_else(|| bad(token, format!("unknown field '{fname}'")))?;
            set_field(token, f, v, ports)?
        }
        ("dec_ttl", None) => Action::DecTtl,
        ("push_mpls", a) => {
            let et: u16 = num(token, need(token, a)?, 16)?;
            if !is_mpls(et) {
                return Err(bad(token, "ethertype must be 0x8847 or 0x8848"));
            }
            Action::PushMpls(et)
        }
        ("pop_mpls", a) => Action::PopMpls(num(token, need(token, a)?, 16)?),
        ("set_mpls_ttl", a) => Action::SetField(Field::MplsTtl, num(token, need(token, a)?, 8)?),
        ("dec_mpls_ttl", None) => Action::DecMplsTtl,
        ("copy_ttl_in", None) => Action::CopyTtlIn,
        ("copy_ttl_out", None) => Action::CopyTtlOut,
        ("group", a) => Action::Group(num(token, need(token, a)?, 32)?),
        ("set_queue", a) => Action::SetQueue(num(token, need(token, a)?, 32)?),
        (_, None) if token.starts_with(|c: char| c.is_ascii_digit()) => {
            Action::output(num(token, token, 32)?)
        }
        (_, None) => match ports(token) {
            Some(p) => Action::output(p),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    Ok(Some(a))
}

/// Parse a list of plain actions (inside `write_actions(...)` or `apply_actions(...)`).
fn parse_list(s: &str, ctx: &Ctx, ports: PortLookup<'_>) -> Result<Vec<Action>, TextError> {
    let mut out = Vec::new();
    for t in split_top(s)? {
        match parse_action(t, ctx, ports)? {
            Some(a) => out.push(a),
            None => return Err(TextError::UnknownAction(t.to_string())),
        }
    }
    Ok(out)
}

/// The argument of `name(...)`, if `token` has that form.
fn paren_arg<'a>(token: &'a str, name: &str) -> Option<&'a str> {
    token
        .strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn set_goto(
    ins: &mut Instructions,
    token: &str,
    to: u8,
    table: Option<u8>,
) -> Result<(), TextError> {
    if ins.goto.is_some() {
        return Err(bad(token, "only one goto_table/resubmit per flow"));
    }
    let from = table.unwrap_or(0);
    if to <= from {
        return Err(bad(token, format!("must go to a table after {from}")));
    }
    ins.goto = Some(to);
    Ok(())
}

/// Parse the text after `actions=` for a flow with match `m` in `table`.
pub(crate) fn parse_actions(
    s: &str,
    m: &Match,
    table: Option<u8>,
    ports: PortLookup<'_>,
) -> Result<Instructions, TextError> {
    let ctx = Ctx::of_match(m);
    let mut ins = Instructions::default();
    let list = split_top(s)?;
    for &t in &list {
        let lower = t.to_ascii_lowercase();
        if lower == "drop" {
            if list.len() > 1 {
                return Err(bad(t, "drop must be the only action"));
            }
        } else if let Some(inner) = paren_arg(t, "write_actions") {
            let acts = parse_list(inner, &ctx, ports)?;
            ins.write.extend(acts);
        } else if let Some(inner) = paren_arg(t, "apply_actions") {
            let acts = parse_list(inner, &ctx, ports)?;
            ins.apply.extend(acts);
        } else if lower == "clear_actions" {
            ins.clear = true;
        } else if let Some(inner) = paren_arg(t, "resubmit") {
            let (port, tbl) = inner.split_once(',').unwrap_or((inner, ""));
            if !port.trim().is_empty() || tbl.trim().is_empty() {
                return Err(bad(t, "only resubmit(,TABLE) is supported"));
            }
            let to: u8 = num(t, tbl.trim(), 8)?;
            set_goto(&mut ins, t, to, table)?;
        } else if let Some(v) = t.strip_prefix("goto_table:") {
            let to: u8 = num(t, v, 8)?;
            set_goto(&mut ins, t, to, table)?;
        } else if let Some(v) = t.strip_prefix("meter:") {
            if ins.meter.is_some() {
                return Err(bad(t, "only one meter per flow"));
            }
            ins.meter = Some(num(t, v, 32)?);
        } else if let Some(v) = t.strip_prefix("write_metadata:") {
            let (v, mask) = match v.split_once('/') {
                Some((v, mk)) => (num::<u64>(t, v, 64)?, num::<u64>(t, mk, 64)?),
                None => (num::<u64>(t, v, 64)?, u64::MAX),
            };
            if v & !mask != 0 {
                return Err(bad(t, "value has bits outside the mask"));
            }
            ins.write_metadata = Some((v, mask));
        } else {
            match parse_action(t, &ctx, ports)? {
                Some(a) => ins.apply.push(a),
                None => return Err(TextError::UnknownAction(t.to_string())),
            }
        }
    }
    Ok(ins)
}
