//! GROUP_MOD and the group multipart replies (group stats, group description, group features).
//!
//! STUB: refuses everything until the group work (issue 4) lands.

use super::hub::Hub;
use openflow::error::{BadRequestCode, ErrorCode, GroupModFailedCode};
use openflow::multipart::MultipartReplyBody;
use openflow::{GroupMod, GroupModCommand};

/// Apply a GROUP_MOD to the hub's bridge.
pub(super) fn group_mod(_hub: &Hub, g: &GroupMod) -> Result<(), ErrorCode> {
    let code = match g.command {
        GroupModCommand::Add => GroupModFailedCode::OutOfGroups,
        _ => GroupModFailedCode::UnknownGroup,
    };
    Err(ErrorCode::GroupModFailed(code))
}

/// OFPMP_GROUP for `group_id` (OFPG_ALL = every group).
pub(super) fn group_stats(_hub: &Hub, _group_id: u32) -> Result<MultipartReplyBody, ErrorCode> {
    Err(ErrorCode::BadRequest(BadRequestCode::BadMultipart))
}

/// OFPMP_GROUP_DESC.
pub(super) fn group_desc(_hub: &Hub) -> Result<MultipartReplyBody, ErrorCode> {
    Err(ErrorCode::BadRequest(BadRequestCode::BadMultipart))
}

/// OFPMP_GROUP_FEATURES.
pub(super) fn group_features(_hub: &Hub) -> Result<MultipartReplyBody, ErrorCode> {
    Err(ErrorCode::BadRequest(BadRequestCode::BadMultipart))
}
