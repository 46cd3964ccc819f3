//! METER_MOD and the meter multipart replies (meter stats, meter config, meter features).
//!
//! STUB: refuses everything until the meter work (issue 4) lands.

use super::hub::Hub;
use openflow::error::{BadRequestCode, ErrorCode, MeterModFailedCode};
use openflow::multipart::MultipartReplyBody;
use openflow::{MeterMod, MeterModCommand};

/// Apply a METER_MOD to the hub's bridge.
pub(super) fn meter_mod(_hub: &Hub, m: &MeterMod) -> Result<(), ErrorCode> {
    let code = match m.command {
        MeterModCommand::Add => MeterModFailedCode::OutOfMeters,
        _ => MeterModFailedCode::UnknownMeter,
    };
    Err(ErrorCode::MeterModFailed(code))
}

/// OFPMP_METER for `meter_id` (OFPM_ALL = every meter).
pub(super) fn meter_stats(_hub: &Hub, _meter_id: u32) -> Result<MultipartReplyBody, ErrorCode> {
    Err(ErrorCode::BadRequest(BadRequestCode::BadMultipart))
}

/// OFPMP_METER_CONFIG for `meter_id` (OFPM_ALL = every meter).
pub(super) fn meter_config(_hub: &Hub, _meter_id: u32) -> Result<MultipartReplyBody, ErrorCode> {
    Err(ErrorCode::BadRequest(BadRequestCode::BadMultipart))
}

/// OFPMP_METER_FEATURES.
pub(super) fn meter_features(_hub: &Hub) -> Result<MultipartReplyBody, ErrorCode> {
    Err(ErrorCode::BadRequest(BadRequestCode::BadMultipart))
}
