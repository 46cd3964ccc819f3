//! `switchd::ofp::serve_stream`, the seam the `ofp_conn` fuzz target drives one OpenFlow
//! connection through: a session on a socket pair is answered as one on the management socket
//! is, its FLOW_MOD and PACKET_OUT reach the running switch, and the call returns (with the
//! connection unregistered and its socket closed) when the peer half-closes, or at once after
//! a refused handshake.

#[allow(dead_code)]
#[path = "ofctl/client.rs"]
mod client;

use client::flow_mod;
use datapath::config::FailMode;
use datapath::switch::Switch;
use openflow::error::ErrorType;
use openflow::header::msg_type;
use openflow::{
    decode, encode_to_vec, frame_len, Action, FlowModCommand, Hello, Message, PacketOut,
    OFP_NO_BUFFER,
};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use switchd::ofp::{serve_stream, Hub};

const OFPP_CONTROLLER: u32 = 0xffff_fffd;
const OFPP_TABLE: u32 = 0xffff_fff9;

fn switch() -> Arc<Switch> {
    let text = "[switch]\npmd_cores = [0]\npool_frames = 1024\npmd_sleep_max_us = 100\n\n\
        [[bridge]]\nname = \"br0\"\ndatapath_id = \"0xabc\"\n\
        [[bridge.port]]\nname = \"a\"\nkind = \"mock\"\nofport = 1\n\
        [[bridge.port]]\nname = \"b\"\nkind = \"mock\"\nofport = 2\n";
    let cfg = switchd::conffile::parse(text, Path::new("serve.toml")).expect("config");
    let sw = Arc::new(Switch::build(cfg).expect("build"));
    sw.start().expect("start");
    sw
}

/// Send `msgs` on one end of a socket pair, half-close it, serve the other end with
/// `serve_stream`, and return the decoded replies and the hub.
fn session(sw: &Arc<Switch>, msgs: &[(u32, Message)]) -> (Vec<(u32, Message)>, Arc<Hub>) {
    let bridge = sw.bridge("br0").expect("br0");
    let hub = Arc::new(Hub::with_controllers(
        bridge,
        Vec::new(),
        FailMode::Standalone,
    ));
    let (mut peer, ours) = UnixStream::pair().expect("pair");
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    for (xid, m) in msgs {
        peer.write_all(&encode_to_vec(*xid, m)).expect("write");
    }
    peer.shutdown(Shutdown::Write).expect("half-close");
    let served = {
        let hub = hub.clone();
        std::thread::spawn(move || serve_stream(hub, ours))
    };
    let mut bytes = Vec::new();
    peer.read_to_end(&mut bytes)
        .expect("end of file once the switch side is done");
    served.join().expect("no panic").expect("served");
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(n) = frame_len(&bytes[at..]).filter(|n| *n > 0) {
        let (h, m) = decode(&bytes[at..at + n]).expect("reply decodes");
        out.push((h.xid, m));
        at += n;
    }
    assert_eq!(at, bytes.len(), "whole replies only");
    (out, hub)
}

fn frame() -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&[2, 0, 0, 0, 0, 0xa, 0x88, 0xb5]);
    f.resize(60, 0);
    f
}

#[test]
fn a_session_is_answered_in_order_and_reaches_the_switch() {
    let sw = switch();
    let out = Action::Output {
        port: 2,
        max_len: 0,
    };
    let msgs = vec![
        (0, Message::Hello(Hello::ours())),
        (1, Message::FeaturesRequest),
        (
            2,
            Message::FlowMod(flow_mod(FlowModCommand::Add, vec![], vec![out])),
        ),
        (
            3,
            Message::PacketOut(PacketOut {
                buffer_id: OFP_NO_BUFFER,
                in_port: OFPP_CONTROLLER,
                actions: vec![Action::Output {
                    port: OFPP_TABLE,
                    max_len: 0,
                }],
                data: frame(),
            }),
        ),
        (4, Message::BarrierRequest),
    ];
    let (replies, hub) = session(&sw, &msgs);
    let kinds: Vec<(u32, &'static str)> = replies
        .iter()
        .map(|(x, m)| {
            let k = match m {
                Message::Hello(_) => "hello",
                Message::FeaturesReply(f) => {
                    assert_eq!(f.datapath_id, 0xabc);
                    "features"
                }
                Message::BarrierReply => "barrier",
                other => panic!("unexpected reply {other:?}"),
            };
            (*x, k)
        })
        .collect();
    assert_eq!(kinds, vec![(0, "hello"), (1, "features"), (4, "barrier")]);
    let sent = sw.mock("b").expect("b").take_sent();
    assert_eq!(
        sent,
        vec![frame()],
        "the PACKET_OUT went through the new flow"
    );
    assert!(sw.mock("a").expect("a").take_sent().is_empty());
    assert_eq!(hub.connections(), 0, "unregistered when served");
    sw.stop();
}

#[test]
fn a_session_without_hello_is_refused_and_closed() {
    let sw = switch();
    // The peer never half-closes the write side here: serve_stream must return on its own.
    let bridge = sw.bridge("br0").expect("br0");
    let hub = Arc::new(Hub::with_controllers(
        bridge,
        Vec::new(),
        FailMode::Standalone,
    ));
    let (mut peer, ours) = UnixStream::pair().expect("pair");
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    peer.write_all(&encode_to_vec(7, &Message::FeaturesRequest))
        .expect("write");
    let served = {
        let hub = hub.clone();
        std::thread::spawn(move || serve_stream(hub, ours))
    };
    let mut bytes = Vec::new();
    peer.read_to_end(&mut bytes).expect("closed by the switch");
    served.join().expect("no panic").expect("served");
    let n = frame_len(&bytes).expect("a whole first reply");
    let (h, first) = decode(&bytes[..n]).expect("hello");
    assert_eq!(h.msg_type, msg_type::HELLO);
    assert!(matches!(first, Message::Hello(_)));
    match decode(&bytes[n..]).expect("one error after it, and nothing else") {
        (h, Message::Error(e)) => {
            assert_eq!(h.xid, 7);
            assert_eq!(e.err_type, ErrorType::HelloFailed);
        }
        other => panic!("expected HELLO_FAILED, got {other:?}"),
    }
    assert_eq!(hub.connections(), 0);
    sw.stop();
}
