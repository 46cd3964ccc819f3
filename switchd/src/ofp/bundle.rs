//! OpenFlow bundles in OpenFlow 1.3: the ONF extension (experimenter 0x4F4E4600, types 2300
//! BUNDLE_CONTROL and 2301 BUNDLE_ADD_MESSAGE) that `ovs-ofctl -O OpenFlow13 --bundle` speaks,
//! with OpenFlow 1.4's semantics.
//!
//! A bundle belongs to its connection. FLOW_MODs added to it are decoded and checked on arrival
//! (a malformed one is refused then, with the ADD_MESSAGE's xid) and kept; nothing touches the
//! tables until COMMIT, which applies them all through `flowmod::apply_batch`: all land, in
//! order, in one publish, so no packet sees half a bundle, or none does. A commit that fails
//! answers the failing message's ERROR (with its own xid) and then the bundle's MSG_FAILED, and
//! the bundle is gone either way, as the spec says. Messages other than FLOW_MOD are refused in
//! a bundle (MSG_UNSUP); a bundle holds at most [`MAX_MESSAGES`], and a connection at most
//! [`MAX_BUNDLES`] open bundles. Closing the connection discards its bundles.

use super::flows;
use super::hub::Hub;
use datapath::flowmod::{self, FlowModRequest};
use openflow::error::{ErrorType, ERROR_DATA_LEN};
use openflow::header::{msg_type, Reader};
use openflow::{decode, DecodeError, ErrorMsg, ExperimenterMsg, Header, Message};
use std::collections::HashMap;

/// ONF's experimenter id.
pub const ONF_EXPERIMENTER: u32 = 0x4F4E_4600;
/// ONF experimenter type of BUNDLE_CONTROL.
pub const BUNDLE_CONTROL: u32 = 2300;
/// ONF experimenter type of BUNDLE_ADD_MESSAGE.
pub const BUNDLE_ADD_MESSAGE: u32 = 2301;

/// Most messages in one bundle.
pub const MAX_MESSAGES: usize = 1 << 20;
/// Most bundles open at once on one connection.
pub const MAX_BUNDLES: usize = 16;

/// Bundle control types.
mod ctrl {
    pub const OPEN_REQUEST: u16 = 0;
    pub const OPEN_REPLY: u16 = 1;
    pub const CLOSE_REQUEST: u16 = 2;
    pub const CLOSE_REPLY: u16 = 3;
    pub const COMMIT_REQUEST: u16 = 4;
    pub const COMMIT_REPLY: u16 = 5;
    pub const DISCARD_REQUEST: u16 = 6;
    pub const DISCARD_REPLY: u16 = 7;
}

/// Bundle failure codes (the ONF extension's experimenter error codes).
mod code {
    pub const EPERM: u16 = 2301;
    pub const BAD_ID: u16 = 2302;
    pub const BUNDLE_EXIST: u16 = 2303;
    pub const BUNDLE_CLOSED: u16 = 2304;
    pub const OUT_OF_BUNDLES: u16 = 2305;
    pub const BAD_TYPE: u16 = 2306;
    pub const BAD_FLAGS: u16 = 2307;
    pub const MSG_BAD_LEN: u16 = 2308;
    pub const MSG_BAD_XID: u16 = 2309;
    pub const MSG_UNSUP: u16 = 2310;
    pub const MSG_TOO_MANY: u16 = 2312;
    pub const MSG_FAILED: u16 = 2313;
}

/// Why an added message was refused: a bundle error, or the message's own error.
enum Refused {
    Bundle(u16),
    Message(ErrorMsg),
}

impl From<u16> for Refused {
    fn from(c: u16) -> Refused {
        Refused::Bundle(c)
    }
}

/// Where a kept message came from, for its ERROR if the commit fails on it.
struct Kept {
    xid: u32,
    raw: Vec<u8>,
}

struct Bundle {
    flags: u16,
    closed: bool,
    /// The requests, in order, and parallel to them where each came from.
    reqs: Vec<FlowModRequest>,
    msgs: Vec<Kept>,
}

/// The bundles of one connection.
#[derive(Default)]
pub(super) struct Bundles {
    open: HashMap<u32, Bundle>,
}

/// A bundle error for request `raw`.
fn bundle_error(code: u16, raw: &[u8]) -> Message {
    Message::Error(ErrorMsg {
        err_type: ErrorType::Experimenter,
        code,
        experimenter: ONF_EXPERIMENTER,
        data: raw[..raw.len().min(ERROR_DATA_LEN)].to_vec(),
    })
}

fn control_reply(id: u32, kind: u16, flags: u16) -> Message {
    let mut data = Vec::with_capacity(8);
    data.extend_from_slice(&id.to_be_bytes());
    data.extend_from_slice(&kind.to_be_bytes());
    data.extend_from_slice(&flags.to_be_bytes());
    Message::Experimenter(ExperimenterMsg {
        experimenter: ONF_EXPERIMENTER,
        exp_type: BUNDLE_CONTROL,
        data,
    })
}

/// True when `m` is a bundle message this module handles.
pub(super) fn is_bundle(m: &ExperimenterMsg) -> bool {
    m.experimenter == ONF_EXPERIMENTER
        && (m.exp_type == BUNDLE_CONTROL || m.exp_type == BUNDLE_ADD_MESSAGE)
}

impl Bundles {
    /// Handle bundle message `m` (whose whole frame is `raw`, transaction `xid`) from a
    /// connection that is a slave when `slave`; returns the replies, in order.
    pub(super) fn handle(
        &mut self,
        hub: &Hub,
        slave: bool,
        xid: u32,
        m: &ExperimenterMsg,
        raw: &[u8],
    ) -> Vec<(u32, Message)> {
        if slave {
            return vec![(xid, bundle_error(code::EPERM, raw))];
        }
        if m.exp_type == BUNDLE_CONTROL {
            self.control(hub, xid, &m.data, raw)
                .unwrap_or_else(|c| vec![(xid, bundle_error(c, raw))])
        } else {
            match self.add(xid, &m.data) {
                Ok(()) => Vec::new(),
                Err(Refused::Bundle(c)) => vec![(xid, bundle_error(c, raw))],
                Err(Refused::Message(e)) => vec![(xid, Message::Error(e))],
            }
        }
    }

    fn control(
        &mut self,
        hub: &Hub,
        xid: u32,
        body: &[u8],
        raw: &[u8],
    ) -> Result<Vec<(u32, Message)>, u16> {
        let mut r = Reader::new(body, DecodeError::BadLen);
        let (id, kind, flags) = match (r.u32(), r.u16(), r.u16()) {
            (Ok(i), Ok(k), Ok(f)) => (i, k, f),
            _ => return Err(code::MSG_BAD_LEN),
        };
        let reply = |kind| Ok(vec![(xid, control_reply(id, kind, flags))]);
        match kind {
            ctrl::OPEN_REQUEST => {
                if self.open.contains_key(&id) {
                    return Err(code::BUNDLE_EXIST);
                }
                if self.open.len() >= MAX_BUNDLES {
                    return Err(code::OUT_OF_BUNDLES);
                }
                self.open.insert(
                    id,
                    Bundle {
                        flags,
                        closed: false,
                        reqs: Vec::new(),
                        msgs: Vec::new(),
                    },
                );
                reply(ctrl::OPEN_REPLY)
            }
            ctrl::CLOSE_REQUEST => {
                let b = self.open.get_mut(&id).ok_or(code::BAD_ID)?;
                if b.closed {
                    return Err(code::BUNDLE_CLOSED);
                }
                if b.flags != flags {
                    return Err(code::BAD_FLAGS);
                }
                b.closed = true;
                reply(ctrl::CLOSE_REPLY)
            }
            ctrl::COMMIT_REQUEST => {
                let b = self.open.remove(&id).ok_or(code::BAD_ID)?;
                if b.flags != flags {
                    return Err(code::BAD_FLAGS);
                }
                Ok(commit(hub, xid, id, flags, b, raw))
            }
            ctrl::DISCARD_REQUEST => {
                self.open.remove(&id).ok_or(code::BAD_ID)?;
                reply(ctrl::DISCARD_REPLY)
            }
            _ => Err(code::BAD_TYPE),
        }
    }

    /// Keep the message inside a BUNDLE_ADD_MESSAGE (opening the bundle if needed, as
    /// OpenFlow 1.4 allows).
    fn add(&mut self, xid: u32, body: &[u8]) -> Result<(), Refused> {
        let mut r = Reader::new(body, DecodeError::BadLen);
        let (id, flags) = match (r.u32(), r.u16(), r.u16()) {
            (Ok(i), Ok(_pad), Ok(f)) => (i, f),
            _ => return Err(code::MSG_BAD_LEN.into()),
        };
        let inner_all = &body[8..];
        let inner_len = Header::peek(inner_all)
            .map(|h| usize::from(h.length))
            .filter(|n| *n >= 8 && *n <= inner_all.len())
            .ok_or(code::MSG_BAD_LEN)?;
        let inner = &inner_all[..inner_len];
        let h = Header::peek(inner).ok_or(code::MSG_BAD_LEN)?;
        if h.xid != xid {
            return Err(code::MSG_BAD_XID.into());
        }
        if h.msg_type != msg_type::FLOW_MOD {
            return Err(code::MSG_UNSUP.into());
        }
        if !self.open.contains_key(&id) && self.open.len() >= MAX_BUNDLES {
            return Err(code::OUT_OF_BUNDLES.into());
        }
        let b = self.open.entry(id).or_insert(Bundle {
            flags,
            closed: false,
            reqs: Vec::new(),
            msgs: Vec::new(),
        });
        if b.closed {
            return Err(code::BUNDLE_CLOSED.into());
        }
        if b.flags != flags {
            return Err(code::BAD_FLAGS.into());
        }
        if b.msgs.len() >= MAX_MESSAGES {
            return Err(code::MSG_TOO_MANY.into());
        }
        let req = match decode(inner) {
            Ok((_, Message::FlowMod(fm))) => {
                flows::to_request(&fm).map_err(|c| Refused::Message(ErrorMsg::new(c, inner)))?
            }
            Ok(_) => return Err(Refused::Bundle(code::MSG_UNSUP)),
            Err(e) => return Err(Refused::Message(e.to_error_msg(inner))),
        };
        b.reqs.push(req);
        b.msgs.push(Kept {
            xid,
            raw: inner[..inner.len().min(ERROR_DATA_LEN)].to_vec(),
        });
        Ok(())
    }
}

/// Apply bundle `b` all or nothing and say how it went.
fn commit(hub: &Hub, xid: u32, id: u32, flags: u16, b: Bundle, raw: &[u8]) -> Vec<(u32, Message)> {
    match flowmod::apply_batch(&hub.bridge, &b.reqs) {
        Ok(applied) => {
            hub.flows_deleted(applied.removed);
            vec![(xid, control_reply(id, ctrl::COMMIT_REPLY, flags))]
        }
        Err(e) => {
            let k = &b.msgs[e.index];
            let inner = ErrorMsg::new(flows::error_code(&e.error), &k.raw);
            vec![
                (k.xid, Message::Error(inner)),
                (xid, bundle_error(code::MSG_FAILED, raw)),
            ]
        }
    }
}
