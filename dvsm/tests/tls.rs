//! The agent listener over TLS: a self-signed certificate made with the openssl CLI (the test
//! is skipped when it is missing), a rustls client that trusts it, and a register round trip.

mod common;

use common::{fixture, temp_db, Dvsm};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;

#[test]
fn register_over_tls() {
    let db = temp_db("tls");
    let dir = db.parent().unwrap().to_path_buf();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=dvsm"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    if !made.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("skipping: openssl could not make a certificate");
        return;
    }
    let d = Dvsm::start(
        &db,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    fixture(&d);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&cert).unwrap())
        .unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let conn = rustls::ClientConnection::new(
        Arc::new(cfg),
        ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into()),
    )
    .unwrap();
    let tcp = std::net::TcpStream::connect(d.agents).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let reg = serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "register",
        "params": {"host": "h1", "token": "t1"}});
    tls.write_all(format!("{reg}\n").as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(&mut tls).read_line(&mut line).unwrap();
    let r: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(r["id"], 7);
    assert_eq!(r["result"]["full"], true, "{r}");
    assert_eq!(d.call("GET", "/v1/hosts/h1", None).body["connected"], true);
}
