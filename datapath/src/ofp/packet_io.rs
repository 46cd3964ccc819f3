//! PACKET_OUT (control plane -> data plane) and PACKET_IN delivery (data plane -> controllers).
//!
//! STUB: PACKET_OUT is refused until the packet I/O work (issue 4) lands.

use super::hub::Hub;
use openflow::error::{BadRequestCode, ErrorCode};
use openflow::PacketOut;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Start the thread that turns the bridge's queued packet-ins into PACKET_IN messages; it ends
/// when `stop` is set.
pub(super) fn spawn_packet_in(
    hub: Arc<Hub>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("ofp-pin-{}", hub.bridge.name))
        .spawn(move || {
            let Some(rx) = hub.bridge.packet_in.take_receiver() else {
                return;
            };
            while !stop.load(Ordering::Relaxed) {
                // STUB: delivered to nobody yet.
                let _ = rx.recv_timeout(Duration::from_millis(50));
            }
        })
}

/// Execute a PACKET_OUT on the hub's bridge.
pub(super) fn packet_out(_hub: &Hub, _po: &PacketOut) -> Result<(), ErrorCode> {
    Err(ErrorCode::BadRequest(BadRequestCode::BadType))
}
