//! PACKET_IN delivery (data plane -> controllers) and PACKET_OUT execution (controllers -> data
//! plane), OpenFlow 1.3 sections 6.1.2 and 7.3.7 / 7.4.1.
//!
//! **PACKET_IN.** A PMD never talks to a controller: executing a `controller` action offers a
//! copy of the packet to the bridge's bounded packet-in queue (`datapath::packet_in`), and one
//! thread per bridge, started here, drains that queue. Each message becomes one PACKET_IN
//! (no buffering: `buffer_id` is always OFP_NO_BUFFER, the frame is carried in the message)
//! with an OXM match holding `in_port` (and `metadata` and `tunnel_id` when they are not
//! zero), and is written to every connection whose asynchronous configuration (SET_ASYNC; by default masters and equals
//! want NO_MATCH and ACTION, slaves nothing) enables the reason for its role. Connections the
//! switch initiated (`tcp:` controllers) sit in the same list and are treated alike. A table-miss
//! packet-in (reason NO_MATCH) is further cut to the connection's SET_CONFIG `miss_send_len`
//! (default 128, OFPCML_NO_BUFFER = whole frame); an ACTION packet-in was already cut to the
//! action's `max_len` by the PMD. `total_len` always reports the whole frame. A connection whose
//! write fails (it stopped reading and the write timed out, or it is gone) is dropped from the
//! hub's list, so a stuck controller costs at most one write timeout and never blocks a PMD:
//! while this thread waits, the queue fills and the PMDs count `controller_queue_full` drops.
//!
//! **PACKET_OUT.** The request is checked, translated on the connection's thread (MAC learning
//! included, so `actions=normal` behaves as for a received packet) and handed to PMD 0 through
//! the bridge's inject queue, which owns the transmit queues; the connection waits for PMD 0's
//! acknowledgement before reading its next request, so a BARRIER after a PACKET_OUT means the
//! packet has been executed (and sent, as PMD 0 transmits before acknowledging). Choices, with
//! the ERROR each refusal gets:
//! - `buffer_id` other than OFP_NO_BUFFER: BAD_REQUEST/BUFFER_UNKNOWN (the switch has no
//!   buffers; FEATURES_REPLY says n_buffers 0).
//! - `in_port`: CONTROLLER, or ANY (what `ovs-ofctl` sends for `in_port=none`), both meaning
//!   "from the controller" (key in_port = CONTROLLER, nothing is learned), or a port of this
//!   bridge (NORMAL learns the source on it; `output:in_port` returns the packet there).
//!   Anything else (LOCAL, other reserved values, unknown ports): BAD_REQUEST/BAD_PORT.
//! - The frame must hold at least an Ethernet header and fit the largest frame the bridge's
//!   ports carry (and a jumbo pool frame): else BAD_REQUEST/BAD_PACKET ("invalid packet in
//!   packet-out"). An empty frame gets BAD_PACKET too. (The pool's frame size is not known
//!   here: a frame a port accepts but PMD 0's pool cannot hold is dropped as `no_buffer`.)
//! - Actions are converted like a flow's (unsupported ones get the matching BAD_ACTION code);
//!   output to a port number the bridge lacks, to LOCAL or ANY: BAD_ACTION/BAD_OUT_PORT; a group
//!   that does not exist: BAD_ACTION/BAD_OUT_GROUP. `output:table` runs the tables once (rule
//!   counters count the packet), `output:controller` makes a PACKET_IN with reason ACTION and
//!   cookie -1 (no rule sent it).
//! - A translation that outputs nothing (e.g. `output:in_port` from the controller, an empty
//!   action list) is not an error: PMD 0 drops the packet and counts the drop reason.
//! - PMD 0 not taking the packet (inject queue full, or no acknowledgement within a second):
//!   BAD_REQUEST/EPERM. After a timeout the packet may still go out later.
//!
//! Counters of both directions ([`PacketIoStats`]) are kept per bridge.

use super::hub::{ConnShared, Hub};
use datapath::bridge::{Bridge, BridgeView};
use datapath::cycles::monotonic_ns;
use datapath::mempool::{HEADROOM, JUMBO_FRAME};
use datapath::packet_in::{PacketInMsg, NO_BUFFER_LEN};
use datapath::xlate::{self, InPort, Mode, OFPR_NO_MATCH};
use flowtable::action::{
    Action as FtAction, OFPP_ALL, OFPP_ANY, OFPP_CONTROLLER, OFPP_FLOOD, OFPP_IN_PORT, OFPP_MAX,
    OFPP_NORMAL, OFPP_TABLE,
};
use flowtable::extract::extract;
use flowtable::key::FlowKey;
use flowtable::pipeline::{Origin, PipelineResult};
use flowtable::Field;
use openflow::convert::to_flowtable_actions;
use openflow::error::{BadActionCode, BadRequestCode, ErrorCode};
use openflow::{encode, Message, OxmField, PacketIn, PacketOut, OFP_NO_BUFFER};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the packet-in thread checks for shutdown while the queue is empty.
const POLL: Duration = Duration::from_millis(50);

/// Smallest frame a PACKET_OUT may carry: an Ethernet header.
const MIN_FRAME: usize = 14;

/// Cookie of a PACKET_IN no rule caused (OpenFlow 1.3: "-1 if a cookie cannot be associated
/// with a particular flow"), i.e. one from a PACKET_OUT's `output:controller`.
const NO_COOKIE: u64 = u64::MAX;

/// Packet-in and packet-out counters of one bridge.
#[derive(Debug, Default)]
pub struct PacketIoStats {
    /// PACKET_IN messages written (one per receiving connection).
    pub packet_in_sent: AtomicU64,
    /// Queued packet-ins that no connection wanted (none open, or every one masked the reason
    /// or is a slave).
    pub packet_in_undelivered: AtomicU64,
    /// PACKET_INs a connection did not get: its queue was full, or it was closing.
    pub packet_in_send_errors: AtomicU64,
    /// Asynchronous messages (PACKET_IN, FLOW_REMOVED, PORT_STATUS) dropped because a
    /// connection's outgoing queue was full (a peer that does not read fast enough).
    pub async_dropped: AtomicU64,
    /// Connections closed as soon as accepted: the listener had its maximum, or the process
    /// was out of descriptors.
    pub connections_refused: AtomicU64,
    /// PACKET_OUTs handed to PMD 0 and acknowledged.
    pub packet_out_sent: AtomicU64,
    /// PACKET_OUTs answered with an ERROR.
    pub packet_out_refused: AtomicU64,
}

/// A plain copy of [`PacketIoStats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PacketIoCounts {
    /// See [`PacketIoStats::packet_in_sent`].
    pub packet_in_sent: u64,
    /// See [`PacketIoStats::packet_in_undelivered`].
    pub packet_in_undelivered: u64,
    /// See [`PacketIoStats::packet_in_send_errors`].
    pub packet_in_send_errors: u64,
    /// See [`PacketIoStats::async_dropped`].
    pub async_dropped: u64,
    /// See [`PacketIoStats::connections_refused`].
    pub connections_refused: u64,
    /// See [`PacketIoStats::packet_out_sent`].
    pub packet_out_sent: u64,
    /// See [`PacketIoStats::packet_out_refused`].
    pub packet_out_refused: u64,
}

impl PacketIoStats {
    /// The counters now.
    pub fn snapshot(&self) -> PacketIoCounts {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PacketIoCounts {
            packet_in_sent: l(&self.packet_in_sent),
            packet_in_undelivered: l(&self.packet_in_undelivered),
            packet_in_send_errors: l(&self.packet_in_send_errors),
            async_dropped: l(&self.async_dropped),
            connections_refused: l(&self.connections_refused),
            packet_out_sent: l(&self.packet_out_sent),
            packet_out_refused: l(&self.packet_out_refused),
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Start the thread that turns the bridge's queued packet-ins into PACKET_IN messages; it ends
/// when `stop` is set.
pub(super) fn spawn_packet_in(
    hub: Arc<Hub>,
    stop: super::Flags,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("ofp-pin-{}", hub.bridge.name))
        .spawn(move || {
            // Someone else (a test) may own the queue: then there is nothing to deliver.
            let Some(rx) = hub.bridge.packet_in.take_receiver() else {
                return;
            };
            deliver_loop(&hub, &rx, &stop, &hub.packet_io);
        })
}

fn deliver_loop(hub: &Hub, rx: &Receiver<PacketInMsg>, stop: &super::Flags, stats: &PacketIoStats) {
    while !stop.stopped() {
        match rx.recv_timeout(POLL) {
            Ok(msg) => deliver(hub, &msg, stats),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Bytes of `msg`'s frame a connection with this `miss_send_len` gets.
fn data_len(msg: &PacketInMsg, miss_send_len: u16) -> usize {
    if msg.reason == OFPR_NO_MATCH && miss_send_len != NO_BUFFER_LEN {
        msg.data.len().min(usize::from(miss_send_len))
    } else {
        msg.data.len()
    }
}

/// The encoded PACKET_IN carrying the first `keep` bytes of `msg`'s frame.
fn encode_packet_in(msg: &PacketInMsg, keep: usize) -> Vec<u8> {
    let mut matches = vec![OxmField::exact(Field::InPort, msg.in_port.into())];
    if msg.metadata != 0 {
        matches.push(OxmField::exact(Field::Metadata, msg.metadata.into()));
    }
    if msg.tunnel_id != 0 {
        matches.push(OxmField::exact(Field::TunnelId, msg.tunnel_id.into()));
    }
    let pin = PacketIn {
        buffer_id: OFP_NO_BUFFER,
        total_len: u16::try_from(msg.total_len).unwrap_or(u16::MAX),
        reason: msg.reason,
        table_id: msg.table,
        cookie: msg.cookie,
        matches,
        data: msg.data[..keep].to_vec(),
    };
    let mut out = Vec::with_capacity(64 + keep);
    encode(0, &Message::PacketIn(pin), &mut out);
    out
}

/// True when `conn`'s asynchronous configuration wants packet-ins for `reason`.
fn wants(conn: &ConnShared, reason: u8) -> bool {
    let role = usize::from(conn.is_slave());
    let mask = conn
        .async_cfg
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .packet_in_mask[role];
    reason < 32 && mask & (1 << reason) != 0
}

/// Send `msg` to every connection that wants it.
fn deliver(hub: &Hub, msg: &PacketInMsg, stats: &PacketIoStats) {
    // Each distinct length is encoded once (connections usually share their miss_send_len).
    let mut encoded: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut delivered = false;
    for conn in hub.conns() {
        if !wants(&conn, msg.reason) {
            continue;
        }
        let keep = data_len(msg, conn.miss_send_len.load(Ordering::Relaxed));
        let i = match encoded.iter().position(|(k, _)| *k == keep) {
            Some(i) => i,
            None => {
                encoded.push((keep, encode_packet_in(msg, keep)));
                encoded.len() - 1
            }
        };
        // Queued without waiting: a connection that does not keep up loses this one (counted
        // in `async_dropped`), and the others still get it.
        if conn.offer(hub, &encoded[i].1) {
            bump(&stats.packet_in_sent);
            delivered = true;
        } else {
            bump(&stats.packet_in_send_errors);
        }
    }
    if !delivered {
        bump(&stats.packet_in_undelivered);
    }
}

/// Execute a PACKET_OUT on the hub's bridge.
pub(super) fn packet_out(hub: &Hub, po: &PacketOut) -> Result<(), ErrorCode> {
    let stats = &hub.packet_io;
    let r = execute(&hub.bridge, po);
    bump(if r.is_ok() {
        &stats.packet_out_sent
    } else {
        &stats.packet_out_refused
    });
    r
}

fn bad_request(code: BadRequestCode) -> ErrorCode {
    ErrorCode::BadRequest(code)
}

fn bad_action(code: BadActionCode) -> ErrorCode {
    ErrorCode::BadAction(code)
}

/// Largest frame a PACKET_OUT may carry on this bridge: what its widest port carries, and never
/// more than a jumbo pool frame holds.
fn max_frame(view: &BridgeView) -> usize {
    let widest = view
        .ports
        .iter()
        .map(|p| p.port.max_frame())
        .max()
        .unwrap_or(0);
    widest.min(JUMBO_FRAME - HEADROOM)
}

/// Refuse outputs to ports the bridge lacks and groups that do not exist.
fn check_actions(view: &BridgeView, actions: &[FtAction]) -> Result<(), ErrorCode> {
    for a in actions {
        match *a {
            FtAction::Output { port, .. } => match port {
                OFPP_IN_PORT | OFPP_TABLE | OFPP_NORMAL | OFPP_FLOOD | OFPP_ALL
                | OFPP_CONTROLLER => {}
                p if p < OFPP_MAX && view.port(p).is_some() => {}
                // LOCAL (no local port), ANY, other reserved values, unknown ports.
                _ => return Err(bad_action(BadActionCode::BadOutPort)),
            },
            FtAction::Group(g) if !view.groups.contains(g) => {
                return Err(bad_action(BadActionCode::BadOutGroup))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Check, translate and inject one PACKET_OUT.
fn execute(bridge: &Bridge, po: &PacketOut) -> Result<(), ErrorCode> {
    if po.buffer_id != OFP_NO_BUFFER {
        return Err(bad_request(BadRequestCode::BufferUnknown));
    }
    let view = bridge.view();
    let in_port = match po.in_port {
        OFPP_CONTROLLER | OFPP_ANY => InPort::controller(),
        p => match view.port(p) {
            Some(bp) => InPort::from(bp),
            None => return Err(bad_request(BadRequestCode::BadPort)),
        },
    };
    if po.data.len() < MIN_FRAME || po.data.len() > max_frame(&view) {
        return Err(bad_request(BadRequestCode::BadPacket));
    }
    let actions = to_flowtable_actions(&po.actions).map_err(|e| e.code())?;
    check_actions(&view, &actions)?;

    let mut key = FlowKey::default();
    extract(&po.data, in_port.ofport, &mut key);
    let origin = Origin {
        table: 0,
        cookie: NO_COOKIE,
        table_miss: false,
    };
    let res = PipelineResult {
        origins: vec![origin; actions.len()],
        actions,
        final_key: key,
        ..PipelineResult::default()
    };
    let len = u32::try_from(po.data.len()).unwrap_or(u32::MAX);
    let (decision, effect) = {
        let mut macs = bridge.macs();
        xlate::translate(
            &view,
            in_port,
            &key,
            res,
            &mut macs,
            monotonic_ns(),
            len,
            Mode::Learn,
        )
    };
    drop(view);
    if effect.changed {
        bridge.bump_epoch();
    }
    bridge
        .inject
        .send_and_wait(po.data.clone(), decision)
        .map_err(|_| bad_request(BadRequestCode::Eperm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datapath::group::GroupTable;
    use datapath::meter::MeterTable;
    use flowtable::pipeline::Pipeline;
    use openflow::{decode, OFP_VERSION};
    use std::collections::HashMap;

    fn msg(reason: u8, len: usize, metadata: u64) -> PacketInMsg {
        PacketInMsg {
            in_port: 3,
            reason,
            table: 2,
            cookie: 0x42,
            metadata,
            tunnel_id: 0,
            total_len: len + 100,
            max_len: NO_BUFFER_LEN,
            data: (0..len).map(|i| i as u8).collect(),
        }
    }

    #[test]
    fn miss_send_len_cuts_table_misses_only() {
        let miss = msg(OFPR_NO_MATCH, 300, 0);
        assert_eq!(data_len(&miss, 128), 128);
        assert_eq!(data_len(&miss, 0), 0);
        assert_eq!(data_len(&miss, NO_BUFFER_LEN), 300);
        assert_eq!(data_len(&miss, 1000), 300);
        let action = msg(xlate::OFPR_ACTION, 300, 0);
        assert_eq!(data_len(&action, 128), 300);
    }

    #[test]
    fn packet_in_encoding() {
        let bytes = encode_packet_in(&msg(xlate::OFPR_ACTION, 50, 0), 20);
        let (h, m) = decode(&bytes).expect("decodes");
        assert_eq!(
            (h.version, h.xid, usize::from(h.length)),
            (OFP_VERSION, 0, bytes.len())
        );
        let Message::PacketIn(p) = m else {
            panic!("{m:?}")
        };
        assert_eq!(
            (p.buffer_id, p.total_len, p.reason, p.table_id, p.cookie),
            (OFP_NO_BUFFER, 150, 1, 2, 0x42)
        );
        assert_eq!(p.matches, vec![OxmField::exact(Field::InPort, 3)]);
        assert_eq!(p.data, (0..20).collect::<Vec<u8>>());
        // Metadata appears when set; an oversized total_len saturates.
        let mut m = msg(OFPR_NO_MATCH, 10, 0xabc);
        m.total_len = 70_000;
        let Ok((_, Message::PacketIn(p))) = decode(&encode_packet_in(&m, 10)) else {
            panic!("decodes")
        };
        assert_eq!(
            p.matches,
            vec![
                OxmField::exact(Field::InPort, 3),
                OxmField::exact(Field::Metadata, 0xabc)
            ]
        );
        assert_eq!(p.total_len, u16::MAX);
        // So does the tunnel id.
        let mut m = msg(OFPR_NO_MATCH, 10, 0);
        m.tunnel_id = 0x77;
        let Ok((_, Message::PacketIn(p))) = decode(&encode_packet_in(&m, 10)) else {
            panic!("decodes")
        };
        assert_eq!(
            p.matches,
            vec![
                OxmField::exact(Field::InPort, 3),
                OxmField::exact(Field::TunnelId, 0x77)
            ]
        );
    }

    #[test]
    fn actions_must_name_existing_ports_and_groups() {
        let view = BridgeView {
            ports: Vec::new(),
            by_ofport: HashMap::new(),
            pipeline: Arc::new(Pipeline::default()),
            groups: Arc::new(GroupTable::default()),
            meters: Arc::new(MeterTable::default()),
        };
        let out = |port| FtAction::Output { port, max_len: 0 };
        for ok in [
            OFPP_IN_PORT,
            OFPP_TABLE,
            OFPP_NORMAL,
            OFPP_FLOOD,
            OFPP_ALL,
            OFPP_CONTROLLER,
        ] {
            assert_eq!(check_actions(&view, &[out(ok)]), Ok(()), "{ok:#x}");
        }
        let bad_port = Err(bad_action(BadActionCode::BadOutPort));
        for bad in [1, 0xffff_fffe, OFPP_ANY, OFPP_MAX + 1] {
            assert_eq!(check_actions(&view, &[out(bad)]), bad_port, "{bad:#x}");
        }
        assert_eq!(
            check_actions(&view, &[FtAction::PopVlan, FtAction::Group(1)]),
            Err(bad_action(BadActionCode::BadOutGroup))
        );
        assert_eq!(max_frame(&view), 0, "no port: nothing fits");
    }
}
