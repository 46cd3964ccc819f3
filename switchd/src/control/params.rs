//! The parameters of each control method, as typed structs.
//!
//! Each struct lists the keys its method takes and reads them with a type through
//! `switchd_api::rpc::decode`, so an unknown key (a typo), a value of the wrong type or one out of
//! range is refused as `INVALID_PARAMS` naming the key, before the method does anything. Rules
//! about how keys go together (a `flow/del` needs a match or an explicit `"all": true`) are
//! checked here too, so the handlers only ever see a request that means one thing.

use super::flows::{FlowCursor, FLOW_DUMP_MAX};
use switchd_api::rpc::{FromParams, Params, RpcError};

/// `mac/show`, `mac/flush`: one bridge.
pub(super) struct BridgeOnly {
    /// Bridge name.
    pub bridge: String,
}

impl FromParams for BridgeOnly {
    const KEYS: &'static [&'static str] = &["bridge"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        Ok(BridgeOnly {
            bridge: p.required("bridge")?,
        })
    }
}

/// `port/stats`, `port/drops`: every bridge's ports, or one bridge's.
pub(super) struct PortStats {
    /// Only this bridge.
    pub bridge: Option<String>,
}

impl FromParams for PortStats {
    const KEYS: &'static [&'static str] = &["bridge"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        Ok(PortStats {
            bridge: p.optional("bridge")?,
        })
    }
}

/// `pmd/megaflows`: the PMDs' current megaflows.
pub(super) struct Megaflows {
    /// Most megaflows per PMD (default 1000).
    pub limit: Option<usize>,
}

impl FromParams for Megaflows {
    const KEYS: &'static [&'static str] = &["limit"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        Ok(Megaflows {
            limit: p.optional("limit")?,
        })
    }
}

/// `pmd/rxq-assign`: move one receive queue to a PMD.
pub(super) struct RxqAssign {
    /// Port name.
    pub port: String,
    /// Queue number.
    pub queue: u16,
    /// PMD id.
    pub pmd: usize,
}

impl FromParams for RxqAssign {
    const KEYS: &'static [&'static str] = &["port", "queue", "pmd"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        Ok(RxqAssign {
            port: p.required("port")?,
            queue: p.required("queue")?,
            pmd: p.required("pmd")?,
        })
    }
}

/// `flow/dump`: one page of a bridge's flows.
pub(super) struct FlowDump {
    /// Bridge name.
    pub bridge: String,
    /// Only this table.
    pub table: Option<u8>,
    /// Most flows to return (1 to [`FLOW_DUMP_MAX`], which is the default).
    pub limit: usize,
    /// Continue after this position (the previous page's `next`).
    pub after: Option<FlowCursor>,
}

impl FromParams for FlowDump {
    const KEYS: &'static [&'static str] = &["bridge", "table", "limit", "after"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        Ok(FlowDump {
            bridge: p.required("bridge")?,
            table: p.optional("table")?,
            limit: p
                .optional_in("limit", 1..=FLOW_DUMP_MAX)?
                .unwrap_or(FLOW_DUMP_MAX),
            after: p.optional("after")?,
        })
    }
}

/// `flow/add`: one flow (`flow`) or a batch (`flows`), all or nothing.
pub(super) struct FlowAdd {
    /// Bridge name.
    pub bridge: String,
    /// The flows, in ovs-ofctl syntax.
    pub flows: Vec<String>,
}

impl FromParams for FlowAdd {
    const KEYS: &'static [&'static str] = &["bridge", "flow", "flows"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        let bridge = p.required("bridge")?;
        let flows = match (p.optional::<String>("flow")?, p.optional("flows")?) {
            (Some(one), None) => vec![one],
            (None, Some(many)) => many,
            (Some(_), Some(_)) => {
                return Err(RpcError::invalid_params(
                    "give \"flow\" or \"flows\", not both",
                ))
            }
            (None, None) => return Err(RpcError::invalid_params("missing \"flow\" or \"flows\"")),
        };
        Ok(FlowAdd { bridge, flows })
    }
}

/// `flow/mod`: replace the actions of the flows a flow's match selects.
pub(super) struct FlowMod {
    /// Bridge name.
    pub bridge: String,
    /// Match and new actions, in ovs-ofctl syntax.
    pub flow: String,
    /// Match priority and fields exactly.
    pub strict: bool,
}

impl FromParams for FlowMod {
    const KEYS: &'static [&'static str] = &["bridge", "flow", "strict"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        Ok(FlowMod {
            bridge: p.required("bridge")?,
            flow: p.required("flow")?,
            strict: p.flag("strict")?,
        })
    }
}

/// Which flows a `flow/del` deletes.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum DelTarget {
    /// The flows `text` selects (ovs-ofctl match syntax, never blank).
    Matching {
        /// The match.
        text: String,
        /// Match priority and fields exactly.
        strict: bool,
    },
    /// Every flow of the bridge: only ever from an explicit `"all": true`.
    All,
}

/// `flow/del`: delete the flows a match selects, or all of them with `"all": true`.
pub(super) struct FlowDel {
    /// Bridge name.
    pub bridge: String,
    /// What to delete.
    pub target: DelTarget,
}

impl FromParams for FlowDel {
    const KEYS: &'static [&'static str] = &["bridge", "match", "strict", "all"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        let bridge = p.required("bridge")?;
        let text: Option<String> = p.optional("match")?;
        let strict = p.flag("strict")?;
        let all = p.flag("all")?;
        let blank = text.as_deref().is_none_or(|t| t.trim().is_empty());
        let target =
            match (text, all) {
                (None, true) if !strict => DelTarget::All,
                (None, true) => {
                    return Err(RpcError::invalid_params(
                        "\"all\": true deletes every flow and takes no \"strict\"",
                    ))
                }
                (Some(_), true) => {
                    return Err(RpcError::invalid_params(
                        "\"all\": true deletes every flow and takes no \"match\"",
                    ))
                }
                (Some(text), false) if !blank => DelTarget::Matching { text, strict },
                _ => return Err(RpcError::invalid_params(
                    "flow/del needs a non-empty \"match\"; to delete every flow pass \"all\": true",
                )),
            };
        Ok(FlowDel { bridge, target })
    }
}

/// `trace`: how a bridge would handle a packet.
pub(super) struct Trace {
    /// Bridge name.
    pub bridge: String,
    /// The packet, as a flow match with `in_port`.
    pub flow: String,
}

impl FromParams for Trace {
    const KEYS: &'static [&'static str] = &["bridge", "flow"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        Ok(Trace {
            bridge: p.required("bridge")?,
            flow: p.required("flow")?,
        })
    }
}

/// `switch/reload`: re-read the configuration file.
pub(super) struct Reload {
    /// Only say what would change.
    pub dry_run: bool,
}

impl FromParams for Reload {
    const KEYS: &'static [&'static str] = &["dry_run"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        Ok(Reload {
            dry_run: p.flag("dry_run")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use switchd_api::rpc::{decode, INVALID_PARAMS};

    fn del(v: Value) -> Result<DelTarget, String> {
        decode::<FlowDel>(v).map(|d| d.target).map_err(|e| {
            assert_eq!(e.code, INVALID_PARAMS);
            e.message
        })
    }

    #[test]
    fn flow_del_deletes_everything_only_when_told_to() {
        assert_eq!(
            del(json!({"bridge": "b", "match": "tcp", "strict": true})),
            Ok(DelTarget::Matching {
                text: "tcp".into(),
                strict: true
            })
        );
        assert_eq!(del(json!({"bridge": "b", "all": true})), Ok(DelTarget::All));
        let needs = "flow/del needs a non-empty \"match\"; to delete every flow pass \"all\": true";
        for v in [
            json!({"bridge": "b"}),
            json!({"bridge": "b", "match": ""}),
            json!({"bridge": "b", "match": "  ", "strict": true}),
            json!({"bridge": "b", "all": false}),
            json!({"bridge": "b", "match": null}),
        ] {
            assert_eq!(del(v).unwrap_err(), needs);
        }
        assert!(del(json!({"bridge": "b", "match": "tcp", "all": true}))
            .unwrap_err()
            .contains("takes no \"match\""));
        assert!(del(json!({"bridge": "b", "match": "", "all": true}))
            .unwrap_err()
            .contains("takes no \"match\""));
        assert!(del(json!({"bridge": "b", "strict": true, "all": true}))
            .unwrap_err()
            .contains("takes no \"strict\""));
        assert!(del(json!({"bridge": "b", "all": "yes"}))
            .unwrap_err()
            .starts_with("\"all\": invalid type"));
    }

    #[test]
    fn flow_add_takes_one_flow_or_a_list() {
        let add = |v| decode::<FlowAdd>(v).map(|a| a.flows).map_err(|e| e.message);
        assert_eq!(
            add(json!({"bridge": "b", "flow": "actions=drop"})),
            Ok(vec!["actions=drop".to_string()])
        );
        assert_eq!(
            add(json!({"bridge": "b", "flows": []})),
            Ok(Vec::<String>::new())
        );
        assert_eq!(
            add(json!({"bridge": "b", "flow": "x", "flows": ["y"]})),
            Err("give \"flow\" or \"flows\", not both".into())
        );
        assert_eq!(
            add(json!({"bridge": "b"})),
            Err("missing \"flow\" or \"flows\"".into())
        );
        assert!(add(json!({"bridge": "b", "flows": [1]}))
            .unwrap_err()
            .starts_with("\"flows\": invalid type: integer `1`"));
    }

    #[test]
    fn flow_dump_limit_defaults_to_the_maximum() {
        let d = decode::<FlowDump>(json!({"bridge": "b"})).unwrap();
        assert_eq!((d.limit, d.table, d.after), (FLOW_DUMP_MAX, None, None));
        let e = decode::<FlowDump>(json!({"bridge": "b", "limit": FLOW_DUMP_MAX + 1}))
            .err()
            .unwrap();
        assert_eq!(
            e.message,
            format!("\"limit\": 10001 is out of range 1..={FLOW_DUMP_MAX}")
        );
    }
}
