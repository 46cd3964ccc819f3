//! FLOW_MODs that arrive back to back are applied together: one edit of the tables and one
//! publish for the whole run, instead of one per message.
//!
//! A run is the consecutive complete FLOW_MOD frames at the front of what has been read from the
//! connection (at most [`MAX_RUN`]); the first message of any other type ends it, and is handled
//! only after the run is in, so a BARRIER, a PACKET_OUT or a statistics request sees every
//! FLOW_MOD sent before it. OpenFlow's semantics are kept message by message: each FLOW_MOD is
//! applied on its own (`flowmod::apply_each`), one that fails changes nothing and gets its own
//! ERROR with its own xid, and the errors go out in the order of the requests. Only when the
//! changes become visible moves: together at the end of the run rather than one by one, which
//! OpenFlow allows (only a BARRIER orders them against other messages).

use super::flows;
use super::hub::{ConnShared, Hub};
use datapath::flowmod::{self, FlowModRequest};
use openflow::error::{BadRequestCode, ErrorCode};
use openflow::header::msg_type;
use openflow::{decode, frame_len, ErrorMsg, Header, Message, OFP_NO_BUFFER};

/// Most FLOW_MODs applied together.
pub const MAX_RUN: usize = 4096;

/// The consecutive complete FLOW_MOD frames at the front of `buf`: how many, and their length
/// in bytes.
pub(super) fn run_at(buf: &[u8]) -> (usize, usize) {
    let (mut count, mut bytes) = (0, 0);
    while count < MAX_RUN {
        let rest = &buf[bytes..];
        let Some(n) = frame_len(rest) else { break };
        match Header::peek(rest) {
            Some(h) if h.msg_type == msg_type::FLOW_MOD && usize::from(h.length) >= 8 => {}
            _ => break,
        }
        count += 1;
        bytes += n;
    }
    (count, bytes)
}

/// Apply the FLOW_MOD frames of `run` (as [`run_at`] found them) and return the replies they
/// call for (ERRORs, in request order), with their xids.
pub(super) fn apply_run(hub: &Hub, conn: &ConnShared, run: &[u8]) -> Vec<(u32, Message)> {
    // Per request: its frame and either what to apply or the error it already has.
    let mut frames: Vec<&[u8]> = Vec::new();
    let mut errors: Vec<Option<ErrorMsg>> = Vec::new();
    let mut reqs: Vec<FlowModRequest> = Vec::new();
    let mut req_of: Vec<usize> = Vec::new();
    let mut buffered: Vec<bool> = Vec::new();
    let mut at = 0;
    while let Some(n) = frame_len(&run[at..]) {
        let raw = &run[at..at + n];
        at += n;
        let index = frames.len();
        frames.push(raw);
        buffered.push(false);
        let refused = match decode(raw) {
            Err(e) => Some(e.to_error_msg(raw)),
            Ok(_) if conn.is_slave() => Some(ErrorMsg::new(
                ErrorCode::BadRequest(BadRequestCode::IsSlave),
                raw,
            )),
            Ok((_, Message::FlowMod(fm))) => match flows::to_request(&fm) {
                Ok(r) => {
                    buffered[index] = fm.buffer_id != OFP_NO_BUFFER;
                    reqs.push(r);
                    req_of.push(index);
                    None
                }
                Err(code) => Some(ErrorMsg::new(code, raw)),
            },
            Ok(_) => None,
        };
        errors.push(refused);
    }
    let (applied, failed) = flowmod::apply_each(&hub.bridge, &reqs);
    for f in failed {
        let index = req_of[f.index];
        errors[index] = Some(ErrorMsg::new(flows::error_code(&f.error), frames[index]));
    }
    hub.flows_deleted(applied.removed);
    let mut out = Vec::new();
    for (index, raw) in frames.iter().enumerate() {
        let xid = Header::peek(raw).map_or(0, |h| h.xid);
        if let Some(e) = errors[index].take() {
            out.push((xid, Message::Error(e)));
        } else if buffered[index] {
            // The flow is in; there is no buffered packet to apply it to (n_buffers is 0).
            let code = ErrorCode::BadRequest(BadRequestCode::BufferUnknown);
            out.push((xid, Message::Error(ErrorMsg::new(code, raw))));
        }
    }
    out
}
