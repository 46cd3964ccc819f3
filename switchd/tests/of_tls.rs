//! OpenFlow over TLS end to end, with certificates made for the test by the `openssl` command
//! (see `of_tls/pki.rs`): a running switch with a `pssl:` listener driven by Debian's real
//! `ovs-ofctl` over `ssl:`, and a switch connecting to an `ssl:` controller written here with
//! rustls. Both directions check the peer against the CA: clients and controllers holding a
//! certificate from another CA (or none) are refused, and plain TCP gets nowhere. Tests whose
//! tools (`openssl`, `ovs-ofctl`) are missing print why and pass without running.

#[path = "of_tls/pki.rs"]
mod pki;

use datapath::switch::Switch;
use openflow::{Hello, Message};
use pki::Pki;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchd::ofp::{ControllerState, ControllerTiming, OfpServer};

/// A switch built from `[switch]` TLS keys (relative to the PKI's directory, where the config
/// "file" is) and bridge `br0`'s `bridge_extra` lines, with one mock port, its OpenFlow side
/// started with `timing`.
fn switch(pki: &Pki, bridge_extra: &str, timing: ControllerTiming) -> (Arc<Switch>, OfpServer) {
    let text = format!(
        "[switch]\nrundir = \"run\"\npmd_cores = [0]\npool_frames = 64\n\
         ssl_private_key = \"switch.key\"\nssl_certificate = \"switch.crt\"\n\
         ssl_ca_cert = \"ca.crt\"\n\n\
         [[bridge]]\nname = \"br0\"\n{bridge_extra}\n\n\
         [[bridge.port]]\nname = \"p1\"\nkind = \"mock\"\n"
    );
    let cfg = switchd::conffile::parse(&text, &pki.path("switch.toml")).expect("config");
    let sw = Arc::new(Switch::build(cfg).expect("build"));
    let ofp = OfpServer::start_with(&sw, timing).expect("ofp");
    (sw, ofp)
}

fn have_ofctl() -> bool {
    let ok = Command::new("ovs-ofctl").arg("--version").output().is_ok();
    if !ok {
        eprintln!("skipped: ovs-ofctl is not installed (apt-get install openvswitch-common)");
    }
    ok
}

/// `ovs-ofctl -O OpenFlow13 <cmd> <target> <args>` with the client files `tls` (key,
/// certificate, CA); (success, stdout, stderr).
fn ofctl(
    tls: Option<[String; 3]>,
    cmd: &str,
    target: &str,
    args: &[&str],
) -> (bool, String, String) {
    let mut c = Command::new("ovs-ofctl");
    c.args(["-O", "OpenFlow13", "--timeout=10"]);
    if let Some([key, cert, ca]) = tls {
        c.arg(format!("--private-key={key}"))
            .arg(format!("--certificate={cert}"))
            .arg(format!("--ca-cert={ca}"));
    }
    let out = c
        .arg(cmd)
        .arg(target)
        .args(args)
        .output()
        .expect("run ovs-ofctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The flows of `br0` as ovs-ofctl prints them, durations left out.
fn flows(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("actions="))
        .map(|l| {
            l.split(", ")
                .filter(|f| !f.trim_start().starts_with("duration="))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

#[allow(deprecated)] // rustls' ring provider: see `ofp::tls`.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(pki: &Pki) -> Arc<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(pki.path("ca.crt")).expect("ca.crt") {
        roots.add(c.expect("CA certificate")).expect("CA");
    }
    Arc::new(roots)
}

fn identity(pki: &Pki, name: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let chain = CertificateDer::pem_file_iter(pki.path(&format!("{name}.crt")))
        .expect("certificate")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificate");
    let key = PrivateKeyDer::from_pem_file(pki.path(&format!("{name}.key"))).expect("key");
    (chain, key)
}

#[test]
fn ovs_ofctl_over_ssl_needs_a_certificate_from_the_ca() {
    let Some(pki) = Pki::new("ofctl") else {
        return;
    };
    if !have_ofctl() {
        return;
    }
    let (sw, ofp) = switch(
        &pki,
        "datapath_id = \"0xabc\"\nofp_listen = [\"pssl:0\"]",
        ControllerTiming::default(),
    );
    let (bridge, addr) = ofp.ssl_addrs()[0].clone();
    assert_eq!(bridge, "br0");
    assert!(addr.ip().is_loopback(), "pssl:<port> listens on loopback");
    assert!(ofp.tcp_addrs().is_empty());
    let target = format!("ssl:{}:{}", addr.ip(), addr.port());
    let files = |name: &str| {
        Some([
            pki.arg(&format!("{name}.key")),
            pki.arg(&format!("{name}.crt")),
            pki.arg("ca.crt"),
        ])
    };

    let (ok, out, err) = ofctl(files("client"), "show", &target, &[]);
    assert!(ok, "{err}");
    assert!(out.contains("dpid:0000000000000abc"), "{out}");
    let (ok, _, err) = ofctl(
        files("client"),
        "add-flow",
        &target,
        &["priority=5,actions=drop"],
    );
    assert!(ok, "{err}");
    let (ok, out, err) = ofctl(files("client"), "dump-flows", &target, &[]);
    assert!(ok, "{err}");
    let before = flows(&out);
    assert!(
        before.iter().any(|f| f.contains("priority=5 actions=drop")),
        "{out}"
    );
    assert_eq!(before.len(), 2, "the default NORMAL flow and ours: {out}");

    // A certificate from another CA: refused, and nothing changes.
    let (ok, _, err) = ofctl(
        files("rogue"),
        "add-flow",
        &target,
        &["priority=6,actions=drop"],
    );
    assert!(!ok, "a certificate from another CA was accepted");
    eprintln!("rogue client: {err}");
    // No certificate at all (a rustls client that does not present one).
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(&pki))
        .with_no_client_auth();
    let name = ServerName::IpAddress(addr.ip().into());
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let mut anon = rustls::StreamOwned::new(conn, tcp);
    let mut hello = Vec::new();
    openflow::encode(1, &Message::Hello(Hello::ours()), &mut hello);
    let _ = anon.write_all(&hello);
    let got = anon.read(&mut [0u8; 64]);
    assert!(got.is_err(), "a client without a certificate got {got:?}");
    // Plain TCP to the TLS port: ovs-ofctl's HELLO is not a TLS handshake.
    let (ok, _, err) = ofctl(
        None,
        "dump-flows",
        &format!("tcp:{}:{}", addr.ip(), addr.port()),
        &[],
    );
    assert!(!ok, "plain TCP worked on a pssl port");
    eprintln!("plain TCP: {err}");

    let (ok, out, err) = ofctl(files("client"), "dump-flows", &target, &[]);
    assert!(ok, "{err}");
    assert_eq!(flows(&out), before);
    assert_eq!(sw.bridges()[0].view().pipeline.len(), 2);
    ofp.shutdown();
}

/// Read one whole OpenFlow message.
fn recv(s: &mut impl Read) -> io::Result<Message> {
    let mut h = [0u8; 8];
    s.read_exact(&mut h)?;
    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
    let mut buf = h.to_vec();
    buf.resize(len.max(8), 0);
    s.read_exact(&mut buf[8..])?;
    openflow::decode(&buf)
        .map(|(_, m)| m)
        .map_err(|e| io::Error::other(format!("{e:?}")))
}

fn send(s: &mut impl Write, msg: &Message) -> io::Result<()> {
    let mut out = Vec::new();
    openflow::encode(7, msg, &mut out);
    s.write_all(&out)?;
    s.flush()
}

/// Accept the switch's next connection on `l` as a TLS controller with identity `name`,
/// requiring a client certificate from the CA.
fn accept_controller(
    pki: &Pki,
    l: &TcpListener,
    name: &str,
) -> rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    let (chain, key) = identity(pki, name);
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots(pki), provider())
            .build()
            .unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    let (tcp, _) = l.accept().unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let conn = rustls::ServerConnection::new(Arc::new(cfg)).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

#[test]
fn the_switch_connects_to_an_ssl_controller_it_can_verify() {
    let Some(pki) = Pki::new("controller") else {
        return;
    };
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = l.local_addr().unwrap();
    let timing = ControllerTiming {
        connect_timeout: Duration::from_secs(2),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        probe_interval: Duration::from_secs(10),
        fail_grace: Duration::from_secs(3),
    };
    let (sw, ofp) = switch(
        &pki,
        &format!("datapath_id = \"0xd5\"\ncontrollers = [\"ssl:{addr}\"]\nfail_mode = \"secure\""),
        timing,
    );
    let hub = ofp.hub("br0").unwrap();

    // A controller whose certificate is from another CA: the switch refuses it and says why.
    let mut rogue = accept_controller(&pki, &l, "rogue");
    let got = recv(&mut rogue);
    assert!(
        got.is_err(),
        "the switch talked to a controller it cannot verify: {got:?}"
    );
    assert!(
        eventually(Duration::from_secs(3), || {
            hub.fail_status().controllers[0]
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("certificate"))
        }),
        "{:?}",
        hub.fail_status()
    );
    assert_eq!(hub.fail_status().controllers[0].connections, 0);

    // One with a certificate from the CA (it checks the switch's too): OpenFlow as usual.
    let mut c = accept_controller(&pki, &l, "client");
    assert!(
        matches!(recv(&mut c).unwrap(), Message::Hello(_)),
        "the switch says HELLO first"
    );
    send(&mut c, &Message::Hello(Hello::ours())).unwrap();
    send(&mut c, &Message::FeaturesRequest).unwrap();
    match recv(&mut c).unwrap() {
        Message::FeaturesReply(f) => assert_eq!(f.datapath_id, 0xd5),
        other => panic!("unexpected {other:?}"),
    }
    // Replies to requests that come in while the switch's reader waits keep flowing.
    for _ in 0..20 {
        send(&mut c, &Message::BarrierRequest).unwrap();
        assert!(matches!(recv(&mut c).unwrap(), Message::BarrierReply));
    }
    let st = hub.fail_status();
    assert_eq!(st.controllers[0].target, format!("ssl:{addr}"));
    assert_eq!(st.controllers[0].state, ControllerState::Connected);
    assert!(st.controllers[0].admitted);
    assert_eq!(st.controllers[0].connections, 1);
    assert_eq!(sw.bridges()[0].datapath_id(), 0xd5);

    let t0 = Instant::now();
    ofp.shutdown();
    assert!(t0.elapsed() < Duration::from_secs(2), "shutdown is prompt");
    let mut rest = Vec::new();
    let end = c.read_to_end(&mut rest);
    assert!(
        end.is_ok() || rest.is_empty(),
        "closed on shutdown: {end:?}"
    );
}
