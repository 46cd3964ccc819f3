//! The management interface: JSON-RPC 2.0 over a unix stream socket, one JSON text per line.
//!
//! This is the control plane (dvsctl, tests, a future manager), never the packet path, so it is
//! built for clarity over speed: a blocking accept thread and one thread per connection, each
//! reading newline-delimited requests and writing one response line per request, in order. The
//! framing is the simplest one that `socat`/`nc -U` users can type by hand and that needs no
//! length prefix; a JSON text never contains a raw newline, so a line is exactly one message.
//!
//! The switch plugs in through [`RpcHandler`], a single `call(method, params)` entry point; the
//! protocol layer here ([`respond`]) owns everything JSON-RPC: envelope validation, ids,
//! notifications, batches, error objects, and turning a panicking handler into an internal error
//! instead of a dead connection. Handlers read their parameters with [`decode`] (see [`params`]),
//! which refuses unknown keys and ill-typed values. Access control is the socket file's mode
//! (0600, owner only).
//!
//! Answers are bounded: a batch holds at most [`MAX_BATCH`] calls, and a method whose answer
//! grows with the switch's state (`flow/dump`) pages it, so no single call's answer, and hence no
//! response line, grows without limit.

mod client;
pub mod params;
mod server;
#[cfg(test)]
mod tests;

pub use client::{RpcClient, RpcClientError};
pub use params::{decode, FromParams, Params};
pub use server::{RpcServer, RpcServerError};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Longest request line the server accepts (bytes, excluding the newline).
pub const MAX_REQUEST: usize = 1 << 20;

/// Most calls one batch (array request) may hold; a larger batch is refused whole with one
/// `INVALID_REQUEST` error, none of its calls run. A batch's response is at most this many
/// single answers, so with every method's answer bounded (`flow/dump` pages: see the switch's
/// `control::flows`), one response line is bounded too.
pub const MAX_BATCH: usize = 64;

/// JSON-RPC: invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: the JSON is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: the method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC: invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC: internal error.
pub const INTERNAL_ERROR: i64 = -32603;
/// Application error: the request was understood but could not be carried out.
pub const FAILED: i64 = -32000;

/// Implemented by the switch: answers one method call.
pub trait RpcHandler: Send + Sync + 'static {
    /// Run `method` with `params` (an object or array; `{}` when the request had none).
    fn call(&self, method: &str, params: Value) -> Result<Value, RpcError>;
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct RpcError {
    /// Error code (see the constants in this module).
    pub code: i64,
    /// Human-readable message.
    pub message: String,
    /// Optional extra detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with `code` and `message`.
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// The method does not exist.
    pub fn method_not_found(method: &str) -> RpcError {
        RpcError::new(METHOD_NOT_FOUND, format!("unknown method \"{method}\""))
    }

    /// The parameters are missing or of the wrong shape.
    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }

    /// Something broke inside the switch.
    pub fn internal(message: impl Into<String>) -> RpcError {
        RpcError::new(INTERNAL_ERROR, message)
    }

    /// The request was valid but could not be carried out (no such bridge, bad flow...).
    pub fn failed(message: impl Into<String>) -> RpcError {
        RpcError::new(FAILED, message)
    }

    /// The same error with `data` attached.
    pub fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }
}

fn error_response(id: Value, e: &RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": e })
}

/// The response line for one request line (`None`: nothing to send, e.g. a notification).
pub fn respond(handler: &dyn RpcHandler, line: &[u8]) -> Option<Value> {
    let msg: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => {
            let err = RpcError::new(PARSE_ERROR, format!("parse error: {e}"));
            return Some(error_response(Value::Null, &err));
        }
    };
    match msg {
        Value::Array(items) if items.is_empty() => Some(error_response(
            Value::Null,
            &RpcError::new(INVALID_REQUEST, "empty batch"),
        )),
        Value::Array(items) if items.len() > MAX_BATCH => Some(error_response(
            Value::Null,
            &RpcError::new(
                INVALID_REQUEST,
                format!(
                    "batch of {} calls is over the limit of {MAX_BATCH} calls per batch",
                    items.len()
                ),
            ),
        )),
        Value::Array(items) => {
            let out: Vec<Value> = items
                .into_iter()
                .filter_map(|m| respond_one(handler, m))
                .collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => respond_one(handler, other),
    }
}

fn respond_one(handler: &dyn RpcHandler, msg: Value) -> Option<Value> {
    let Value::Object(mut obj) = msg else {
        return Some(error_response(
            Value::Null,
            &RpcError::new(INVALID_REQUEST, "a request must be a JSON object"),
        ));
    };
    let id = obj.remove("id");
    let reply_id = match &id {
        Some(v @ (Value::Null | Value::String(_) | Value::Number(_))) => v.clone(),
        _ => Value::Null,
    };
    let invalid = |why: &str| {
        Some(error_response(
            reply_id.clone(),
            &RpcError::new(INVALID_REQUEST, why),
        ))
    };
    if matches!(
        id,
        Some(Value::Bool(_) | Value::Array(_) | Value::Object(_))
    ) {
        return invalid("\"id\" must be a string, a number or null");
    }
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return invalid("\"jsonrpc\" must be \"2.0\"");
    }
    let Some(Value::String(method)) = obj.remove("method") else {
        return invalid("\"method\" must be a string");
    };
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Value::Object(Default::default()),
        Some(p @ (Value::Object(_) | Value::Array(_))) => p,
        Some(_) => return invalid("\"params\" must be an object or an array"),
    };
    let result = catch_unwind(AssertUnwindSafe(|| handler.call(&method, params)))
        .unwrap_or_else(|_| Err(RpcError::internal(format!("method \"{method}\" panicked"))));
    // A request without an id is a notification: run it, answer nothing.
    id.as_ref()?;
    Some(match result {
        Ok(v) => json!({ "jsonrpc": "2.0", "id": reply_id, "result": v }),
        Err(e) => error_response(reply_id, &e),
    })
}
