//! Malformed messages are refused with the OpenFlow error type and code the switch must send,
//! and the error reply carries the first 64 bytes of the offending request.

mod vectors;

use openflow::error::{BadActionCode, BadMatchCode, BadRequestCode, ErrorCode};
use openflow::*;

fn flow_mod_add() -> Vec<u8> {
    vectors::all()
        .into_iter()
        .find(|v| v.name == "flow-mod-add")
        .unwrap()
        .bytes
}

fn err(b: &[u8]) -> (ErrorType, u16) {
    decode(b).expect_err("must be refused").to_error()
}

#[test]
fn header_level_errors() {
    let mut b = flow_mod_add();
    b.push(0);
    assert_eq!(
        err(&b),
        (ErrorType::BadRequest, BadRequestCode::BadLen as u16)
    );
    let b = flow_mod_add();
    assert_eq!(err(&b[..7]), (ErrorType::BadRequest, 6));
    let mut b = flow_mod_add();
    b[0] = 1;
    assert_eq!(
        err(&b),
        (ErrorType::BadRequest, BadRequestCode::BadVersion as u16)
    );
    let mut b = flow_mod_add();
    b[1] = 99;
    assert_eq!(
        err(&b),
        (ErrorType::BadRequest, BadRequestCode::BadType as u16)
    );
    // OFPT_QUEUE_GET_CONFIG_REQUEST is not implemented: BAD_TYPE too.
    assert_eq!(
        err(&[4, 22, 0, 16, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]).1,
        1
    );
    // A HELLO from an OpenFlow 1.0 peer still decodes, for version negotiation.
    let (h, m) = decode(&[1, 0, 0, 8, 0, 0, 0, 1]).unwrap();
    assert_eq!(h.version, 1);
    let Message::Hello(hello) = m else { panic!() };
    assert_eq!(hello.negotiate(h.version), None);
    // Barrier with a body.
    assert_eq!(err(&[4, 20, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0]).1, 6);
    // Unknown multipart type.
    let mp = [4, 18, 0, 16, 0, 0, 0, 1, 0, 99, 0, 0, 0, 0, 0, 0];
    assert_eq!(
        err(&mp),
        (ErrorType::BadRequest, BadRequestCode::BadMultipart as u16)
    );
}

#[test]
fn flow_mod_body_errors() {
    // Offsets in flow-mod-add: command at 8+17, match at 48, first OXM header at 52,
    // apply-actions' first action at 80 + 8 = 88, output action's port at 112 + 4.
    let mut b = flow_mod_add();
    b[25] = 9;
    assert_eq!(err(&b), (ErrorType::FlowModFailed, 6));
    let mut b = flow_mod_add();
    b[54] = 0x02; // in_port -> in_phy_port (unsupported field)
    assert_eq!(
        err(&b),
        (ErrorType::BadMatch, BadMatchCode::BadField as u16)
    );
    let mut b = flow_mod_add();
    b[48 + 1] = 0; // OFPMT_STANDARD
    assert_eq!(err(&b), (ErrorType::BadMatch, BadMatchCode::BadType as u16));
    let mut b = flow_mod_add();
    b[73] = 1; // ipv4_dst value 10.0.0.1 under mask /8
    assert_eq!(
        err(&b),
        (ErrorType::BadMatch, BadMatchCode::BadWildcards as u16)
    );
    let mut b = flow_mod_add();
    b[48 + 3] = 0x1f; // match length no longer agrees with the TLVs
    assert_eq!(err(&b).0, ErrorType::BadMatch);
    let mut b = flow_mod_add();
    b[80 + 1] = 9; // instruction type 9
    assert_eq!(err(&b), (ErrorType::BadInstruction, 0));
    let mut b = flow_mod_add();
    b[88 + 1] = 99; // action type 99
    assert_eq!(
        err(&b),
        (ErrorType::BadAction, BadActionCode::BadType as u16)
    );
    let mut b = flow_mod_add();
    b[88 + 3] = 12; // push_vlan with length 12
    assert_eq!(
        err(&b),
        (ErrorType::BadAction, BadActionCode::BadLen as u16)
    );
    let mut b = flow_mod_add();
    b[112 + 7] = 0; // output to port 0
    assert_eq!(
        err(&b),
        (ErrorType::BadAction, BadActionCode::BadOutPort as u16)
    );
}

#[test]
fn error_reply_carries_64_bytes_and_ovs_reads_it() {
    let mut b = flow_mod_add();
    b[112 + 7] = 0;
    let e = decode(&b).unwrap_err();
    let reply = Message::Error(e.to_error_msg(&b));
    let bytes = encode_to_vec(Header::peek(&b).unwrap().xid, &reply);
    assert_eq!(bytes.len(), 8 + 4 + 64);
    assert_eq!(&bytes[12..], &b[..64]);
    let Message::Error(m) = decode(&bytes).unwrap().1 else {
        panic!()
    };
    assert_eq!(
        m.typed(),
        Some(ErrorCode::BadAction(BadActionCode::BadOutPort))
    );
    let hex: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
    if let Ok(out) = std::process::Command::new("ovs-ofctl")
        .args(["ofp-print", &hex])
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("OFPBAC_BAD_OUT_PORT"), "{text}");
    }
}
