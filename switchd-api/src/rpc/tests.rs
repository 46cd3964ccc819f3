//! End-to-end RPC tests over real unix sockets in a temp directory, plus protocol edge cases
//! driven through [`respond`] directly.

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Toy handler: `add` sums `a` and `b`, `fail` fails, `boom` panics, `count` counts calls.
#[derive(Default)]
struct Toy {
    calls: AtomicUsize,
}

impl RpcHandler for Toy {
    fn call(&self, method: &str, p: Value) -> Result<Value, RpcError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match method {
            "add" => {
                let a: Args = decode(p)?;
                Ok(json!(a.a + a.b))
            }
            "echo" => Ok(p),
            "fail" => {
                Err(RpcError::failed("no bridge named br9").with_data(json!({"bridge": "br9"})))
            }
            "boom" => panic!("toy handler panics on purpose"),
            _ => Err(RpcError::method_not_found(method)),
        }
    }
}

/// The operands of the toy `add`.
struct Args {
    a: i64,
    b: i64,
}

impl FromParams for Args {
    const KEYS: &'static [&'static str] = &["a", "b"];

    fn from_params(p: &mut Params) -> Result<Self, RpcError> {
        Ok(Args {
            a: p.required("a")?,
            b: p.required("b")?,
        })
    }
}

/// A fresh directory for one test's socket.
fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dvs-rpc-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn raw_exchange(path: &std::path::Path, lines: &[&[u8]]) -> Vec<Value> {
    let mut s = UnixStream::connect(path).unwrap();
    for l in lines {
        s.write_all(l).unwrap();
        s.write_all(b"\n").unwrap();
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    BufReader::new(s)
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect()
}

#[test]
fn round_trip_errors_and_shutdown() {
    let dir = temp_dir("rt");
    let sock = dir.join("run/dvs-switchd.sock");
    let toy = Arc::new(Toy::default());
    let server = RpcServer::bind(&sock, toy.clone()).unwrap();
    assert_eq!(server.path(), sock);
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let mut c = RpcClient::connect(&sock).unwrap();
    assert_eq!(c.call("add", json!({"a": 2, "b": 40})).unwrap(), json!(42));
    assert_eq!(c.call("echo", json!([1, "x"])).unwrap(), json!([1, "x"]));
    assert_eq!(c.call("echo", Value::Null).unwrap(), json!({}));

    match c.call("nope", json!({})) {
        Err(RpcClientError::Rpc(e)) => {
            assert_eq!(e.code, METHOD_NOT_FOUND);
            assert_eq!(e.message, "unknown method \"nope\"");
        }
        other => panic!("{other:?}"),
    }
    match c.call("add", json!({"a": 1})) {
        Err(RpcClientError::Rpc(e)) => {
            assert_eq!(e.code, INVALID_PARAMS);
            assert_eq!(e.message, "missing \"b\"");
        }
        other => panic!("{other:?}"),
    }
    match c.call("fail", json!({})) {
        Err(RpcClientError::Rpc(e)) => {
            assert_eq!(
                e,
                RpcError::failed("no bridge named br9").with_data(json!({"bridge": "br9"}))
            );
            assert_eq!(RpcClientError::Rpc(e).to_string(), "no bridge named br9");
        }
        other => panic!("{other:?}"),
    }
    match c.call("boom", json!({})) {
        Err(RpcClientError::Rpc(e)) => {
            assert_eq!(e, RpcError::internal("method \"boom\" panicked"))
        }
        other => panic!("{other:?}"),
    }
    // The connection survived all of the above.
    assert_eq!(c.call("add", json!({"a": 1, "b": 1})).unwrap(), json!(2));

    server.shutdown();
    assert!(!sock.exists(), "socket file removed on shutdown");
    assert!(matches!(
        c.call("add", json!({"a": 1, "b": 1})),
        Err(RpcClientError::Closed)
    ));
    match RpcClient::connect(&sock) {
        Err(e @ RpcClientError::Connect { .. }) => assert_eq!(
            e.to_string(),
            format!(
                "cannot connect (No such file or directory (os error 2)): is dvs-switchd running? (socket {})",
                sock.display()
            )
        ),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("connected after shutdown"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn parse_errors_keep_the_connection() {
    let dir = temp_dir("parse");
    let sock = dir.join("s.sock");
    let server = RpcServer::bind(&sock, Arc::new(Toy::default())).unwrap();
    let replies = raw_exchange(
        &sock,
        &[
            b"{not json",
            b"",
            br#"{"jsonrpc":"2.0","id":"x","method":"add","params":{"a":1,"b":2}}"#,
        ],
    );
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[0]["error"]["code"], json!(PARSE_ERROR));
    assert_eq!(replies[0]["id"], Value::Null);
    assert!(replies[0]["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("parse error: "));
    assert_eq!(
        replies[1],
        json!({"jsonrpc": "2.0", "id": "x", "result": 3})
    );
    server.shutdown();
}

#[test]
fn oversized_request_is_rejected() {
    let dir = temp_dir("big");
    let sock = dir.join("s.sock");
    let server = RpcServer::bind(&sock, Arc::new(Toy::default())).unwrap();
    let big = vec![b' '; MAX_REQUEST + 10];
    let mut s = UnixStream::connect(&sock).unwrap();
    // The server may close before reading everything; a write error is fine.
    let _ = s.write_all(&big);
    let mut line = String::new();
    BufReader::new(&s).read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["error"]["code"], json!(INVALID_REQUEST));
    assert_eq!(
        v["error"]["message"],
        json!("request longer than 1048576 bytes")
    );
    server.shutdown();
}

#[test]
fn the_client_reports_why_an_oversized_call_was_refused() {
    let dir = temp_dir("bigcall");
    let sock = dir.join("s.sock");
    let server = RpcServer::bind(&sock, Arc::new(Toy::default())).unwrap();
    let mut c = RpcClient::connect(&sock).unwrap();
    let huge = "x".repeat(MAX_REQUEST * 2);
    match c.call("add", json!({"a": huge})) {
        Err(RpcClientError::Rpc(e)) => {
            assert_eq!(e.code, INVALID_REQUEST);
            assert!(e.message.contains("request longer than"), "{e:?}");
        }
        other => panic!("expected the server's refusal, got {other:?}"),
    }
    server.shutdown();
}

#[test]
fn stale_socket_is_replaced_but_live_one_is_refused() {
    let dir = temp_dir("stale");
    let sock = dir.join("s.sock");
    // A socket file nobody listens on: what a crashed switch leaves behind.
    drop(UnixListener::bind(&sock).unwrap());
    assert!(sock.exists());
    let first = RpcServer::bind(&sock, Arc::new(Toy::default())).unwrap();
    assert_eq!(
        RpcClient::connect(&sock)
            .unwrap()
            .call("add", json!({"a": 1, "b": 2}))
            .unwrap(),
        json!(3)
    );

    match RpcServer::bind(&sock, Arc::new(Toy::default())) {
        Err(e @ RpcServerError::AlreadyRunning { .. }) => assert_eq!(
            e.to_string(),
            format!(
                "{}: another dvs-switchd is already listening on this socket",
                sock.display()
            )
        ),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("second server bound a live socket"),
    }
    // The refused bind must not have disturbed the live server.
    assert_eq!(
        RpcClient::connect(&sock)
            .unwrap()
            .call("add", json!({"a": 2, "b": 2}))
            .unwrap(),
        json!(4)
    );
    first.shutdown();

    let plain = dir.join("plain");
    std::fs::write(&plain, "x").unwrap();
    assert!(matches!(
        RpcServer::bind(&plain, Arc::new(Toy::default())),
        Err(RpcServerError::NotASocket { .. })
    ));
    assert!(plain.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shutdown_leaves_a_successors_socket_alone() {
    let dir = temp_dir("succ");
    let sock = dir.join("s.sock");
    let old = RpcServer::bind(&sock, Arc::new(Toy::default())).unwrap();
    std::fs::remove_file(&sock).unwrap();
    let new = RpcServer::bind(&sock, Arc::new(Toy::default())).unwrap();
    drop(old);
    assert!(sock.exists());
    assert_eq!(
        RpcClient::connect(&sock)
            .unwrap()
            .call("add", json!({"a": 0, "b": 5}))
            .unwrap(),
        json!(5)
    );
    new.shutdown();
    assert!(!sock.exists());
}

#[test]
fn protocol_edge_cases() {
    let toy = Toy::default();
    let r = |s: &str| respond(&toy, s.as_bytes());
    // Notification: executed, no answer.
    assert_eq!(
        r(r#"{"jsonrpc":"2.0","method":"add","params":{"a":1,"b":1}}"#),
        None
    );
    assert_eq!(toy.calls.load(Ordering::SeqCst), 1);
    let e = r(r#"{"jsonrpc":"1.0","id":1,"method":"add"}"#).unwrap();
    assert_eq!(e["error"]["code"], json!(INVALID_REQUEST));
    assert_eq!(e["error"]["message"], json!("\"jsonrpc\" must be \"2.0\""));
    assert_eq!(e["id"], json!(1));
    let e = r(r#"{"jsonrpc":"2.0","id":1,"method":5}"#).unwrap();
    assert_eq!(e["error"]["message"], json!("\"method\" must be a string"));
    let e = r(r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":3}"#).unwrap();
    assert_eq!(
        e["error"]["message"],
        json!("\"params\" must be an object or an array")
    );
    let e = r(r#"{"jsonrpc":"2.0","id":[1],"method":"echo"}"#).unwrap();
    assert_eq!(e["error"]["code"], json!(INVALID_REQUEST));
    assert_eq!(
        r("42").unwrap()["error"]["message"],
        json!("a request must be a JSON object")
    );
    assert_eq!(r("[]").unwrap()["error"]["message"], json!("empty batch"));
    // Batch: answers in order, notifications omitted.
    let b = r(
        r#"[{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1,"b":2}},
                 {"jsonrpc":"2.0","method":"add","params":{"a":1,"b":2}},
                 {"jsonrpc":"2.0","id":2,"method":"nope"}]"#,
    )
    .unwrap();
    assert_eq!(b[0], json!({"jsonrpc": "2.0", "id": 1, "result": 3}));
    assert_eq!(b[1]["id"], json!(2));
    assert_eq!(b[1]["error"]["code"], json!(METHOD_NOT_FOUND));
    assert_eq!(b.as_array().unwrap().len(), 2);
}

#[test]
fn batches_over_the_limit_are_refused_whole() {
    let toy = Toy::default();
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1,"b":2}}"#;
    let batch = |n: usize| format!("[{}]", vec![call; n].join(","));
    let ok = respond(&toy, batch(MAX_BATCH).as_bytes()).unwrap();
    assert_eq!(ok.as_array().unwrap().len(), MAX_BATCH);
    assert_eq!(toy.calls.load(Ordering::SeqCst), MAX_BATCH);

    let e = respond(&toy, batch(MAX_BATCH + 1).as_bytes()).unwrap();
    assert_eq!(
        e,
        json!({"jsonrpc": "2.0", "id": null, "error": {
            "code": INVALID_REQUEST,
            "message": format!("batch of {} calls is over the limit of {MAX_BATCH} calls per batch", MAX_BATCH + 1),
        }})
    );
    assert_eq!(
        toy.calls.load(Ordering::SeqCst),
        MAX_BATCH,
        "no call of the refused batch ran"
    );
}

#[test]
fn client_times_out() {
    let dir = temp_dir("timeout");
    let sock = dir.join("s.sock");
    // A listener that accepts but never answers.
    let _l = UnixListener::bind(&sock).unwrap();
    let mut c = RpcClient::connect(&sock).unwrap();
    c.set_timeout(std::time::Duration::from_millis(100))
        .unwrap();
    let e = c.call("add", json!({})).unwrap_err();
    assert!(matches!(e, RpcClientError::Timeout(_)), "{e:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
