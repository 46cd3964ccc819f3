//! METER_MOD and the meter multipart replies (meter stats, meter config, meter features).
//!
//! Every METER_MOD is one publish of the bridge view ([`datapath::bridge::Bridge::edit_view`]): the
//! meter table is copied, edited and swapped in, so PMDs never see a half-applied change and the
//! epoch bump makes them re-translate cached decisions (a modified meter is picked up at the next
//! batch). Deleting a meter also deletes, in the same publish, every flow whose meter instruction
//! names it (OpenFlow 1.3 section 5.7); those flows get FLOW_REMOVED (reason DELETE, as 1.3 has no
//! meter-delete reason) when they asked for it.
//!
//! Errors: add of an existing id is METER_EXISTS; modify or delete of a missing id is
//! UNKNOWN_METER; id 0, or above OFPM_MAX (the virtual slowpath/controller meters are not
//! implemented), is INVALID_METER, except OFPM_ALL for delete; both KBPS and PKTPS is BAD_FLAGS
//! (neither means kb/s, as in Open vSwitch); a zero rate is BAD_RATE; an experimenter band is
//! BAD_BAND; more than [`MAX_BANDS`] bands is OUT_OF_BANDS; more than [`MAX_METERS`] meters is
//! OUT_OF_METERS.
//!
//! Meter stats and meter config for OFPM_ALL list every meter by id; for a single id that does
//! not exist they return an empty list (what Open vSwitch does) rather than an error, so a
//! poller racing a delete sees "no such meter" without an ERROR in its log.

use super::hub::Hub;
use datapath::cycles::monotonic_ns;
use datapath::meter::{ConfigError, Meter, MAX_BANDS};
use openflow::error::{ErrorCode, MeterModFailedCode};
use openflow::meter::{
    OFPMBT_DROP, OFPMBT_DSCP_REMARK, OFPMF_BURST, OFPMF_KBPS, OFPMF_PKTPS, OFPMF_STATS, OFPM_ALL,
    OFPM_MAX,
};
use openflow::multipart::stats::{MeterConfig, MeterFeatures, MeterStats};
use openflow::multipart::MultipartReplyBody;
use openflow::{MeterMod, MeterModCommand};
use std::collections::HashMap;
use std::sync::Arc;

/// Most meters a bridge may hold (advertised as `max_meter`).
pub const MAX_METERS: usize = 65_536;

fn failed(code: MeterModFailedCode) -> ErrorCode {
    ErrorCode::MeterModFailed(code)
}

fn config_error(e: ConfigError) -> ErrorCode {
    failed(match e {
        ConfigError::BadFlags => MeterModFailedCode::BadFlags,
        ConfigError::BadRate => MeterModFailedCode::BadRate,
        ConfigError::BadBand => MeterModFailedCode::BadBand,
        ConfigError::OutOfBands => MeterModFailedCode::OutOfBands,
    })
}

/// Apply a METER_MOD to the hub's bridge.
pub(super) fn meter_mod(hub: &Hub, m: &MeterMod) -> Result<(), ErrorCode> {
    use MeterModFailedCode as C;
    let id = m.meter_id;
    match m.command {
        MeterModCommand::Add | MeterModCommand::Modify => {
            if id == 0 || id > OFPM_MAX {
                return Err(failed(C::InvalidMeter));
            }
            let now = monotonic_ns();
            hub.bridge.edit_view(|v| {
                let mut table = (*v.meters).clone();
                let meter = match (m.command, table.get(id)) {
                    (MeterModCommand::Add, Some(_)) => return Err(failed(C::MeterExists)),
                    (MeterModCommand::Add, None) if table.len() >= MAX_METERS => {
                        return Err(failed(C::OutOfMeters))
                    }
                    (MeterModCommand::Add, None) => Meter::new(id, m.flags, m.bands.clone(), now),
                    (_, None) => return Err(failed(C::UnknownMeter)),
                    (_, Some(old)) => Meter::replacing(old, m.flags, m.bands.clone(), now),
                }
                .map_err(config_error)?;
                table.insert(Arc::new(meter));
                v.meters = Arc::new(table);
                Ok(())
            })
        }
        MeterModCommand::Delete => {
            if id == 0 || (id > OFPM_MAX && id != OFPM_ALL) {
                return Err(failed(C::InvalidMeter));
            }
            let removed = hub.bridge.edit_view(|v| {
                let mut table = (*v.meters).clone();
                if id == OFPM_ALL {
                    table.clear();
                } else if table.remove(id).is_none() {
                    return Err(failed(C::UnknownMeter));
                }
                let mut pipeline = (*v.pipeline).clone();
                let removed = pipeline.delete_where(|e| match e.instructions.meter {
                    Some(used) => id == OFPM_ALL || used == id,
                    None => false,
                });
                v.pipeline = Arc::new(pipeline);
                v.meters = Arc::new(table);
                Ok(removed)
            })?;
            hub.flows_deleted(removed);
            Ok(())
        }
    }
}

/// The meters a multipart request names: every one (by id) for OFPM_ALL, else the one with
/// that id if it exists.
fn selected(meters: &datapath::meter::MeterTable, meter_id: u32) -> Vec<Arc<Meter>> {
    if meter_id == OFPM_ALL {
        meters.sorted().into_iter().cloned().collect()
    } else {
        meters.get(meter_id).cloned().into_iter().collect()
    }
}

/// OFPMP_METER for `meter_id` (OFPM_ALL = every meter).
pub(super) fn meter_stats(hub: &Hub, meter_id: u32) -> Result<MultipartReplyBody, ErrorCode> {
    let view = hub.bridge.view();
    let meters = selected(&view.meters, meter_id);
    let mut flows: HashMap<u32, u32> = HashMap::new();
    if !meters.is_empty() {
        for e in view.pipeline.flows(None) {
            if let Some(m) = e.instructions.meter {
                *flows.entry(m).or_default() += 1;
            }
        }
    }
    let now = monotonic_ns();
    let out = meters
        .iter()
        .map(|m| {
            let c = m.counters();
            let age = super::duration(m.created_ns(), now);
            MeterStats {
                meter_id: m.id,
                flow_count: flows.get(&m.id).copied().unwrap_or(0),
                packet_in_count: c.packets_in,
                byte_in_count: c.bytes_in,
                duration_sec: age.0,
                duration_nsec: age.1,
                band_stats: c.bands,
            }
        })
        .collect();
    Ok(MultipartReplyBody::Meter(out))
}

/// OFPMP_METER_CONFIG for `meter_id` (OFPM_ALL = every meter).
pub(super) fn meter_config(hub: &Hub, meter_id: u32) -> Result<MultipartReplyBody, ErrorCode> {
    let view = hub.bridge.view();
    let out = selected(&view.meters, meter_id)
        .iter()
        .map(|m| MeterConfig {
            flags: m.flags(),
            meter_id: m.id,
            bands: m.bands().to_vec(),
        })
        .collect();
    Ok(MultipartReplyBody::MeterConfig(out))
}

/// OFPMP_METER_FEATURES.
pub(super) fn meter_features(_hub: &Hub) -> Result<MultipartReplyBody, ErrorCode> {
    Ok(MultipartReplyBody::MeterFeatures(MeterFeatures {
        max_meter: MAX_METERS as u32,
        band_types: (1 << OFPMBT_DROP) | (1 << OFPMBT_DSCP_REMARK),
        capabilities: u32::from(OFPMF_KBPS | OFPMF_PKTPS | OFPMF_BURST | OFPMF_STATS),
        max_bands: MAX_BANDS as u8,
        max_color: 0,
    }))
}
