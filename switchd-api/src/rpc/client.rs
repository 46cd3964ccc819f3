//! The RPC client: one connection, sequential calls, a read timeout.
//!
//! Calls are strictly request/response on one connection, so matching is by position; the
//! response id is still checked so a confused server is reported rather than trusted.

use super::RpcError;
use serde_json::{json, Value};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default time to wait for a response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcClientError {
    /// The socket could not be connected.
    #[error("cannot connect ({source}): is dvs-switchd running? (socket {})", path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Writing the request failed.
    #[error("cannot send request: {0}")]
    Send(io::Error),
    /// Reading the response failed.
    #[error("cannot read response: {0}")]
    Receive(io::Error),
    /// No response within the timeout.
    #[error("no response within {} s", .0.as_secs())]
    Timeout(Duration),
    /// The server closed the connection before answering.
    #[error("the switch closed the connection")]
    Closed,
    /// The response was not a JSON-RPC response to our request.
    #[error("bad response: {0}")]
    BadResponse(String),
    /// The server answered with an error.
    #[error("{0}")]
    Rpc(#[from] RpcError),
}

/// A connection to an [`super::RpcServer`].
pub struct RpcClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    timeout: Duration,
}

impl RpcClient {
    /// Connect to the socket at `path`.
    pub fn connect(path: &Path) -> Result<RpcClient, RpcClientError> {
        let connect_err = |source| RpcClientError::Connect {
            path: path.to_path_buf(),
            source,
        };
        let writer = UnixStream::connect(path).map_err(connect_err)?;
        let reader = writer.try_clone().map_err(connect_err)?;
        let mut c = RpcClient {
            reader: BufReader::new(reader),
            writer,
            next_id: 1,
            timeout: DEFAULT_TIMEOUT,
        };
        c.set_timeout(DEFAULT_TIMEOUT).map_err(connect_err)?;
        Ok(c)
    }

    /// Change the response timeout (and the send timeout).
    pub fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.timeout = timeout;
        self.writer.set_read_timeout(Some(timeout))?;
        self.writer.set_write_timeout(Some(timeout))
    }

    /// Call `method` with `params` and wait for its result.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcClientError> {
        let id = self.next_id;
        self.next_id += 1;
        let req = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let mut line =
            serde_json::to_vec(&req).map_err(|e| RpcClientError::Send(io::Error::other(e)))?;
        line.push(b'\n');
        let sent = self
            .writer
            .write_all(&line)
            .and_then(|()| self.writer.flush());
        // A server that refuses the request before reading all of it (one over MAX_REQUEST)
        // answers, then closes: the write fails, but its answer is there to read.
        let refused_early = matches!(
            &sent,
            Err(e) if matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset)
        );
        if refused_early {
            if let Some(answer) = self.answer_after_close() {
                return answer;
            }
        }
        if let Err(e) = sent {
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    RpcClientError::Timeout(self.timeout)
                }
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => {
                    RpcClientError::Closed
                }
                _ => RpcClientError::Send(e),
            });
        }

        let mut resp = String::new();
        match self.reader.read_line(&mut resp) {
            Ok(0) => return Err(RpcClientError::Closed),
            Ok(_) => {}
            Err(e) => {
                return Err(match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                        RpcClientError::Timeout(self.timeout)
                    }
                    io::ErrorKind::ConnectionReset => RpcClientError::Closed,
                    _ => RpcClientError::Receive(e),
                })
            }
        }
        parse_response(&resp, id)
    }

    /// The answer the server sent before it closed the connection, if it sent one.
    fn answer_after_close(&mut self) -> Option<Result<Value, RpcClientError>> {
        let mut resp = String::new();
        match self.reader.read_line(&mut resp) {
            Ok(n) if n > 0 => Some(parse_response(&resp, self.next_id - 1)),
            _ => None,
        }
    }
}

/// The result (or error) of the response line `resp` to request `id`.
fn parse_response(resp: &str, id: u64) -> Result<Value, RpcClientError> {
    let bad = |why: String| RpcClientError::BadResponse(why);
    let v: Value = serde_json::from_str(resp).map_err(|e| bad(format!("{e}")))?;
    let Value::Object(mut obj) = v else {
        return Err(bad("not a JSON object".into()));
    };
    if let Some(err) = obj.remove("error") {
        // Errors about unparseable requests carry id null; accept those as ours too.
        let e: RpcError =
            serde_json::from_value(err).map_err(|e| bad(format!("bad error object: {e}")))?;
        return Err(RpcClientError::Rpc(e));
    }
    if obj.get("id").and_then(Value::as_u64) != Some(id) {
        let got = obj
            .get("id")
            .map_or_else(|| "(none)".to_string(), Value::to_string);
        return Err(bad(format!(
            "response id {got} does not match request id {id}"
        )));
    }
    obj.remove("result")
        .ok_or_else(|| bad("neither result nor error".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_response_shapes() {
        let ok = parse_response(r#"{"jsonrpc":"2.0","id":3,"result":{"a":1}}"#, 3).unwrap();
        assert_eq!(ok, json!({"a": 1}));
        let e = parse_response(
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"no bridge"}}"#,
            3,
        );
        match e {
            Err(RpcClientError::Rpc(e)) => {
                assert_eq!((e.code, e.message.as_str()), (-32000, "no bridge"))
            }
            other => panic!("{other:?}"),
        }
        let e = parse_response(r#"{"jsonrpc":"2.0","id":4,"result":1}"#, 3).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad response: response id 4 does not match request id 3"
        );
        assert!(matches!(
            parse_response("nope", 1),
            Err(RpcClientError::BadResponse(_))
        ));
        assert!(matches!(
            parse_response(r#"{"id":1}"#, 1),
            Err(RpcClientError::BadResponse(_))
        ));
    }
}
