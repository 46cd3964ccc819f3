//! The path from the PMDs to the OpenFlow controllers: packets sent to CONTROLLER.
//!
//! A PMD must never block on a controller, so executing a `controller` action copies the packet
//! (truncated to the action's max_len) into a [`PacketInMsg`] and offers it to a bounded queue
//! per bridge; when the queue is full the packet is dropped and counted
//! (`controller_queue_full`), which is also the switch's protection against a flood of misses
//! swamping its control plane. The bridge's OpenFlow hub drains the queue on its own thread and
//! turns each message into a PACKET_IN for every connection that wants it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;

/// Packets a bridge's controller queue holds before PMDs start dropping.
pub const PACKET_IN_QUEUE: usize = 1024;

/// OFPCML_NO_BUFFER: send the whole packet.
pub const NO_BUFFER_LEN: u16 = 0xffff;

/// One packet on its way to the controllers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketInMsg {
    /// OpenFlow port it came in on (OFPP_CONTROLLER for a PACKET_OUT).
    pub in_port: u32,
    /// OFPR_NO_MATCH (0) or OFPR_ACTION (1).
    pub reason: u8,
    /// Table of the rule that sent it.
    pub table: u8,
    /// Cookie of that rule.
    pub cookie: u64,
    /// Pipeline metadata at that point.
    pub metadata: u64,
    /// Tunnel id at that point (0: none).
    pub tunnel_id: u64,
    /// Length of the whole frame.
    pub total_len: usize,
    /// The action's max_len (the per-connection miss_send_len may truncate further).
    pub max_len: u16,
    /// The frame, truncated to `max_len`.
    pub data: Vec<u8>,
}

/// A bounded queue of packet-ins.
pub struct PacketInQueue {
    tx: SyncSender<PacketInMsg>,
    rx: Mutex<Option<Receiver<PacketInMsg>>>,
    /// Messages accepted.
    pub queued: AtomicU64,
    /// Messages refused because the queue was full.
    pub dropped: AtomicU64,
}

impl Default for PacketInQueue {
    fn default() -> Self {
        PacketInQueue::new(PACKET_IN_QUEUE)
    }
}

impl PacketInQueue {
    /// A queue of `cap` messages.
    pub fn new(cap: usize) -> PacketInQueue {
        let (tx, rx) = sync_channel(cap);
        PacketInQueue {
            tx,
            rx: Mutex::new(Some(rx)),
            queued: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Offer a message without blocking; false when the queue is full.
    pub fn push(&self, msg: PacketInMsg) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// The receiving end (once; the hub's packet-in thread owns it).
    pub fn take_receiver(&self) -> Option<Receiver<PacketInMsg>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
