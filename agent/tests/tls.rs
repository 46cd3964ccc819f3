//! The dvsm session over TLS (no root needed): the agent verifies dvsm's certificate against
//! `--tls-ca`, by the host part of `--dvsm` or by `--tls-name`, and refuses a certificate from
//! another CA. The fake dvsm here is a rustls server with a throwaway PKI made by `openssl`.

mod common;

use common::Agent;
use proto::wire::{Register, Registered};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// `openssl ARGS` in `dir`.
fn openssl(dir: &Path, args: &str) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args.split_whitespace())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca`), dvsm's certificate from it (`dvsm`, for 127.0.0.1 and dvsm.test) and one from
/// another CA (`rogue`).
fn pki() -> Option<PathBuf> {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipping: the openssl command is not installed");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("dvs-agent-pki-{}", tests::unique_tag()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("pki dir");
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:dvsm.test\n",
    )
    .expect("leaf.ext");
    for (ca, leaf, serial) in [("ca", "dvsm", 1), ("other", "rogue", 2)] {
        openssl(
            &dir,
            &format!(
                "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {ca}.key \
                 -out {ca}.crt -days 30 -subj /CN=dvs-test-{ca} \
                 -addext basicConstraints=critical,CA:TRUE \
                 -addext keyUsage=critical,keyCertSign,cRLSign"
            ),
        );
        openssl(
            &dir,
            &format!(
                "req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {leaf}.key \
                 -out {leaf}.csr -subj /CN=dvs-test-{leaf}"
            ),
        );
        openssl(
            &dir,
            &format!(
                "x509 -req -in {leaf}.csr -CA {ca}.crt -CAkey {ca}.key -set_serial {serial} \
                 -days 30 -extfile leaf.ext -out {leaf}.crt"
            ),
        );
    }
    Some(dir)
}

#[allow(deprecated)]
fn server_config(dir: &Path, leaf: &str) -> Arc<rustls::ServerConfig> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join(format!("{leaf}.crt")))
            .expect("cert")
            .collect::<Result<_, _>>()
            .expect("cert");
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{leaf}.key"))).expect("key");
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    Arc::new(cfg)
}

/// A TLS dvsm that answers registrations with an empty share; each `register` goes to the
/// channel.
fn tls_dvsm(cfg: Arc<rustls::ServerConfig>) -> (String, mpsc::Receiver<Register>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for tcp in l.incoming().flatten() {
            let (cfg, tx) = (cfg.clone(), tx.clone());
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(cfg) else {
                    return;
                };
                let mut r = BufReader::new(rustls::StreamOwned::new(conn, tcp));
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let v: Value = serde_json::from_str(&line).expect("JSON");
                let reg: Register = serde_json::from_value(v["params"].clone()).expect("register");
                let answer = Registered {
                    revision: 7,
                    full: true,
                    changes: Vec::new(),
                };
                let _ = writeln!(
                    r.get_mut(),
                    "{}",
                    json!({"jsonrpc": "2.0", "id": v["id"], "result": answer})
                );
                let _ = tx.send(reg);
                // Keep reading (heartbeats) until the agent goes.
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    line.clear();
                }
            });
        }
    });
    (addr, rx)
}

fn agent(dir: &Path, dvsm: &str, extra: &[&str], log: &str) -> Agent {
    let mut args = vec![
        "--tls-ca".to_string(),
        dir.join("ca.crt").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    Agent::start_with(
        dvsm,
        "h1",
        &format!("unix:{}", dir.join("no-db.sock").display()),
        dir.join(log),
        &args,
    )
}

#[test]
fn agent_verifies_dvsm_over_tls() {
    let Some(dir) = pki() else { return };
    let (addr, regs) = tls_dvsm(server_config(&dir, "dvsm"));
    // By the host part of --dvsm (an IP in the certificate).
    let a = agent(&dir, &addr, &[], "a1.log");
    let reg = regs
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no registration over TLS:\n{}", a.log_text()));
    assert_eq!(reg.host, "h1");
    assert_eq!(reg.token, "secret");
    // The session stays up (heartbeats over TLS across the reader's timeouts).
    assert!(
        regs.recv_timeout(Duration::from_millis(2500)).is_err(),
        "no re-registration: {}",
        a.log_text()
    );
    drop(a);
    // By --tls-name.
    let port = addr.rsplit_once(':').map(|(_, p)| p).unwrap_or_default();
    let a = agent(
        &dir,
        &format!("localhost:{port}"),
        &["--tls-name", "dvsm.test"],
        "a2.log",
    );
    assert!(
        regs.recv_timeout(Duration::from_secs(10)).is_ok(),
        "--tls-name: {}",
        a.log_text()
    );
    drop(a);
    // A name the certificate does not carry is refused.
    let a = agent(&dir, &addr, &["--tls-name", "other.test"], "a3.log");
    assert!(regs.recv_timeout(Duration::from_secs(2)).is_err());
    assert!(a.log_text().contains("TLS"), "{}", a.log_text());
    drop(a);

    // A certificate from another CA is refused.
    let (rogue, regs) = tls_dvsm(server_config(&dir, "rogue"));
    let a = agent(&dir, &rogue, &[], "a4.log");
    assert!(regs.recv_timeout(Duration::from_secs(2)).is_err());
    let log = a.log_text();
    assert!(log.contains("TLS") && log.contains("certificate"), "{log}");
    drop(a);
    let _ = std::fs::remove_dir_all(&dir);
}
