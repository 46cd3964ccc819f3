//! Fuzz the OpenFlow 1.3 codec: `openflow::decode` for every message type, the stream framing the
//! connection loop uses (`frame_len` over back-to-back messages), and the conversions a switch
//! applies to what it decoded (flow-mod match and instructions, packet-out and bucket actions).
//!
//! Each input is tried three ways: as it is; "shaped", with version 4 and the length patched to
//! the input's, so that every input reaches the body parser its type byte names instead of
//! stopping at the header check; and as a byte stream cut into frames by `frame_len`.
//! Properties: no panic; whatever decodes re-encodes to bytes that decode and re-encode
//! identically (strings are normalised once, so encodings are compared); a match converted to
//! flowtable form converts back to OXM fields that convert to the same match.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openflow::convert::{
    flow_mod_parts, from_flowtable_match, to_flowtable_actions, to_flowtable_match,
};
use openflow::{decode, encode_to_vec, frame_len, Message};

fn one(bytes: &[u8]) {
    let Ok((h, m)) = decode(bytes) else {
        return;
    };
    let once = encode_to_vec(h.xid, &m);
    let (_, again) = decode(&once).expect("own encoding decodes");
    assert_eq!(encode_to_vec(h.xid, &again), once, "encoding is stable");
    match &m {
        Message::FlowMod(fm) => {
            if let Ok((mat, _ins)) = flow_mod_parts(fm) {
                let oxm = from_flowtable_match(&mat);
                assert_eq!(
                    to_flowtable_match(&oxm).as_ref(),
                    Ok(&mat),
                    "match survives flowtable -> OXM -> flowtable"
                );
            }
        }
        Message::PacketOut(po) => {
            let _ = to_flowtable_actions(&po.actions);
        }
        Message::GroupMod(gm) => {
            for b in &gm.buckets {
                let _ = to_flowtable_actions(&b.actions);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    one(data);
    if data.len() >= 8 && data.len() <= usize::from(u16::MAX) {
        let mut shaped = data.to_vec();
        shaped[0] = openflow::OFP_VERSION;
        shaped[2..4].copy_from_slice(&(data.len() as u16).to_be_bytes());
        one(&shaped);
    }
    let mut at = 0;
    while let Some(n) = frame_len(&data[at..]) {
        if n == 0 {
            break;
        }
        one(&data[at..at + n]);
        at += n;
    }
});
