//! One OpenFlow connection: stream framing, the HELLO handshake, and dispatch of every request
//! to its handler, in arrival order.
//!
//! Framing uses the header's length field ([`frame_len`]); a message that does not decode gets
//! the ERROR the codec names (carrying the first 64 bytes of the request, with its xid) and the
//! connection goes on, because the stream is still framed. Only a header whose length is below 8
//! loses the framing: that one is answered with BAD_LEN and the connection is closed. A peer
//! whose HELLO shares no version with us gets HELLO_FAILED/INCOMPATIBLE and is disconnected.
//!
//! Bundles (the ONF extension for OpenFlow 1.3) are handled by `bundle`; FLOW_MODs that arrive
//! back to back are applied together by `coalesce`. Requests the switch does not implement
//! (other experimenter messages) are refused with an ERROR carrying the request's xid; the connection stays up, as controllers
//! probe features this way.
//!
//! The same loop serves accepted connections (management socket, `ptcp:`, `pssl:`) and the ones
//! the switch opens to its configured controllers ([`Origin`]). Only the latter are probed: after
//! `probe` without receiving anything the switch sends an ECHO_REQUEST, and if another `probe`
//! passes in silence the connection is dropped (and `active` reconnects). Accepted connections
//! are not probed: short-lived tools like `ovs-ofctl` must never see an unexpected message, and a
//! dead tool connection costs only a thread. A controller connection also reports to the hub
//! when it is admitted (its first message beyond HELLO/ECHO/ERROR), which drives the fail mode.

use super::hub::{ConnShared, Hub, DEFAULT_MISS_SEND_LEN, OFPPR_MODIFY};
use super::{bundle, coalesce, flows, groups, meters, packet_io, stats, Sock};
use datapath::cycles::monotonic_ns;
use datapath::flowmod;
use openflow::error::{
    BadRequestCode, ErrorCode, HelloFailedCode, PortModFailedCode, TableFeaturesFailedCode,
    TableModFailedCode,
};
use openflow::flow_mod::OFPTT_ALL;
use openflow::header::{msg_type, HEADER_LEN};
use openflow::multipart::{
    MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody, MAX_REPLY_BODY,
    OFPMPF_REPLY_MORE,
};
use openflow::port::{OFPPC_NO_FWD, OFPPC_NO_PACKET_IN, OFPPC_NO_RECV, OFPPC_PORT_DOWN};
use openflow::{
    decode, frame_len, ErrorMsg, FlowMod, Header, Hello, Message, PortMod, SwitchConfig,
    OFP_NO_BUFFER,
};
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

/// Transaction id of the switch's inactivity probes.
const PROBE_XID: u32 = 0x6476_7370;

/// Who opened a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// Accepted on the management socket or a `ptcp:`/`pssl:` listener.
    Passive,
    /// Opened by the switch to configured controller number `index`; probed after `probe`
    /// of silence.
    Controller { index: usize, probe: Duration },
}

/// Whether to keep reading after a message.
#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    Close,
}

struct Conn<'a> {
    hub: &'a Hub,
    shared: &'a ConnShared,
    config: SwitchConfig,
    origin: Origin,
    /// The peer has sent a message beyond the handshake.
    admitted: bool,
    /// The peer's HELLO has arrived (it must come first).
    hello: bool,
    /// Its open bundles.
    bundles: bundle::Bundles,
}

/// Serve one connection until the peer closes it, it fails (the error is returned: a failed
/// write, an unanswered probe) or the switch shuts down.
pub(super) fn serve(hub: Arc<Hub>, sock: Sock, origin: Origin) -> io::Result<()> {
    let writer = sock.try_clone()?;
    let Some(shared) = hub.register(writer) else {
        return Ok(());
    };
    if let Origin::Controller { index, .. } = origin {
        hub.controller_connected(index, &shared);
    }
    let mut c = Conn {
        hub: &hub,
        shared: &shared,
        config: SwitchConfig {
            flags: 0,
            miss_send_len: DEFAULT_MISS_SEND_LEN,
        },
        origin,
        admitted: false,
        hello: false,
        bundles: bundle::Bundles::default(),
    };
    let result = c.run(sock);
    hub.unregister(&shared);
    shared.finish();
    if let Origin::Controller { index, .. } = origin {
        let why = result.as_ref().err().map(|e| e.to_string());
        hub.controller_disconnected(index, why);
    }
    result
}

impl Conn<'_> {
    fn run(&mut self, mut sock: Sock) -> io::Result<()> {
        let probe = match self.origin {
            Origin::Passive => None,
            Origin::Controller { probe, .. } => Some(probe),
        };
        sock.set_read_timeout(probe)?;
        self.shared.send(0, &Message::Hello(Hello::ours()))?;
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
        let mut chunk = vec![0u8; 1 << 16];
        // An ECHO_REQUEST probe is outstanding (nothing received since it was sent).
        let mut probing = false;
        loop {
            // Handle every complete message in `buf`, then drop them all at once (removing each
            // from the front as it is handled moved the rest of a 64 KB read per message).
            let mut at = 0;
            while let Some(n) = frame_len(&buf[at..]) {
                let (count, bytes) = coalesce::run_at(&buf[at..]);
                if self.hello && count > 1 {
                    self.admitted_by_flow_mod();
                    let run = &buf[at..at + bytes];
                    for (xid, reply) in coalesce::apply_run(self.hub, self.shared, run) {
                        self.reply(xid, reply)?;
                    }
                    at += bytes;
                    continue;
                }
                let msg = &buf[at..at + n];
                let lost = Header::peek(msg).is_none_or(|h| usize::from(h.length) < HEADER_LEN);
                let next = self.handle(msg)?;
                at += n;
                if lost || next == Next::Close {
                    // `serve` writes what is queued (the ERROR that says why), then shuts the
                    // stream down.
                    return Ok(());
                }
            }
            buf.drain(..at);
            match sock.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(got) => {
                    probing = false;
                    buf.extend_from_slice(&chunk[..got]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if probe.is_some()
                        && matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                {
                    let idle = probe.unwrap_or_default().as_secs_f64();
                    if probing {
                        sock.shutdown();
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("no reply to an echo request for {idle:.1} s"),
                        ));
                    }
                    self.shared
                        .send(PROBE_XID, &Message::EchoRequest(Vec::new()))?;
                    probing = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Note the peer's first message beyond the handshake (a controller is admitted then).
    fn admit(&mut self, msg: &Message) {
        use Message as M;
        if self.admitted
            || matches!(
                msg,
                M::Hello(_) | M::EchoRequest(_) | M::EchoReply(_) | M::Error(_)
            )
        {
            return;
        }
        self.admitted = true;
        if let Origin::Controller { index, .. } = self.origin {
            self.hub.controller_admitted(index);
        }
    }

    /// A run of FLOW_MODs admits a controller as any one of them would.
    fn admitted_by_flow_mod(&mut self) {
        if !self.admitted {
            self.admitted = true;
            if let Origin::Controller { index, .. } = self.origin {
                self.hub.controller_admitted(index);
            }
        }
    }

    fn reply(&self, xid: u32, msg: Message) -> io::Result<()> {
        self.shared.send(xid, &msg)
    }

    fn error(&self, xid: u32, code: ErrorCode, raw: &[u8]) -> io::Result<()> {
        self.reply(xid, Message::Error(ErrorMsg::new(code, raw)))
    }

    fn handle(&mut self, raw: &[u8]) -> io::Result<Next> {
        let xid = Header::peek(raw).map_or(0, |h| h.xid);
        if !self.hello {
            // OpenFlow 1.3 section 6.3.1: HELLO first. Anything else before it is refused,
            // and the connection closed, as OVS does.
            if Header::peek(raw).is_some_and(|h| h.msg_type == msg_type::HELLO) {
                self.hello = true;
            } else {
                let mut e =
                    ErrorMsg::new(ErrorCode::HelloFailed(HelloFailedCode::Incompatible), &[]);
                e.data = b"expected HELLO first".to_vec();
                self.reply(xid, Message::Error(e))?;
                return Ok(Next::Close);
            }
        }
        match decode(raw) {
            Ok((h, msg)) => self.dispatch(h, msg, raw),
            Err(e) => {
                self.reply(xid, Message::Error(e.to_error_msg(raw)))?;
                Ok(Next::Continue)
            }
        }
    }

    /// Refuse a modification from a slave connection.
    fn slave_refused(&self, xid: u32, raw: &[u8]) -> io::Result<bool> {
        if self.shared.is_slave() {
            self.error(xid, ErrorCode::BadRequest(BadRequestCode::IsSlave), raw)?;
            return Ok(true);
        }
        Ok(false)
    }

    fn dispatch(&mut self, h: Header, msg: Message, raw: &[u8]) -> io::Result<Next> {
        use Message as M;
        self.admit(&msg);
        let xid = h.xid;
        let bad_type = ErrorCode::BadRequest(BadRequestCode::BadType);
        match msg {
            M::Hello(hello) => {
                if hello.negotiate(h.version).is_none() {
                    let mut e =
                        ErrorMsg::new(ErrorCode::HelloFailed(HelloFailedCode::Incompatible), &[]);
                    e.data = b"dvs-switchd speaks OpenFlow 1.3 (0x04) only".to_vec();
                    self.reply(xid, M::Error(e))?;
                    return Ok(Next::Close);
                }
            }
            M::EchoRequest(d) => self.reply(xid, M::EchoReply(d))?,
            M::EchoReply(_) | M::Error(_) => {}
            M::FeaturesRequest => self.reply(xid, M::FeaturesReply(stats::features(self.hub)))?,
            M::GetConfigRequest => self.reply(xid, M::GetConfigReply(self.config))?,
            M::SetConfig(c) => {
                self.config = c;
                self.shared
                    .miss_send_len
                    .store(c.miss_send_len, std::sync::atomic::Ordering::Relaxed);
            }
            M::BarrierRequest => self.reply(xid, M::BarrierReply)?,
            M::RoleRequest(r) => match self.hub.request_role(self.shared, r) {
                Ok(role) => self.reply(xid, M::RoleReply(role))?,
                Err(code) => self.error(xid, code, raw)?,
            },
            M::GetAsyncRequest => {
                let cfg = *self
                    .shared
                    .async_cfg
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                self.reply(xid, M::GetAsyncReply(cfg))?
            }
            M::SetAsync(a) => {
                *self
                    .shared
                    .async_cfg
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = a
            }
            M::FlowMod(fm) => {
                if !self.slave_refused(xid, raw)? {
                    self.flow_mod(xid, &fm, raw)?;
                }
            }
            M::PortMod(pm) => {
                if !self.slave_refused(xid, raw)? {
                    self.port_mod(xid, &pm, raw)?;
                }
            }
            M::TableMod(tm) => {
                let n = self.hub.bridge.view().pipeline.n_tables();
                if !self.slave_refused(xid, raw)?
                    && tm.table_id != OFPTT_ALL
                    && usize::from(tm.table_id) >= n
                {
                    let code = ErrorCode::TableModFailed(TableModFailedCode::BadTable);
                    self.error(xid, code, raw)?;
                }
            }
            M::GroupMod(g) => {
                if !self.slave_refused(xid, raw)? {
                    if let Err(code) = groups::group_mod(self.hub, &g) {
                        self.error(xid, code, raw)?;
                    }
                }
            }
            M::MeterMod(m) => {
                if !self.slave_refused(xid, raw)? {
                    if let Err(code) = meters::meter_mod(self.hub, &m) {
                        self.error(xid, code, raw)?;
                    }
                }
            }
            M::PacketOut(po) => {
                if !self.slave_refused(xid, raw)? {
                    if let Err(code) = packet_io::packet_out(self.hub, &po) {
                        self.error(xid, code, raw)?;
                    }
                }
            }
            M::MultipartRequest(req) => self.multipart(xid, req, raw)?,
            M::Experimenter(e) if bundle::is_bundle(&e) => {
                let slave = self.shared.is_slave();
                for (x, reply) in self.bundles.handle(self.hub, slave, xid, &e, raw) {
                    self.reply(x, reply)?;
                }
            }
            M::Experimenter(_) => {
                let code = ErrorCode::BadRequest(BadRequestCode::BadExperimenter);
                self.error(xid, code, raw)?
            }
            M::FeaturesReply(_)
            | M::GetConfigReply(_)
            | M::PacketIn(_)
            | M::FlowRemoved(_)
            | M::PortStatus(_)
            | M::MultipartReply(_)
            | M::BarrierReply
            | M::RoleReply(_)
            | M::GetAsyncReply(_) => self.error(xid, bad_type, raw)?,
        }
        Ok(Next::Continue)
    }

    fn flow_mod(&self, xid: u32, fm: &FlowMod, raw: &[u8]) -> io::Result<()> {
        let req = match flows::to_request(fm) {
            Ok(r) => r,
            Err(code) => return self.error(xid, code, raw),
        };
        match flowmod::apply_batch(&self.hub.bridge, std::slice::from_ref(&req)) {
            Ok(applied) => self.hub.flows_deleted(applied.removed),
            Err(e) => return self.error(xid, flows::error_code(&e.error), raw),
        }
        if fm.buffer_id != OFP_NO_BUFFER {
            // The flow is in; there is no buffered packet to apply it to (n_buffers is 0).
            let code = ErrorCode::BadRequest(BadRequestCode::BufferUnknown);
            return self.error(xid, code, raw);
        }
        Ok(())
    }

    fn port_mod(&self, xid: u32, pm: &PortMod, raw: &[u8]) -> io::Result<()> {
        let known = self
            .hub
            .bridge
            .view()
            .port(pm.port_no)
            .map(|p| stats::port_mac(&p.name));
        match known {
            None => self.error(
                xid,
                ErrorCode::PortModFailed(PortModFailedCode::BadPort),
                raw,
            ),
            Some(mac) if mac != pm.hw_addr => self.error(
                xid,
                ErrorCode::PortModFailed(PortModFailedCode::BadHwAddr),
                raw,
            ),
            Some(_) => {
                // PORT_DOWN, NO_RECV, NO_FWD and NO_PACKET_IN are enforced by the datapath
                // (the publish invalidates every cached decision); `advertise` means nothing
                // for a software port and is ignored.
                let mask =
                    pm.mask & (OFPPC_PORT_DOWN | OFPPC_NO_RECV | OFPPC_NO_FWD | OFPPC_NO_PACKET_IN);
                let changed = self
                    .hub
                    .bridge
                    .set_port_config(pm.port_no, pm.config, mask)
                    .is_some_and(|(old, new)| old != new);
                if changed {
                    self.hub.port_status(OFPPR_MODIFY, pm.port_no);
                }
                Ok(())
            }
        }
    }

    fn multipart(&self, xid: u32, req: MultipartRequest, raw: &[u8]) -> io::Result<()> {
        use MultipartReplyBody as R;
        use MultipartRequestBody as B;
        let now = monotonic_ns();
        let refuse = |code| self.error(xid, code, raw);
        let body = match req.body {
            B::Desc => R::Desc(stats::desc(self.hub)),
            B::Flow(f) => match flows::flow_stats(&self.hub.bridge.view().pipeline, &f, now) {
                Ok(v) => R::Flow(v),
                Err(code) => return refuse(code),
            },
            B::Aggregate(f) => match flows::aggregate(&self.hub.bridge.view().pipeline, &f) {
                Ok(a) => R::Aggregate(a),
                Err(code) => return refuse(code),
            },
            B::Table => R::Table(stats::tables(self.hub)),
            B::PortStats(port) => match stats::port_stats(self.hub, port, now) {
                Some(v) => R::PortStats(v),
                None => return refuse(ErrorCode::BadRequest(BadRequestCode::BadPort)),
            },
            B::PortDesc => R::PortDesc(stats::port_desc(self.hub)),
            B::Queue { .. } => R::Queue(Vec::new()),
            B::TableFeatures(set) if set.is_empty() => {
                R::TableFeatures(stats::table_features(self.hub))
            }
            B::TableFeatures(_) => {
                return refuse(ErrorCode::TableFeaturesFailed(
                    TableFeaturesFailedCode::Eperm,
                ))
            }
            B::Group(id) => match groups::group_stats(self.hub, id) {
                Ok(b) => b,
                Err(code) => return refuse(code),
            },
            B::GroupDesc => match groups::group_desc(self.hub) {
                Ok(b) => b,
                Err(code) => return refuse(code),
            },
            B::GroupFeatures => match groups::group_features(self.hub) {
                Ok(b) => b,
                Err(code) => return refuse(code),
            },
            B::Meter(id) => match meters::meter_stats(self.hub, id) {
                Ok(b) => b,
                Err(code) => return refuse(code),
            },
            B::MeterConfig(id) => match meters::meter_config(self.hub, id) {
                Ok(b) => b,
                Err(code) => return refuse(code),
            },
            B::MeterFeatures => match meters::meter_features(self.hub) {
                Ok(b) => b,
                Err(code) => return refuse(code),
            },
            B::Experimenter { .. } => {
                return refuse(ErrorCode::BadRequest(BadRequestCode::BadExperimenter))
            }
        };
        let parts = body.split(MAX_REPLY_BODY);
        let last = parts.len().saturating_sub(1);
        let mut out = Vec::new();
        for (i, body) in parts.into_iter().enumerate() {
            let flags = if i < last { OFPMPF_REPLY_MORE } else { 0 };
            let msg = Message::MultipartReply(MultipartReply { flags, body });
            openflow::encode(xid, &msg, &mut out);
        }
        self.shared.send_raw(&out)
    }
}
