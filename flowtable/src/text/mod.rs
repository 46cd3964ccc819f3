//! `ovs-ofctl` flow syntax: parsing `add-flow`/`del-flows` strings into flow-mods and printing
//! rules the way `dump-flows` does.
//!
//! Operators already know this syntax, and the end-to-end tests drive real `ovs-ofctl`, so the
//! text form must be the same in both directions: a dumped flow can be fed back to `add-flow`
//! (statistics such as `n_packets` are ignored on input, as ovs-ofctl does) and yields the same
//! rule, with the match fields in the order they were written. Parsing is split into values
//! (`value`), matches (`parse`) and actions (`actions`); printing lives in `format`.
//! Errors name the offending token and say what is wrong with it; prerequisite errors come from
//! [`Match::validate`] so the text and OpenFlow paths report them identically.

mod actions;
mod format;
mod parse;
#[cfg(test)]
mod tests;
mod value;

pub use format::{
    format_actions, format_actions_named, format_flow, format_match, format_match_named,
    format_megaflow,
};
pub use parse::{parse_flow, parse_match};
pub use value::format_port;

use crate::action::Instructions;
use crate::matches::{Match, MatchError};
use crate::pipeline::{FlowEntry, FlowFilter, RuleStats, DEFAULT_PRIORITY};
use std::sync::Arc;
use thiserror::Error;

/// Resolves a port name to its number (`None` = unknown name).
pub type PortLookup<'a> = &'a dyn Fn(&str) -> Option<u32>;
/// Names a port number (`None` = print the number).
pub type PortNames<'a> = &'a dyn Fn(u32) -> Option<String>;

/// Why a flow string could not be parsed.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum TextError {
    /// A `name=value` or keyword is not a known field or flow-mod parameter.
    #[error("unknown field '{0}'")]
    UnknownField(String),
    /// A field or parameter value is malformed.
    #[error("{token}: {why}")]
    BadValue {
        /// The whole `name=value` token.
        token: String,
        /// What is wrong.
        why: String,
    },
    /// An action name is not known.
    #[error("unknown action '{0}'")]
    UnknownAction(String),
    /// An action's argument is malformed, or the action is misplaced.
    #[error("{token}: {why}")]
    BadAction {
        /// The action as written.
        token: String,
        /// What is wrong.
        why: String,
    },
    /// The match is invalid (duplicate field, missing prerequisite).
    #[error("{0}")]
    BadMatch(#[from] MatchError),
    /// `add-flow` needs `actions=`.
    #[error("must specify actions (e.g. actions=drop)")]
    MissingActions,
    /// Parentheses do not balance.
    #[error("unbalanced parentheses in '{0}'")]
    Unbalanced(String),
}

/// A parsed flow string: enough to build a rule (add) or a filter (modify/delete).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowMod {
    /// `table=`; `None` when not given (add defaults to 0, delete means all tables).
    pub table: Option<u8>,
    /// `priority=` (default 32768).
    pub priority: u16,
    /// `cookie=` value.
    pub cookie: u64,
    /// Mask from `cookie=V/M` (0 when no mask was given).
    pub cookie_mask: u64,
    /// `idle_timeout=` seconds.
    pub idle_timeout: u16,
    /// `hard_timeout=` seconds.
    pub hard_timeout: u16,
    /// `OFPFF_*` flags from `send_flow_rem`, `check_overlap`, `reset_counts`,
    /// `no_packet_counts`, `no_byte_counts`.
    pub flags: u16,
    /// The match, fields in written order.
    pub m: Match,
    /// The instructions from `actions=`.
    pub instructions: Instructions,
    /// True when `actions=` was present.
    pub has_actions: bool,
    /// `out_port=` filter (delete/modify).
    pub out_port: Option<u32>,
    /// `out_group=` filter (delete/modify).
    pub out_group: Option<u32>,
}

impl Default for FlowMod {
    fn default() -> Self {
        FlowMod {
            table: None,
            priority: DEFAULT_PRIORITY,
            cookie: 0,
            cookie_mask: 0,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            m: Match::new(),
            instructions: Instructions::default(),
            has_actions: false,
            out_port: None,
            out_group: None,
        }
    }
}

impl FlowMod {
    /// The rule an `add-flow` of this string installs (table 0 when none was given).
    pub fn into_entry(self, now_ns: u64) -> FlowEntry {
        FlowEntry {
            table: self.table.unwrap_or(0),
            priority: self.priority,
            cookie: self.cookie,
            idle_timeout: self.idle_timeout,
            hard_timeout: self.hard_timeout,
            flags: self.flags,
            m: self.m,
            instructions: self.instructions,
            stats: Arc::new(RuleStats::new(self.flags)),
            created_ns: now_ns,
            wire_match: None,
        }
    }

    /// The filter a `del-flows`/`mod-flows` (strict or not) of this string applies.
    pub fn to_filter(&self, _strict: bool) -> FlowFilter {
        FlowFilter {
            table: self.table,
            m: self.m.clone(),
            priority: self.priority,
            cookie: self.cookie,
            cookie_mask: self.cookie_mask,
            out_port: self.out_port,
            out_group: self.out_group,
        }
    }
}
