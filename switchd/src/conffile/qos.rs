//! A port's `qos` table: the egress shaper, in the units of OVS's `egress-policer` (bytes and
//! bytes per second).
//!
//! ```toml
//! qos = { type = "dvs-shaper", cir = 5000000, cbs = 100000, pir = 10000000, pbs = 20000,
//!         queue_packets = 1000, queues = { "0" = { priority = 0 }, "1" = { priority = 3 } } }
//! ```
//!
//! `type` and `cir` are required; `cbs` (0 or absent: 10 ms of `cir`), `pir` (absent: no peak
//! bucket), `pbs` (absent: one jumbo frame), `queue_packets` and `queues` (queue id 0..7 ->
//! `priority` 0..7; queue 0 exists anyway) are optional. The engine validates the ranges
//! (`ShaperConfig::validate`, shared with the database front end); errors point at the `qos`
//! value.

use super::build::{in_range, Src};
use datapath::config::{ConfigError, ShaperConfig, DEFAULT_QUEUE_PACKETS};
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The one QoS type the switch has.
pub const SHAPER_TYPE: &str = "dvs-shaper";

/// `qos = { ... }` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQos {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    cir: Option<Spanned<i64>>,
    cbs: Option<Spanned<i64>>,
    pir: Option<Spanned<i64>>,
    pbs: Option<Spanned<i64>>,
    queue_packets: Option<Spanned<i64>>,
    #[serde(default)]
    queues: BTreeMap<String, RawQueue>,
}

/// One `queues` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    priority: Option<Spanned<i64>>,
}

/// Validate a port's `qos` (at `field`, e.g. `bridge[0].port[1].qos`).
pub(super) fn build_qos(
    src: &Src,
    raw: &Spanned<RawQos>,
    field: &str,
) -> Result<ShaperConfig, ConfigError> {
    let q = raw.get_ref();
    let f = |k: &str| format!("{field}.{k}");
    if q.kind.get_ref() != SHAPER_TYPE {
        return Err(src.err(
            q.kind.span(),
            &f("type"),
            format!(
                "QoS type \"{}\" is not supported (the switch has \"{SHAPER_TYPE}\")",
                q.kind.get_ref()
            ),
        ));
    }
    let num = |v: &Option<Spanned<i64>>, key: &str| -> Result<u64, ConfigError> {
        match v {
            None => Ok(0),
            Some(v) => Ok(in_range(src, v, &f(key), key, 0, i64::MAX)? as u64),
        }
    };
    let cir = match &q.cir {
        Some(v) => num(&Some(v.clone()), "cir")?,
        None => return Err(src.err(raw.span(), field, "qos needs cir (bytes per second)")),
    };
    let mut cfg = ShaperConfig::new(cir);
    cfg.cbs_bytes = num(&q.cbs, "cbs")?;
    cfg.pir_bytes_per_s = num(&q.pir, "pir")?;
    cfg.pbs_bytes = num(&q.pbs, "pbs")?;
    cfg.queue_packets = match &q.queue_packets {
        None => DEFAULT_QUEUE_PACKETS,
        Some(v) => u32::try_from(num(&Some(v.clone()), "queue_packets")?).unwrap_or(u32::MAX),
    };
    for (id, queue) in &q.queues {
        let n: u32 = id.parse().map_err(|_| {
            src.err(
                raw.span(),
                &f("queues"),
                format!("queue id \"{id}\" is not a number 0..7"),
            )
        })?;
        let prio = match &queue.priority {
            None => 0,
            Some(v) => in_range(
                src,
                v,
                &f(&format!("queues.{id}.priority")),
                "priority",
                0,
                7,
            )?,
        };
        cfg.queues.insert(n, prio as u8);
    }
    cfg.validate().map_err(|e| src.err(raw.span(), field, e))?;
    Ok(cfg)
}
