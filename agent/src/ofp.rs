//! A small synchronous OpenFlow 1.3 client for one bridge's management socket
//! (`<rundir>/<bridge>.mgmt`), built on the `openflow` codec: HELLO, a cookie-filtered flow
//! dump, and an atomic change set as an ONF bundle (the experimenter messages `ovs-ofctl
//! --bundle` sends, which dvs-switchd applies all or nothing in one publish).
//!
//! [`OfConn::sync_all`] brings meters (OFPMP_METER_CONFIG read, METER_MOD add/modify/delete
//! around the flow bundle, see there) and flows in line; [`OfConn::counters`] reads the flow and
//! meter counters the status reports.
//!
//! [`OfConn::sync`] is the whole flow diff: dump the installed flows whose cookie carries the
//! agent's marker, delete those not wanted (FLOW_MOD delete by exact cookie, all tables), add
//! those missing, deletes first, in one bundle. Wanted flows already installed are not sent at
//! all, so their counters and durations survive agent restarts.
//!
//! The client is request/response only: it reads while it waits for an answer and replies to
//! the switch's ECHO requests on the way. Any error drops the connection; the reconciler opens
//! a new one next round.

use crate::layout::{Flow, MARKER, MARKER_MASK};
use crate::policy::{meters, Compiled};
use flowtable::action::OFPP_ANY;
use openflow::flow_mod::{OFPG_ANY, OFPTT_ALL};
use openflow::meter::OFPM_ALL;
use openflow::multipart::flow::{FlowStats, FlowStatsRequest};
use openflow::multipart::stats::{MeterConfig, MeterStats};
use openflow::multipart::OFPMPF_REPLY_MORE;
use openflow::{
    decode, encode, frame_len, ExperimenterMsg, FlowMod, FlowModCommand, Hello, Message, MeterMod,
    MeterModCommand, MultipartReplyBody, MultipartRequest, MultipartRequestBody, OFP_NO_BUFFER,
};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// ONF's experimenter id.
const ONF: u32 = 0x4F4E_4600;
/// BUNDLE_CONTROL.
const BUNDLE_CONTROL: u32 = 2300;
/// BUNDLE_ADD_MESSAGE.
const BUNDLE_ADD: u32 = 2301;
const OPEN_REQUEST: u16 = 0;
const OPEN_REPLY: u16 = 1;
const COMMIT_REQUEST: u16 = 4;
const COMMIT_REPLY: u16 = 5;
const DISCARD_REQUEST: u16 = 6;
/// OFPBF_ATOMIC | OFPBF_ORDERED.
const BUNDLE_FLAGS: u16 = 3;
/// How long an answer may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong on the OpenFlow connection.
#[derive(Debug, thiserror::Error)]
pub enum OfpError {
    /// Connecting, reading or writing failed.
    #[error("OpenFlow connection: {0}")]
    Io(#[from] std::io::Error),
    /// The switch closed the connection.
    #[error("OpenFlow connection closed by the switch")]
    Closed,
    /// The switch answered with an error.
    #[error("the switch refused {what}: {error:?}")]
    Refused {
        /// The request.
        what: &'static str,
        /// Its ERROR message.
        error: openflow::ErrorMsg,
    },
    /// An answer that makes no sense.
    #[error("unexpected OpenFlow message: {0}")]
    Protocol(String),
}

/// One installed flow, as the dump shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// Cookie.
    pub cookie: u64,
    /// Table.
    pub table: u8,
    /// Seconds installed.
    pub duration_sec: u32,
    /// Packets matched.
    pub packets: u64,
}

/// What one sync changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncResult {
    /// Flows deleted.
    pub deleted: usize,
    /// Flows added.
    pub added: usize,
    /// Meters added or modified.
    pub meters_changed: usize,
    /// Meters deleted.
    pub meters_deleted: usize,
}

/// A bridge's counters as the switch reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets matched, by flow cookie (the agent's flows only).
    pub flows: BTreeMap<u64, u64>,
    /// Packets dropped by the first band, by meter id.
    pub meters: BTreeMap<u32, u64>,
}

/// A connection to one bridge.
pub struct OfConn {
    stream: UnixStream,
    buf: Vec<u8>,
    xid: u32,
}

impl OfConn {
    /// Connect to the management socket at `path` and exchange HELLOs.
    pub fn connect(path: &Path) -> Result<OfConn, OfpError> {
        let stream = UnixStream::connect(path)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let mut c = OfConn {
            stream,
            buf: Vec::new(),
            xid: 1,
        };
        let xid = c.next_xid();
        c.send(xid, &Message::Hello(Hello::ours()))?;
        loop {
            match c.recv()? {
                (_, Message::Hello(_)) => return Ok(c),
                (_, Message::Error(e)) => {
                    return Err(OfpError::Refused {
                        what: "HELLO",
                        error: e,
                    })
                }
                _ => continue,
            }
        }
    }

    fn next_xid(&mut self) -> u32 {
        self.xid = self.xid.wrapping_add(1).max(1);
        self.xid
    }

    fn send(&mut self, xid: u32, m: &Message) -> Result<(), OfpError> {
        let mut out = Vec::new();
        encode(xid, m, &mut out);
        self.stream.write_all(&out)?;
        Ok(())
    }

    /// The next message (ECHO requests are answered here; undecodable messages skipped).
    fn recv(&mut self) -> Result<(u32, Message), OfpError> {
        loop {
            if let Some(n) = frame_len(&self.buf) {
                let frame: Vec<u8> = self.buf.drain(..n).collect();
                match decode(&frame) {
                    Ok((h, Message::EchoRequest(d))) => {
                        self.send(h.xid, &Message::EchoReply(d))?;
                    }
                    Ok((h, m)) => return Ok((h.xid, m)),
                    Err(_) => continue,
                }
                continue;
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err(OfpError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Send a multipart request and gather every part of its answer.
    fn multipart(
        &mut self,
        body: MultipartRequestBody,
        what: &'static str,
    ) -> Result<Vec<MultipartReplyBody>, OfpError> {
        let xid = self.next_xid();
        let req = Message::MultipartRequest(MultipartRequest { flags: 0, body });
        self.send(xid, &req)?;
        let mut out = Vec::new();
        loop {
            let (x, m) = self.recv()?;
            if x != xid {
                continue;
            }
            match m {
                Message::MultipartReply(r) => {
                    let more = r.flags & OFPMPF_REPLY_MORE != 0;
                    out.push(r.body);
                    if !more {
                        return Ok(out);
                    }
                }
                Message::Error(e) => return Err(OfpError::Refused { what, error: e }),
                other => return Err(OfpError::Protocol(format!("{other:?}"))),
            }
        }
    }

    /// The installed flows carrying the agent's cookie marker, from every table.
    pub fn dump(&mut self) -> Result<Vec<Installed>, OfpError> {
        let body = MultipartRequestBody::Flow(FlowStatsRequest {
            table_id: OFPTT_ALL,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            cookie: MARKER << 56,
            cookie_mask: MARKER_MASK,
            matches: Vec::new(),
        });
        let mut out = Vec::new();
        for part in self.multipart(body, "the flow dump")? {
            let MultipartReplyBody::Flow(stats) = part else {
                return Err(OfpError::Protocol("flow stats answered otherwise".into()));
            };
            out.extend(stats.iter().map(installed));
        }
        Ok(out)
    }

    /// Every meter's configuration.
    pub fn meter_configs(&mut self) -> Result<Vec<MeterConfig>, OfpError> {
        let body = MultipartRequestBody::MeterConfig(OFPM_ALL);
        let mut out = Vec::new();
        for part in self.multipart(body, "the meter config request")? {
            let MultipartReplyBody::MeterConfig(v) = part else {
                return Err(OfpError::Protocol("meter config answered otherwise".into()));
            };
            out.extend(v);
        }
        Ok(out)
    }

    /// Every meter's counters.
    pub fn meter_stats(&mut self) -> Result<Vec<MeterStats>, OfpError> {
        let body = MultipartRequestBody::Meter(OFPM_ALL);
        let mut out = Vec::new();
        for part in self.multipart(body, "the meter stats request")? {
            let MultipartReplyBody::Meter(v) = part else {
                return Err(OfpError::Protocol("meter stats answered otherwise".into()));
            };
            out.extend(v);
        }
        Ok(out)
    }

    /// Send METER_MODs, then a barrier; the first ERROR among them fails the call.
    fn meter_mods(&mut self, mods: &[MeterMod]) -> Result<(), OfpError> {
        if mods.is_empty() {
            return Ok(());
        }
        for mm in mods {
            let xid = self.next_xid();
            self.send(xid, &Message::MeterMod(mm.clone()))?;
        }
        let barrier = self.next_xid();
        self.send(barrier, &Message::BarrierRequest)?;
        let mut refused = None;
        loop {
            match self.recv()? {
                (x, Message::BarrierReply) if x == barrier => break,
                (_, Message::Error(e)) => refused = refused.or(Some(e)),
                _ => {}
            }
        }
        match refused {
            Some(e) => Err(OfpError::Refused {
                what: "a meter",
                error: e,
            }),
            None => Ok(()),
        }
    }

    /// Make the bridge hold exactly `want`'s meters and flows among the agent's: meters added
    /// or modified first (a flow may only name an existing meter), then the flow bundle, then
    /// the agent's obsolete meters deleted (deleting a meter deletes the flows that use it, so
    /// only once those are gone). Meters already right are not touched.
    pub fn sync_all(&mut self, want: &Compiled) -> Result<SyncResult, OfpError> {
        let have: BTreeMap<u32, MeterConfig> = self
            .meter_configs()?
            .into_iter()
            .filter(|m| meters::is_ours(m.meter_id))
            .map(|m| (m.meter_id, m))
            .collect();
        let mut r = SyncResult::default();
        let mut mods = Vec::new();
        for (id, m) in &want.meters {
            let command = match have.get(id) {
                None => MeterModCommand::Add,
                Some(h) if h.flags != m.flags || h.bands != m.bands => MeterModCommand::Modify,
                Some(_) => continue,
            };
            r.meters_changed += 1;
            mods.push(MeterMod {
                command,
                flags: m.flags,
                meter_id: *id,
                bands: m.bands.clone(),
            });
        }
        self.meter_mods(&mods)?;
        let flows = self.sync(&want.flows)?;
        r.added = flows.added;
        r.deleted = flows.deleted;
        let gone: Vec<MeterMod> = have
            .keys()
            .filter(|id| !want.meters.contains_key(id))
            .map(|id| MeterMod {
                command: MeterModCommand::Delete,
                flags: 0,
                meter_id: *id,
                bands: Vec::new(),
            })
            .collect();
        r.meters_deleted = gone.len();
        self.meter_mods(&gone)?;
        Ok(r)
    }

    /// Packet counts of the agent's flows by cookie, and drop counts of every meter's first
    /// band by meter id: two multipart requests.
    pub fn counters(&mut self) -> Result<Counters, OfpError> {
        let flows = self
            .dump()?
            .into_iter()
            .map(|f| (f.cookie, f.packets))
            .collect();
        let meters = self
            .meter_stats()?
            .into_iter()
            .map(|m| {
                let dropped = m.band_stats.first().map_or(0, |b| b.0);
                (m.meter_id, dropped)
            })
            .collect();
        Ok(Counters { flows, meters })
    }

    /// Make the bridge hold exactly `want` among the agent's flows (see the module docs).
    pub fn sync(&mut self, want: &BTreeMap<u64, Flow>) -> Result<SyncResult, OfpError> {
        let have: BTreeSet<u64> = self.dump()?.into_iter().map(|f| f.cookie).collect();
        let deletes: Vec<u64> = have
            .iter()
            .filter(|c| !want.contains_key(c))
            .copied()
            .collect();
        let adds: Vec<&Flow> = want
            .iter()
            .filter(|(c, _)| !have.contains(c))
            .map(|(_, f)| f)
            .collect();
        if deletes.is_empty() && adds.is_empty() {
            return Ok(SyncResult::default());
        }
        let mut mods: Vec<FlowMod> = deletes.iter().map(|c| delete_mod(*c)).collect();
        mods.extend(adds.iter().map(|f| add_mod(f)));
        self.bundle(&mods)?;
        Ok(SyncResult {
            deleted: deletes.len(),
            added: adds.len(),
            ..SyncResult::default()
        })
    }

    /// Apply `mods` as one atomic, ordered bundle.
    pub fn bundle(&mut self, mods: &[FlowMod]) -> Result<(), OfpError> {
        let id = self.next_xid();
        let open = self.next_xid();
        self.send(open, &control(id, OPEN_REQUEST))?;
        self.expect_control(open, OPEN_REPLY, "the bundle open")?;
        for fm in mods {
            let xid = self.next_xid();
            let mut data = Vec::with_capacity(128);
            data.extend_from_slice(&id.to_be_bytes());
            data.extend_from_slice(&0u16.to_be_bytes());
            data.extend_from_slice(&BUNDLE_FLAGS.to_be_bytes());
            encode(xid, &Message::FlowMod(fm.clone()), &mut data);
            self.send(
                xid,
                &Message::Experimenter(ExperimenterMsg {
                    experimenter: ONF,
                    exp_type: BUNDLE_ADD,
                    data,
                }),
            )?;
        }
        // A refused message answers with an ERROR before the barrier's reply: then discard.
        let barrier = self.next_xid();
        self.send(barrier, &Message::BarrierRequest)?;
        let mut refused = None;
        loop {
            match self.recv()? {
                (x, Message::BarrierReply) if x == barrier => break,
                (_, Message::Error(e)) => refused = refused.or(Some(e)),
                _ => {}
            }
        }
        if let Some(e) = refused {
            let x = self.next_xid();
            self.send(x, &control(id, DISCARD_REQUEST))?;
            return Err(OfpError::Refused {
                what: "a flow in the bundle",
                error: e,
            });
        }
        let commit = self.next_xid();
        self.send(commit, &control(id, COMMIT_REQUEST))?;
        self.expect_control(commit, COMMIT_REPLY, "the bundle commit")
    }

    fn expect_control(&mut self, xid: u32, kind: u16, what: &'static str) -> Result<(), OfpError> {
        loop {
            match self.recv()? {
                (x, Message::Experimenter(m)) if x == xid && m.exp_type == BUNDLE_CONTROL => {
                    let got = m.data.get(4..6).map(|b| u16::from_be_bytes([b[0], b[1]]));
                    return if got == Some(kind) {
                        Ok(())
                    } else {
                        Err(OfpError::Protocol(format!("{what}: bundle reply {got:?}")))
                    };
                }
                (x, Message::Error(e)) if x == xid => {
                    return Err(OfpError::Refused { what, error: e })
                }
                _ => {}
            }
        }
    }
}

fn installed(f: &FlowStats) -> Installed {
    Installed {
        cookie: f.cookie,
        table: f.table_id,
        duration_sec: f.duration_sec,
        packets: f.packet_count,
    }
}

fn control(id: u32, kind: u16) -> Message {
    let mut data = Vec::with_capacity(8);
    data.extend_from_slice(&id.to_be_bytes());
    data.extend_from_slice(&kind.to_be_bytes());
    data.extend_from_slice(&BUNDLE_FLAGS.to_be_bytes());
    Message::Experimenter(ExperimenterMsg {
        experimenter: ONF,
        exp_type: BUNDLE_CONTROL,
        data,
    })
}

/// FLOW_MOD deleting every flow with exactly this cookie, in every table.
pub fn delete_mod(cookie: u64) -> FlowMod {
    FlowMod {
        cookie,
        cookie_mask: u64::MAX,
        table_id: OFPTT_ALL,
        command: FlowModCommand::Delete,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: 0,
        buffer_id: OFP_NO_BUFFER,
        out_port: OFPP_ANY,
        out_group: OFPG_ANY,
        flags: 0,
        matches: Vec::new(),
        instructions: Vec::new(),
    }
}

/// FLOW_MOD adding `f` with its cookie.
pub fn add_mod(f: &Flow) -> FlowMod {
    FlowMod {
        cookie: f.cookie(),
        cookie_mask: 0,
        table_id: f.table,
        command: FlowModCommand::Add,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: f.priority,
        buffer_id: OFP_NO_BUFFER,
        out_port: OFPP_ANY,
        out_group: OFPG_ANY,
        flags: 0,
        matches: f.matches.clone(),
        instructions: f.instructions.clone(),
    }
}
