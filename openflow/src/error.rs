//! OpenFlow errors in both roles: the `OFPT_ERROR` message ([`ErrorMsg`], with every 1.3 error
//! type and code as an enum) and [`DecodeError`], the reason this crate rejected a message.
//!
//! Every `DecodeError` variant names what failed *and* knows which `(type, code)` pair the switch
//! must answer with ([`DecodeError::to_error`]), so the connection layer never has to guess: a
//! truncated action is `OFPBAC_BAD_LEN`, a value with bits outside its mask `OFPBMC_BAD_WILDCARDS`.
//! [`DecodeError::to_error_msg`] builds the complete reply carrying the first 64 bytes of the
//! offending request, as the specification asks.

use thiserror::Error;

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident = $n:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u16)]
        #[allow(missing_docs)]
        pub enum $name { $($v = $n),* }

        impl $name {
            /// The code for a wire value, if known.
            pub fn from_u16(v: u16) -> Option<$name> {
                match v {
                    $($n => Some($name::$v),)*
                    _ => None,
                }
            }
        }
    };
}

code_enum!(
    /// `enum ofp_error_type`.
    ErrorType {
        HelloFailed = 0, BadRequest = 1, BadAction = 2, BadInstruction = 3, BadMatch = 4,
        FlowModFailed = 5, GroupModFailed = 6, PortModFailed = 7, TableModFailed = 8,
        QueueOpFailed = 9, SwitchConfigFailed = 10, RoleRequestFailed = 11, MeterModFailed = 12,
        TableFeaturesFailed = 13, Experimenter = 0xffff,
    }
);
code_enum!(
    /// OFPHFC_* codes.
    HelloFailedCode { Incompatible = 0, Eperm = 1 }
);
code_enum!(
    /// OFPBRC_* codes.
    BadRequestCode {
        BadVersion = 0, BadType = 1, BadMultipart = 2, BadExperimenter = 3, BadExpType = 4,
        Eperm = 5, BadLen = 6, BufferEmpty = 7, BufferUnknown = 8, BadTableId = 9, IsSlave = 10,
        BadPort = 11, BadPacket = 12, MultipartBufferOverflow = 13,
    }
);
code_enum!(
    /// OFPBAC_* codes.
    BadActionCode {
        BadType = 0, BadLen = 1, BadExperimenter = 2, BadExpType = 3, BadOutPort = 4,
        BadArgument = 5, Eperm = 6, TooMany = 7, BadQueue = 8, BadOutGroup = 9,
        MatchInconsistent = 10, UnsupportedOrder = 11, BadTag = 12, BadSetType = 13,
        BadSetLen = 14, BadSetArgument = 15,
    }
);
code_enum!(
    /// OFPBIC_* codes (OpenFlow 1.3 has no DUP_INST; see [`DecodeError::InstructionDuplicate`]).
    BadInstructionCode {
        UnknownInst = 0, UnsupInst = 1, BadTableId = 2, UnsupMetadata = 3,
        UnsupMetadataMask = 4, BadExperimenter = 5, BadExpType = 6, BadLen = 7, Eperm = 8,
    }
);
code_enum!(
    /// OFPBMC_* codes.
    BadMatchCode {
        BadType = 0, BadLen = 1, BadTag = 2, BadDlAddrMask = 3, BadNwAddrMask = 4,
        BadWildcards = 5, BadField = 6, BadValue = 7, BadMask = 8, BadPrereq = 9, DupField = 10,
        Eperm = 11,
    }
);
code_enum!(
    /// OFPFMFC_* codes.
    FlowModFailedCode {
        Unknown = 0, TableFull = 1, BadTableId = 2, Overlap = 3, Eperm = 4, BadTimeout = 5,
        BadCommand = 6, BadFlags = 7,
    }
);
code_enum!(
    /// OFPGMFC_* codes.
    GroupModFailedCode {
        GroupExists = 0, InvalidGroup = 1, WeightUnsupported = 2, OutOfGroups = 3,
        OutOfBuckets = 4, ChainingUnsupported = 5, WatchUnsupported = 6, Loop = 7,
        UnknownGroup = 8, ChainedGroup = 9, BadType = 10, BadCommand = 11, BadBucket = 12,
        BadWatch = 13, Eperm = 14,
    }
);
code_enum!(
    /// OFPPMFC_* codes.
    PortModFailedCode { BadPort = 0, BadHwAddr = 1, BadConfig = 2, BadAdvertise = 3, Eperm = 4 }
);
code_enum!(
    /// OFPTMFC_* codes.
    TableModFailedCode { BadTable = 0, BadConfig = 1, Eperm = 2 }
);
code_enum!(
    /// OFPQOFC_* codes.
    QueueOpFailedCode { BadPort = 0, BadQueue = 1, Eperm = 2 }
);
code_enum!(
    /// OFPSCFC_* codes.
    SwitchConfigFailedCode { BadFlags = 0, BadLen = 1, Eperm = 2 }
);
code_enum!(
    /// OFPRRFC_* codes.
    RoleRequestFailedCode { Stale = 0, Unsup = 1, BadRole = 2 }
);
code_enum!(
    /// OFPMMFC_* codes.
    MeterModFailedCode {
        Unknown = 0, MeterExists = 1, InvalidMeter = 2, UnknownMeter = 3, BadCommand = 4,
        BadFlags = 5, BadRate = 6, BadBurst = 7, BadBand = 8, BadBandValue = 9,
        OutOfMeters = 10, OutOfBands = 11,
    }
);
code_enum!(
    /// OFPTFFC_* codes.
    TableFeaturesFailedCode {
        BadTable = 0, BadMetadata = 1, BadType = 2, BadLen = 3, BadArgument = 4, Eperm = 5,
    }
);

/// A typed (error type, code) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ErrorCode {
    HelloFailed(HelloFailedCode),
    BadRequest(BadRequestCode),
    BadAction(BadActionCode),
    BadInstruction(BadInstructionCode),
    BadMatch(BadMatchCode),
    FlowModFailed(FlowModFailedCode),
    GroupModFailed(GroupModFailedCode),
    PortModFailed(PortModFailedCode),
    TableModFailed(TableModFailedCode),
    QueueOpFailed(QueueOpFailedCode),
    SwitchConfigFailed(SwitchConfigFailedCode),
    RoleRequestFailed(RoleRequestFailedCode),
    MeterModFailed(MeterModFailedCode),
    TableFeaturesFailed(TableFeaturesFailedCode),
}

impl ErrorCode {
    /// The wire (type, code) pair.
    pub fn split(self) -> (ErrorType, u16) {
        use ErrorCode as C;
        match self {
            C::HelloFailed(c) => (ErrorType::HelloFailed, c as u16),
            C::BadRequest(c) => (ErrorType::BadRequest, c as u16),
            C::BadAction(c) => (ErrorType::BadAction, c as u16),
            C::BadInstruction(c) => (ErrorType::BadInstruction, c as u16),
            C::BadMatch(c) => (ErrorType::BadMatch, c as u16),
            C::FlowModFailed(c) => (ErrorType::FlowModFailed, c as u16),
            C::GroupModFailed(c) => (ErrorType::GroupModFailed, c as u16),
            C::PortModFailed(c) => (ErrorType::PortModFailed, c as u16),
            C::TableModFailed(c) => (ErrorType::TableModFailed, c as u16),
            C::QueueOpFailed(c) => (ErrorType::QueueOpFailed, c as u16),
            C::SwitchConfigFailed(c) => (ErrorType::SwitchConfigFailed, c as u16),
            C::RoleRequestFailed(c) => (ErrorType::RoleRequestFailed, c as u16),
            C::MeterModFailed(c) => (ErrorType::MeterModFailed, c as u16),
            C::TableFeaturesFailed(c) => (ErrorType::TableFeaturesFailed, c as u16),
        }
    }

    /// The typed code for a wire pair, when both are known (never for experimenter errors).
    pub fn from_parts(t: ErrorType, code: u16) -> Option<ErrorCode> {
        use ErrorCode as C;
        Some(match t {
            ErrorType::HelloFailed => C::HelloFailed(HelloFailedCode::from_u16(code)?),
            ErrorType::BadRequest => C::BadRequest(BadRequestCode::from_u16(code)?),
            ErrorType::BadAction => C::BadAction(BadActionCode::from_u16(code)?),
            ErrorType::BadInstruction => C::BadInstruction(BadInstructionCode::from_u16(code)?),
            ErrorType::BadMatch => C::BadMatch(BadMatchCode::from_u16(code)?),
            ErrorType::FlowModFailed => C::FlowModFailed(FlowModFailedCode::from_u16(code)?),
            ErrorType::GroupModFailed => C::GroupModFailed(GroupModFailedCode::from_u16(code)?),
            ErrorType::PortModFailed => C::PortModFailed(PortModFailedCode::from_u16(code)?),
            ErrorType::TableModFailed => C::TableModFailed(TableModFailedCode::from_u16(code)?),
            ErrorType::QueueOpFailed => C::QueueOpFailed(QueueOpFailedCode::from_u16(code)?),
            ErrorType::SwitchConfigFailed => {
                C::SwitchConfigFailed(SwitchConfigFailedCode::from_u16(code)?)
            }
            ErrorType::RoleRequestFailed => {
                C::RoleRequestFailed(RoleRequestFailedCode::from_u16(code)?)
            }
            ErrorType::MeterModFailed => C::MeterModFailed(MeterModFailedCode::from_u16(code)?),
            ErrorType::TableFeaturesFailed => {
                C::TableFeaturesFailed(TableFeaturesFailedCode::from_u16(code)?)
            }
            ErrorType::Experimenter => return None,
        })
    }
}

/// How many bytes of the failed request an error reply carries.
pub const ERROR_DATA_LEN: usize = 64;

/// An `OFPT_ERROR` message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ErrorMsg {
    /// Error type.
    pub err_type: ErrorType,
    /// Code within the type (the `exp_type` for experimenter errors).
    pub code: u16,
    /// Experimenter id; only on the wire when `err_type` is `Experimenter`.
    pub experimenter: u32,
    /// The failed request's first bytes, or ASCII text for HELLO_FAILED.
    pub data: Vec<u8>,
}

impl ErrorMsg {
    /// An error reply to `request`, carrying its first 64 bytes.
    pub fn new(code: ErrorCode, request: &[u8]) -> ErrorMsg {
        let (err_type, code) = code.split();
        ErrorMsg {
            err_type,
            code,
            experimenter: 0,
            data: request[..request.len().min(ERROR_DATA_LEN)].to_vec(),
        }
    }

    /// The typed code, when the pair is a known standard one.
    pub fn typed(&self) -> Option<ErrorCode> {
        ErrorCode::from_parts(self.err_type, self.code)
    }
}

/// Why a message could not be decoded (or converted); see [`DecodeError::to_error`].
#[derive(Clone, Copy, Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The message or one of its fixed parts is shorter or longer than its length says.
    #[error("bad message length")]
    BadLen,
    /// Unsupported OpenFlow version.
    #[error("unsupported OpenFlow version {0:#04x}")]
    BadVersion(u8),
    /// Unknown or unsupported message type.
    #[error("unknown message type {0}")]
    BadType(u8),
    /// Unknown multipart type.
    #[error("unknown multipart type {0}")]
    BadMultipart(u16),
    /// Unknown ERROR message type.
    #[error("unknown error type {0}")]
    BadErrorType(u16),
    /// Match type other than OFPMT_OXM.
    #[error("unsupported match type {0}")]
    MatchBadType(u16),
    /// Match or OXM TLV with a bad length.
    #[error("bad match length")]
    MatchBadLen,
    /// OXM class/field this switch does not know.
    #[error("unknown match field class {class:#06x} field {field}")]
    MatchBadField {
        /// OXM class.
        class: u16,
        /// OXM field number.
        field: u8,
    },
    /// HASMASK on a field that cannot be masked.
    #[error("field {0} cannot be masked")]
    MatchBadMask(&'static str),
    /// Value bits outside the mask.
    #[error("value of {0} has bits outside its mask")]
    MatchBadWildcards(&'static str),
    /// Value bits outside the field's width.
    #[error("value of {0} is out of range")]
    MatchBadValue(&'static str),
    /// Prerequisite of a field not met.
    #[error("prerequisite of {0} not met")]
    MatchBadPrereq(&'static str),
    /// A field appears twice.
    #[error("field {0} appears twice")]
    MatchDupField(&'static str),
    /// Unknown action type.
    #[error("unknown action type {0}")]
    ActionBadType(u16),
    /// Action with a bad length.
    #[error("bad action length")]
    ActionBadLen,
    /// Output to an invalid port.
    #[error("invalid output port {0:#x}")]
    ActionBadOutPort(u32),
    /// Unknown experimenter in an action (only when converting; decode keeps them opaque).
    #[error("unsupported experimenter action {0:#x}")]
    ActionBadExperimenter(u32),
    /// A well-formed action this switch cannot execute.
    #[error("unsupported action {0}")]
    ActionUnsupported(&'static str),
    /// An action argument out of range (e.g. push_vlan with an ethertype other than
    /// 0x8100/0x88a8).
    #[error("bad action argument")]
    ActionBadArgument,
    /// A group action naming a reserved group id.
    #[error("invalid group {0:#x}")]
    ActionBadOutGroup(u32),
    /// set_field of a field this switch does not know or cannot set.
    #[error("set_field of an unsupported field")]
    ActionBadSetType,
    /// set_field TLV with a bad length.
    #[error("bad set_field length")]
    ActionBadSetLen,
    /// set_field with a mask or an out-of-range value.
    #[error("bad set_field argument")]
    ActionBadSetArgument,
    /// Unknown instruction type.
    #[error("unknown instruction type {0}")]
    InstructionUnknown(u16),
    /// Instruction with a bad length.
    #[error("bad instruction length")]
    InstructionBadLen,
    /// The same instruction twice (OpenFlow 1.3 has no DUP_INST code: UNSUP_INST is sent).
    #[error("instruction type {0} appears twice")]
    InstructionDuplicate(u16),
    /// goto_table to a table that does not exist or is not after the current one.
    #[error("goto_table {0} is not a later table")]
    InstructionBadTableId(u8),
    /// A well-formed instruction this switch cannot execute.
    #[error("unsupported instruction {0}")]
    InstructionUnsupported(&'static str),
    /// Unknown flow_mod command.
    #[error("unknown flow_mod command {0}")]
    FlowModBadCommand(u8),
    /// Unknown flow_mod flag bits.
    #[error("unknown flow_mod flags {0:#x}")]
    FlowModBadFlags(u16),
    /// Unknown group_mod command.
    #[error("unknown group_mod command {0}")]
    GroupBadCommand(u16),
    /// Unknown group type.
    #[error("unknown group type {0}")]
    GroupBadType(u8),
    /// Malformed bucket.
    #[error("malformed group bucket")]
    GroupBadBucket,
    /// Unknown meter_mod command.
    #[error("unknown meter_mod command {0}")]
    MeterBadCommand(u16),
    /// Unknown meter flags.
    #[error("unknown meter flags {0:#x}")]
    MeterBadFlags(u16),
    /// Unknown or malformed meter band.
    #[error("bad meter band type {0}")]
    MeterBadBand(u16),
    /// Unknown table-features property.
    #[error("unknown table features property {0}")]
    TableFeaturesBadType(u16),
    /// Table-features structure with a bad length.
    #[error("bad table features length")]
    TableFeaturesBadLen,
    /// Unknown switch-config flags.
    #[error("bad switch config flags {0:#x}")]
    SwitchConfigBadFlags(u16),
    /// Unknown controller role.
    #[error("bad controller role {0}")]
    RoleBad(u32),
}

impl DecodeError {
    /// The typed error code the switch answers with.
    pub fn code(&self) -> ErrorCode {
        use DecodeError as D;
        use ErrorCode as C;
        match *self {
            D::BadLen => C::BadRequest(BadRequestCode::BadLen),
            D::BadVersion(_) => C::BadRequest(BadRequestCode::BadVersion),
            D::BadType(_) | D::BadErrorType(_) => C::BadRequest(BadRequestCode::BadType),
            D::BadMultipart(_) => C::BadRequest(BadRequestCode::BadMultipart),
            D::MatchBadType(_) => C::BadMatch(BadMatchCode::BadType),
            D::MatchBadLen => C::BadMatch(BadMatchCode::BadLen),
            D::MatchBadField { .. } => C::BadMatch(BadMatchCode::BadField),
            D::MatchBadMask(_) => C::BadMatch(BadMatchCode::BadMask),
            D::MatchBadWildcards(_) => C::BadMatch(BadMatchCode::BadWildcards),
            D::MatchBadValue(_) => C::BadMatch(BadMatchCode::BadValue),
            D::MatchBadPrereq(_) => C::BadMatch(BadMatchCode::BadPrereq),
            D::MatchDupField(_) => C::BadMatch(BadMatchCode::DupField),
            D::ActionBadType(_) | D::ActionUnsupported(_) => C::BadAction(BadActionCode::BadType),
            D::ActionBadLen => C::BadAction(BadActionCode::BadLen),
            D::ActionBadOutPort(_) => C::BadAction(BadActionCode::BadOutPort),
            D::ActionBadExperimenter(_) => C::BadAction(BadActionCode::BadExperimenter),
            D::ActionBadArgument => C::BadAction(BadActionCode::BadArgument),
            D::ActionBadOutGroup(_) => C::BadAction(BadActionCode::BadOutGroup),
            D::ActionBadSetType => C::BadAction(BadActionCode::BadSetType),
            D::ActionBadSetLen => C::BadAction(BadActionCode::BadSetLen),
            D::ActionBadSetArgument => C::BadAction(BadActionCode::BadSetArgument),
            D::InstructionUnknown(_) => C::BadInstruction(BadInstructionCode::UnknownInst),
            D::InstructionBadLen => C::BadInstruction(BadInstructionCode::BadLen),
            D::InstructionBadTableId(_) => C::BadInstruction(BadInstructionCode::BadTableId),
            D::InstructionDuplicate(_) | D::InstructionUnsupported(_) => {
                C::BadInstruction(BadInstructionCode::UnsupInst)
            }
            D::FlowModBadCommand(_) => C::FlowModFailed(FlowModFailedCode::BadCommand),
            D::FlowModBadFlags(_) => C::FlowModFailed(FlowModFailedCode::BadFlags),
            D::GroupBadCommand(_) => C::GroupModFailed(GroupModFailedCode::BadCommand),
            D::GroupBadType(_) => C::GroupModFailed(GroupModFailedCode::BadType),
            D::GroupBadBucket => C::GroupModFailed(GroupModFailedCode::BadBucket),
            D::MeterBadCommand(_) => C::MeterModFailed(MeterModFailedCode::BadCommand),
            D::MeterBadFlags(_) => C::MeterModFailed(MeterModFailedCode::BadFlags),
            D::MeterBadBand(_) => C::MeterModFailed(MeterModFailedCode::BadBand),
            D::TableFeaturesBadType(_) => C::TableFeaturesFailed(TableFeaturesFailedCode::BadType),
            D::TableFeaturesBadLen => C::TableFeaturesFailed(TableFeaturesFailedCode::BadLen),
            D::SwitchConfigBadFlags(_) => C::SwitchConfigFailed(SwitchConfigFailedCode::BadFlags),
            D::RoleBad(_) => C::RoleRequestFailed(RoleRequestFailedCode::BadRole),
        }
    }

    /// The wire (type, code) pair the switch answers with.
    pub fn to_error(&self) -> (ErrorType, u16) {
        self.code().split()
    }

    /// The complete error reply to `request` (its first 64 bytes are carried as data).
    pub fn to_error_msg(&self, request: &[u8]) -> ErrorMsg {
        ErrorMsg::new(self.code(), request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_parts() {
        let c = ErrorCode::BadMatch(BadMatchCode::BadPrereq);
        assert_eq!(c.split(), (ErrorType::BadMatch, 9));
        assert_eq!(ErrorCode::from_parts(ErrorType::BadMatch, 9), Some(c));
        assert_eq!(ErrorCode::from_parts(ErrorType::BadMatch, 99), None);
        assert_eq!(ErrorType::from_u16(0xffff), Some(ErrorType::Experimenter));
    }

    #[test]
    fn decode_errors_map_to_spec_codes() {
        assert_eq!(DecodeError::BadLen.to_error(), (ErrorType::BadRequest, 6));
        assert_eq!(
            DecodeError::BadType(99).to_error(),
            (ErrorType::BadRequest, 1)
        );
        assert_eq!(
            DecodeError::BadVersion(1).to_error(),
            (ErrorType::BadRequest, 0)
        );
        assert_eq!(
            DecodeError::MatchBadWildcards("x").to_error(),
            (ErrorType::BadMatch, 5)
        );
        assert_eq!(
            DecodeError::ActionBadOutPort(0).to_error(),
            (ErrorType::BadAction, 4)
        );
        assert_eq!(
            DecodeError::InstructionUnknown(9).to_error(),
            (ErrorType::BadInstruction, 0)
        );
        let req = [7u8; 100];
        let m = DecodeError::MatchDupField("in_port").to_error_msg(&req);
        assert_eq!(
            (m.err_type, m.code, m.data.len()),
            (ErrorType::BadMatch, 10, 64)
        );
    }
}
