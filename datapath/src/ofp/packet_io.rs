//! PACKET_OUT (control plane -> data plane) and PACKET_IN delivery (data plane -> controllers).
//!
//! STUB: PACKET_OUT is refused until the packet I/O work (issue 4) lands.

use super::hub::Hub;
use openflow::error::{BadRequestCode, ErrorCode};
use openflow::PacketOut;

/// Execute a PACKET_OUT on the hub's bridge.
pub(super) fn packet_out(_hub: &Hub, _po: &PacketOut) -> Result<(), ErrorCode> {
    Err(ErrorCode::BadRequest(BadRequestCode::BadType))
}
