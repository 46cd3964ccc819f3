//! Packets injected by the control plane (OpenFlow PACKET_OUT) into the data plane.
//!
//! Ports' transmit queues belong to PMD threads, so a control thread cannot transmit itself: it
//! translates the PACKET_OUT into a [`Decision`] (on its own thread, where locking the MAC table
//! is fine) and hands the frame and the decision to PMD 0 through this queue. PMD 0 drains it
//! between bursts and executes each decision exactly like one for a received packet. The sender
//! can wait for the PMD's acknowledgement, which is what lets a BARRIER after a PACKET_OUT mean
//! "the packet has been sent".

use crate::xlate::Decision;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;
use std::time::Duration;

/// Injected packets waiting for PMD 0.
pub const INJECT_QUEUE: usize = 256;

/// How long a sender waits for PMD 0 to execute its packet.
pub const INJECT_WAIT: Duration = Duration::from_secs(1);

/// One injected packet.
pub struct Inject {
    /// The frame.
    pub data: Vec<u8>,
    /// What to do with it.
    pub decision: Decision,
    /// Signalled once the decision was executed.
    pub done: Option<SyncSender<()>>,
}

/// Why an injection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectError {
    /// The queue is full (PMD 0 is not keeping up or not running).
    Full,
    /// PMD 0 did not execute the packet in time.
    Timeout,
}

/// The queue from control threads to PMD 0.
pub struct InjectQueue {
    tx: SyncSender<Inject>,
    rx: Mutex<Option<Receiver<Inject>>>,
}

impl Default for InjectQueue {
    fn default() -> Self {
        let (tx, rx) = sync_channel(INJECT_QUEUE);
        InjectQueue {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl InjectQueue {
    /// Queue `data` with `decision` and wait until PMD 0 has executed it.
    pub fn send_and_wait(&self, data: Vec<u8>, decision: Decision) -> Result<(), InjectError> {
        let (done_tx, done_rx) = sync_channel(1);
        let msg = Inject {
            data,
            decision,
            done: Some(done_tx),
        };
        match self.tx.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                return Err(InjectError::Full)
            }
        }
        done_rx
            .recv_timeout(INJECT_WAIT)
            .map_err(|_| InjectError::Timeout)
    }

    /// The receiving end (once; PMD 0 owns it).
    pub fn take_receiver(&self) -> Option<Receiver<Inject>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
