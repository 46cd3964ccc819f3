//! OpenFlow 1.3 (wire version 0x04) codec for dvs: every message the switch side needs, decoded
//! from and encoded to bytes, plus the conversion between OXM/instructions and flowtable's
//! pipeline types.
//!
//! The codec works on one complete message at a time ([`decode`]); a stream is cut into messages
//! with [`frame_len`]. Decoding never panics on any input and every rejection is a
//! [`DecodeError`] that names the OpenFlow error type and code the switch must answer with
//! ([`DecodeError::to_error_msg`] builds that reply). Decoded messages keep what the controller
//! sent (match field order, explicit masks, instruction order, opaque experimenter parts), so
//! `encode(decode(bytes)) == bytes` for well-formed input and flow dumps echo flows faithfully.
//! Whether a well-formed message makes sense for this switch (a field it can match, a table it
//! has) is decided by [`convert`] and the switch itself, not here.

pub mod action;
pub mod control;
pub mod convert;
pub mod error;
pub mod flow_mod;
pub mod group;
pub mod header;
pub mod instruction;
pub mod meter;
pub mod multipart;
pub mod oxm;
pub mod packet_io;
pub mod port;

pub use action::Action;
pub use control::{
    AsyncConfig, ControllerRole, ExperimenterMsg, Hello, HelloElement, Role, SwitchConfig,
    SwitchFeatures, TableMod,
};
pub use error::{DecodeError, ErrorCode, ErrorMsg, ErrorType};
pub use flow_mod::{FlowMod, FlowModCommand, FlowRemoved};
pub use group::{Bucket, GroupMod, GroupModCommand, GroupType};
pub use header::{frame_len, msg_type, Header, OFP_NO_BUFFER, OFP_VERSION};
pub use instruction::Instruction;
pub use meter::{MeterBand, MeterMod, MeterModCommand};
pub use multipart::{MultipartReply, MultipartReplyBody, MultipartRequest, MultipartRequestBody};
pub use oxm::OxmField;
pub use packet_io::{PacketIn, PacketOut};
pub use port::{Port, PortMod, PortStatus};

use header::{patch_len, Reader, HEADER_LEN};

/// One OpenFlow 1.3 message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Message {
    Hello(Hello),
    Error(ErrorMsg),
    EchoRequest(Vec<u8>),
    EchoReply(Vec<u8>),
    Experimenter(ExperimenterMsg),
    FeaturesRequest,
    FeaturesReply(SwitchFeatures),
    GetConfigRequest,
    GetConfigReply(SwitchConfig),
    SetConfig(SwitchConfig),
    PacketIn(PacketIn),
    FlowRemoved(FlowRemoved),
    PortStatus(PortStatus),
    PacketOut(PacketOut),
    FlowMod(FlowMod),
    GroupMod(GroupMod),
    PortMod(PortMod),
    TableMod(TableMod),
    MultipartRequest(MultipartRequest),
    MultipartReply(MultipartReply),
    BarrierRequest,
    BarrierReply,
    RoleRequest(Role),
    RoleReply(Role),
    GetAsyncRequest,
    GetAsyncReply(AsyncConfig),
    SetAsync(AsyncConfig),
    MeterMod(MeterMod),
}

impl Message {
    /// The header's message type number.
    pub fn msg_type(&self) -> u8 {
        use msg_type as t;
        match self {
            Message::Hello(_) => t::HELLO,
            Message::Error(_) => t::ERROR,
            Message::EchoRequest(_) => t::ECHO_REQUEST,
            Message::EchoReply(_) => t::ECHO_REPLY,
            Message::Experimenter(_) => t::EXPERIMENTER,
            Message::FeaturesRequest => t::FEATURES_REQUEST,
            Message::FeaturesReply(_) => t::FEATURES_REPLY,
            Message::GetConfigRequest => t::GET_CONFIG_REQUEST,
            Message::GetConfigReply(_) => t::GET_CONFIG_REPLY,
            Message::SetConfig(_) => t::SET_CONFIG,
            Message::PacketIn(_) => t::PACKET_IN,
            Message::FlowRemoved(_) => t::FLOW_REMOVED,
            Message::PortStatus(_) => t::PORT_STATUS,
            Message::PacketOut(_) => t::PACKET_OUT,
            Message::FlowMod(_) => t::FLOW_MOD,
            Message::GroupMod(_) => t::GROUP_MOD,
            Message::PortMod(_) => t::PORT_MOD,
            Message::TableMod(_) => t::TABLE_MOD,
            Message::MultipartRequest(_) => t::MULTIPART_REQUEST,
            Message::MultipartReply(_) => t::MULTIPART_REPLY,
            Message::BarrierRequest => t::BARRIER_REQUEST,
            Message::BarrierReply => t::BARRIER_REPLY,
            Message::RoleRequest(_) => t::ROLE_REQUEST,
            Message::RoleReply(_) => t::ROLE_REPLY,
            Message::GetAsyncRequest => t::GET_ASYNC_REQUEST,
            Message::GetAsyncReply(_) => t::GET_ASYNC_REPLY,
            Message::SetAsync(_) => t::SET_ASYNC,
            Message::MeterMod(_) => t::METER_MOD,
        }
    }
}

/// Decode one complete message (`buf.len()` must equal the header's length).
///
/// HELLO is accepted with any version so that version negotiation can happen; every other
/// message must be version 0x04.
pub fn decode(buf: &[u8]) -> Result<(Header, Message), DecodeError> {
    use msg_type as t;
    let h = Header::peek(buf).ok_or(DecodeError::BadLen)?;
    if usize::from(h.length) != buf.len() {
        return Err(DecodeError::BadLen);
    }
    if h.version != OFP_VERSION && h.msg_type != t::HELLO {
        return Err(DecodeError::BadVersion(h.version));
    }
    let r = &mut Reader::new(&buf[HEADER_LEN..], DecodeError::BadLen);
    let m = match h.msg_type {
        t::HELLO => Message::Hello(Hello::decode(r)?),
        t::ERROR => Message::Error(ErrorMsg::decode(r)?),
        t::ECHO_REQUEST => Message::EchoRequest(r.rest().to_vec()),
        t::ECHO_REPLY => Message::EchoReply(r.rest().to_vec()),
        t::EXPERIMENTER => Message::Experimenter(ExperimenterMsg::decode(r)?),
        t::FEATURES_REQUEST => Message::FeaturesRequest,
        t::FEATURES_REPLY => Message::FeaturesReply(SwitchFeatures::decode(r)?),
        t::GET_CONFIG_REQUEST => Message::GetConfigRequest,
        t::GET_CONFIG_REPLY => Message::GetConfigReply(SwitchConfig::decode(r)?),
        t::SET_CONFIG => Message::SetConfig(SwitchConfig::decode(r)?),
        t::PACKET_IN => Message::PacketIn(PacketIn::decode(r)?),
        t::FLOW_REMOVED => Message::FlowRemoved(FlowRemoved::decode(r)?),
        t::PORT_STATUS => Message::PortStatus(PortStatus::decode(r)?),
        t::PACKET_OUT => Message::PacketOut(PacketOut::decode(r)?),
        t::FLOW_MOD => Message::FlowMod(FlowMod::decode(r)?),
        t::GROUP_MOD => Message::GroupMod(GroupMod::decode(r)?),
        t::PORT_MOD => Message::PortMod(PortMod::decode(r)?),
        t::TABLE_MOD => Message::TableMod(TableMod::decode(r)?),
        t::MULTIPART_REQUEST => Message::MultipartRequest(MultipartRequest::decode(r)?),
        t::MULTIPART_REPLY => Message::MultipartReply(MultipartReply::decode(r)?),
        t::BARRIER_REQUEST => Message::BarrierRequest,
        t::BARRIER_REPLY => Message::BarrierReply,
        t::ROLE_REQUEST => Message::RoleRequest(Role::decode(r)?),
        t::ROLE_REPLY => Message::RoleReply(Role::decode(r)?),
        t::GET_ASYNC_REQUEST => Message::GetAsyncRequest,
        t::GET_ASYNC_REPLY => Message::GetAsyncReply(AsyncConfig::decode(r)?),
        t::SET_ASYNC => Message::SetAsync(AsyncConfig::decode(r)?),
        t::METER_MOD => Message::MeterMod(MeterMod::decode(r)?),
        other => return Err(DecodeError::BadType(other)),
    };
    if !r.is_empty() {
        return Err(DecodeError::BadLen);
    }
    Ok((h, m))
}

/// Append `msg` with transaction id `xid` to `out` (version 0x04, length filled in).
///
/// Messages longer than 65535 bytes cannot be represented; split multipart replies with
/// [`MultipartReplyBody::split`] first.
pub fn encode(xid: u32, msg: &Message, out: &mut Vec<u8>) {
    let start = out.len();
    Header {
        version: OFP_VERSION,
        msg_type: msg.msg_type(),
        length: 0,
        xid,
    }
    .write(out);
    match msg {
        Message::Hello(m) => m.encode(out),
        Message::Error(m) => m.encode(out),
        Message::EchoRequest(d) | Message::EchoReply(d) => out.extend_from_slice(d),
        Message::Experimenter(m) => m.encode(out),
        Message::FeaturesRequest
        | Message::GetConfigRequest
        | Message::BarrierRequest
        | Message::BarrierReply
        | Message::GetAsyncRequest => {}
        Message::FeaturesReply(m) => m.encode(out),
        Message::GetConfigReply(m) | Message::SetConfig(m) => m.encode(out),
        Message::PacketIn(m) => m.encode(out),
        Message::FlowRemoved(m) => m.encode(out),
        Message::PortStatus(m) => m.encode(out),
        Message::PacketOut(m) => m.encode(out),
        Message::FlowMod(m) => m.encode(out),
        Message::GroupMod(m) => m.encode(out),
        Message::PortMod(m) => m.encode(out),
        Message::TableMod(m) => m.encode(out),
        Message::MultipartRequest(m) => m.encode(out),
        Message::MultipartReply(m) => m.encode(out),
        Message::RoleRequest(m) | Message::RoleReply(m) => m.encode(out),
        Message::GetAsyncReply(m) | Message::SetAsync(m) => m.encode(out),
        Message::MeterMod(m) => m.encode(out),
    }
    patch_len(out, start + 2, start);
}

/// Encode into a fresh vector (convenience for tests and one-off replies).
pub fn encode_to_vec(xid: u32, msg: &Message) -> Vec<u8> {
    let mut out = Vec::new();
    encode(xid, msg, &mut out);
    out
}
