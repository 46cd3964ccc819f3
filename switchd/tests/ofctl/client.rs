//! A minimal OpenFlow 1.3 client for the management-socket tests, and message builders.

use flowtable::field::ETH_TYPE_IPV4;
use flowtable::Field;
use openflow::error::ErrorType;
use openflow::flow_mod::OFPG_ANY;
use openflow::instruction::Instruction;
use openflow::multipart::flow::{FlowStats, FlowStatsRequest};
use openflow::multipart::{MultipartReplyBody, MultipartRequest, MultipartRequestBody};
use openflow::oxm::OxmField;
use openflow::{
    decode, encode_to_vec, frame_len, Action, FlowMod, FlowModCommand, Header, Hello, Message,
    OFP_NO_BUFFER,
};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

const OFPP_ANY: u32 = 0xffff_ffff;

/// A minimal OpenFlow client over the management socket.
pub struct Client {
    s: UnixStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(path: &Path) -> Client {
        let mut c = Client::raw(path);
        c.send(1, &Message::Hello(Hello::ours()));
        let (_, m) = c.recv().expect("hello");
        assert!(matches!(m, Message::Hello(_)), "{m:?}");
        c
    }

    pub fn raw(path: &Path) -> Client {
        let s = UnixStream::connect(path).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(3)))
            .expect("timeout");
        Client { s, buf: Vec::new() }
    }

    pub fn send(&mut self, xid: u32, m: &Message) {
        self.s.write_all(&encode_to_vec(xid, m)).expect("send");
    }

    pub fn send_raw(&mut self, b: &[u8]) {
        self.s.write_all(b).expect("send");
    }

    /// The next message, or `None` on timeout or end of stream.
    pub fn recv(&mut self) -> Option<(Header, Message)> {
        loop {
            if let Some(n) = frame_len(&self.buf) {
                let m = decode(&self.buf[..n]).expect("switch sends valid messages");
                self.buf.drain(..n);
                return Some(m);
            }
            let mut chunk = [0u8; 4096];
            match self.s.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Expect an ERROR for `xid` with this type and code, then check the connection still
    /// answers an echo.
    pub fn expect_error(&mut self, xid: u32, t: ErrorType, code: u16) {
        let (h, m) = self.recv().expect("an error");
        let Message::Error(e) = m else {
            panic!("expected an error, got {m:?}")
        };
        assert_eq!((h.xid, e.err_type, e.code), (xid, t, code), "{e:?}");
        self.send(900 + xid, &Message::EchoRequest(vec![xid as u8]));
        let (h, m) = self.recv().expect("echo reply");
        assert_eq!((h.xid, m), (900 + xid, Message::EchoReply(vec![xid as u8])));
    }
}

pub fn flow_mod(command: FlowModCommand, matches: Vec<OxmField>, actions: Vec<Action>) -> FlowMod {
    FlowMod {
        cookie: 0x77,
        cookie_mask: 0,
        table_id: 0,
        command,
        idle_timeout: 0,
        hard_timeout: 0,
        priority: 100,
        buffer_id: OFP_NO_BUFFER,
        out_port: OFPP_ANY,
        out_group: OFPG_ANY,
        flags: 0,
        matches,
        instructions: if actions.is_empty() {
            vec![]
        } else {
            vec![Instruction::ApplyActions(actions)]
        },
    }
}

pub fn udp_dst_match(last: u8) -> Vec<OxmField> {
    vec![
        OxmField::exact(Field::EthType, ETH_TYPE_IPV4.into()),
        OxmField::exact(Field::IpProto, 17),
        OxmField::exact(Field::Ipv4Dst, u128::from(0x0a00_0000u32 | u32::from(last))),
    ]
}

pub fn barrier_header(xid: u32) -> Header {
    Header {
        version: 4,
        msg_type: openflow::msg_type::BARRIER_REPLY,
        length: 8,
        xid,
    }
}

pub fn flow_stats(c: &mut Client, xid: u32) -> Vec<FlowStats> {
    let req = MultipartRequest {
        flags: 0,
        body: MultipartRequestBody::Flow(FlowStatsRequest {
            table_id: 0xff,
            out_port: OFPP_ANY,
            out_group: OFPG_ANY,
            cookie: 0,
            cookie_mask: 0,
            matches: vec![],
        }),
    };
    c.send(xid, &Message::MultipartRequest(req));
    match c.recv().expect("flow stats") {
        (h, Message::MultipartReply(m)) if h.xid == xid => match m.body {
            MultipartReplyBody::Flow(v) => v,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}
