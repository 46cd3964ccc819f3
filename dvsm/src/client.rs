//! A small blocking HTTP/1.1 client for dvsm's REST API, used by dvsctl, the tests and the
//! benches.
//!
//! It is deliberately minimal: one `TcpStream` per call, `Connection: close`, bodies framed by
//! `Content-Length` (or read to EOF, which `Connection: close` makes safe), JSON in and out.
//! That is all dvsm's API speaks, and it keeps the CLI free of an HTTP stack and an async
//! runtime. A response's `ETag: "<revision>"` is parsed into [`Response::etag`] so a caller
//! can send it back as `If-Match`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Longest a call waits for connect, and for each read or write.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body accepted.
const BODY_MAX: usize = 256 << 20;

/// Why a call failed (an HTTP error status is not a failure: it is a [`Response`]).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The base URL is not `http://host:port`.
    #[error("bad base URL {0:?}: expected http://HOST:PORT")]
    BadUrl(String),
    /// dvsm could not be reached.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The connection broke.
    #[error("talking to dvsm: {0}")]
    Io(#[from] std::io::Error),
    /// dvsm answered something that is not an HTTP response with a JSON body.
    #[error("bad response from dvsm: {0}")]
    BadResponse(String),
}

/// An HTTP response.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The revision in the `ETag` header, if any.
    pub etag: Option<u64>,
    /// The JSON body (`Null` when empty).
    pub body: serde_json::Value,
}

/// A client for one dvsm.
#[derive(Clone, Debug)]
pub struct Client {
    /// Like `http://127.0.0.1:6681`.
    pub base: String,
}

impl Client {
    /// A client for `base` (`http://HOST:PORT`; a bare `HOST:PORT` is accepted too).
    pub fn new(base: impl Into<String>) -> Client {
        Client { base: base.into() }
    }

    fn authority(&self) -> Result<String, ClientError> {
        let b = self.base.trim_end_matches('/');
        let rest = if let Some(r) = b.strip_prefix("http://") {
            r
        } else if b.contains("://") {
            return Err(ClientError::BadUrl(self.base.clone()));
        } else {
            b
        };
        if rest.is_empty() || rest.contains('/') {
            return Err(ClientError::BadUrl(self.base.clone()));
        }
        Ok(rest.to_string())
    }

    /// One request: `method` on `path` (like `/v1/dvs/dvs1`), with an optional JSON body and
    /// `If-Match` revision.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        if_match: Option<u64>,
    ) -> Result<Response, ClientError> {
        let auth = self.authority()?;
        let addrs: Vec<_> = auth
            .to_socket_addrs()
            .map_err(|e| ClientError::Connect {
                addr: auth.clone(),
                source: e,
            })?
            .collect();
        let mut last = None;
        let mut stream = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let mut stream = stream.ok_or_else(|| ClientError::Connect {
            addr: auth.clone(),
            source: last.unwrap_or_else(|| std::io::Error::other("no address")),
        })?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let _ = stream.set_nodelay(true);

        let payload = match body {
            Some(v) => serde_json::to_vec(v)
                .map_err(|e| ClientError::BadResponse(format!("cannot encode body: {e}")))?,
            None => Vec::new(),
        };
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {auth}\r\nConnection: close\r\n\
             Accept: application/json\r\nContent-Length: {}\r\n",
            payload.len()
        );
        if body.is_some() {
            req.push_str("Content-Type: application/json\r\n");
        }
        if let Some(r) = if_match {
            req.push_str(&format!("If-Match: \"{r}\"\r\n"));
        }
        req.push_str("\r\n");
        let mut out = req.into_bytes();
        out.extend_from_slice(&payload);
        stream.write_all(&out)?;
        stream.flush()?;
        read_response(stream)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Response, ClientError> {
        self.call("GET", path, None, None)
    }
}

fn read_response(stream: TcpStream) -> Result<Response, ClientError> {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (Some(ver), Some(code)) = (parts.next(), parts.next()) else {
        return Err(ClientError::BadResponse(format!(
            "status line {:?}",
            line.trim_end()
        )));
    };
    if !ver.starts_with("HTTP/1.") {
        return Err(ClientError::BadResponse(format!(
            "status line {:?}",
            line.trim_end()
        )));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| ClientError::BadResponse(format!("status {code:?}")))?;
    let mut length: Option<usize> = None;
    let mut etag = None;
    let mut chunked = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(ClientError::BadResponse("headers cut short".into()));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let Some((name, value)) = l.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                length =
                    Some(value.parse().map_err(|_| {
                        ClientError::BadResponse(format!("Content-Length {value:?}"))
                    })?)
            }
            "etag" => {
                etag = value
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .parse()
                    .ok()
            }
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            _ => {}
        }
    }
    let bytes = if chunked {
        read_chunked(&mut r)?
    } else if let Some(n) = length {
        if n > BODY_MAX {
            return Err(ClientError::BadResponse(format!("body of {n} bytes")));
        }
        let mut b = vec![0u8; n];
        r.read_exact(&mut b)?;
        b
    } else {
        let mut b = Vec::new();
        r.take(BODY_MAX as u64 + 1).read_to_end(&mut b)?;
        b
    };
    let body = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::BadResponse(format!("body is not JSON: {e}")))?
    };
    Ok(Response { status, etag, body })
}

fn read_chunked(r: &mut impl BufRead) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let size = line.trim().split(';').next().unwrap_or("");
        let n = usize::from_str_radix(size, 16)
            .map_err(|_| ClientError::BadResponse(format!("chunk size {size:?}")))?;
        if n == 0 {
            // Trailers until the blank line.
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    return Ok(out);
                }
            }
        }
        if out.len() + n > BODY_MAX {
            return Err(ClientError::BadResponse("body too large".into()));
        }
        let start = out.len();
        out.resize(start + n, 0);
        r.read_exact(&mut out[start..])?;
        line.clear();
        r.read_line(&mut line)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            Client::new("http://127.0.0.1:6681/").authority().unwrap(),
            "127.0.0.1:6681"
        );
        assert_eq!(Client::new("h:1").authority().unwrap(), "h:1");
        assert!(Client::new("https://h:1").authority().is_err());
    }
}
