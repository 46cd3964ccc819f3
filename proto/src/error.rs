//! The one error every rule returns: an HTTP-like status, the field at fault and a sentence.
//!
//! dvsm turns it into the REST response (`{"error": {"status", "field", "message"}}`) and dvsctl
//! prints the message as it came, so an operator sees the same words whichever way they ask.

use serde::{Deserialize, Serialize};

/// What kind of refusal this is; each maps to one HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 400: a value is malformed or out of range, or names something that does not exist.
    Invalid,
    /// 404: the object addressed by the request does not exist.
    NotFound,
    /// 409: the request is well-formed but conflicts with what is stored (a duplicate, a
    /// reference that would dangle, a VLAN a port group still uses).
    Conflict,
    /// 412: `If-Match` named a revision the object no longer has.
    PreconditionFailed,
}

impl Status {
    /// The HTTP status code.
    pub fn code(self) -> u16 {
        match self {
            Status::Invalid => 400,
            Status::NotFound => 404,
            Status::Conflict => 409,
            Status::PreconditionFailed => 412,
        }
    }
}

/// A refused request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// Which refusal.
    pub status: Status,
    /// The request field at fault (`"vlan"`, `"mac"`, `"ports"`...), or `""` for the whole
    /// request.
    pub field: String,
    /// A sentence for the operator.
    pub message: String,
}

impl RuleError {
    /// A 400 on `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> RuleError {
        RuleError {
            status: Status::Invalid,
            field: field.into(),
            message: message.into(),
        }
    }

    /// A 409 on `field`.
    pub fn conflict(field: &str, message: impl Into<String>) -> RuleError {
        RuleError {
            status: Status::Conflict,
            field: field.into(),
            message: message.into(),
        }
    }

    /// A 404 for the addressed object.
    pub fn not_found(message: impl Into<String>) -> RuleError {
        RuleError {
            status: Status::NotFound,
            field: String::new(),
            message: message.into(),
        }
    }

    /// A 412.
    pub fn precondition(message: impl Into<String>) -> RuleError {
        RuleError {
            status: Status::PreconditionFailed,
            field: "If-Match".into(),
            message: message.into(),
        }
    }
}
