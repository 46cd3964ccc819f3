//! Tests of the TLS files, configurations and streams, with certificates made by `openssl`.

use super::super::test_pki::Pki;
use super::files::*;
use super::stream::*;
use crate::ofp::Flags;
use datapath::config::SslFiles;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn files(pki: &Pki, key: &str, cert: &str, ca: &str) -> SslFiles {
    SslFiles {
        private_key: pki.path(key),
        certificate: pki.path(cert),
        ca_cert: pki.path(ca),
    }
}

fn switch_files(pki: &Pki) -> SslFiles {
    files(pki, "switch.key", "switch.crt", "ca.crt")
}

fn running() -> Flags {
    Flags::new(&Arc::new(AtomicBool::new(false)), &Arc::default())
}

#[test]
fn bad_files_name_the_file_at_fault() {
    let Some(pki) = Pki::new("tls-files") else {
        return;
    };
    assert_eq!(check(&switch_files(&pki)), Ok(()));
    std::fs::write(pki.path("garbage.pem"), "not PEM at all\n").unwrap();
    std::fs::write(pki.path("cut.pem"), "-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
    std::fs::write(pki.path("empty.pem"), "").unwrap();
    let cases = [
        (
            files(&pki, "missing.key", "switch.crt", "ca.crt"),
            SslFile::PrivateKey,
            "cannot read",
        ),
        (
            files(&pki, "garbage.pem", "switch.crt", "ca.crt"),
            SslFile::PrivateKey,
            "no private key",
        ),
        // A certificate where the key should be.
        (
            files(&pki, "switch.crt", "switch.crt", "ca.crt"),
            SslFile::PrivateKey,
            "no private key",
        ),
        (
            files(&pki, "switch.key", "switch.key", "ca.crt"),
            SslFile::Certificate,
            "no certificate",
        ),
        (
            files(&pki, "switch.key", "cut.pem", "ca.crt"),
            SslFile::Certificate,
            "bad PEM",
        ),
        (
            files(&pki, "switch.key", "client.crt", "ca.crt"),
            SslFile::Certificate,
            "does not match the private key",
        ),
        (
            files(&pki, "switch.key", "switch.crt", "empty.pem"),
            SslFile::CaCert,
            "no certificate",
        ),
        (
            files(
                &pki,
                "switch.key",
                "switch.crt",
                "dir-that-is-not-there/ca.crt",
            ),
            SslFile::CaCert,
            "cannot read",
        ),
    ];
    for (f, which, want) in cases {
        let e = check(&f).expect_err(want);
        assert_eq!(e.file, which, "{e}");
        assert!(e.message.contains(want), "{want}: {e}");
        assert!(e
            .to_string()
            .starts_with(&which.path(&f).display().to_string()));
    }
}

/// A TLS server on loopback with the switch's files; `serve` runs on the accepted
/// stream (after the handshake) in a thread of its own.
fn server(
    pki: &Pki,
    serve: impl FnOnce(io::Result<TlsStream>) + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let cfg = server_config(&switch_files(pki)).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (tcp, _) = l.accept().unwrap();
        serve(accept(tcp, cfg, &running()));
    });
    (addr, h)
}

fn client(pki: &Pki, addr: SocketAddr, key: &str, cert: &str) -> io::Result<TlsStream> {
    let cfg = client_config(&files(pki, key, cert, "ca.crt")).unwrap();
    let tcp = TcpStream::connect(addr)?;
    connect(tcp, addr, cfg, &running())
}

#[test]
fn a_shared_stream_reads_and_writes_from_two_threads() {
    let Some(pki) = Pki::new("tls-stream") else {
        return;
    };
    // The server echoes lines back, with its reader and writer on different handles, as
    // a connection's reader and outbox thread are.
    let (addr, h) = server(&pki, |s| {
        let mut reader = s.expect("handshake");
        let mut writer = reader.try_clone();
        let mut buf = [0u8; 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => writer.write_all(&buf[..n]).unwrap(),
            }
        }
        writer.shutdown();
    });
    let mut c = client(&pki, addr, "client.key", "client.crt").expect("handshake");
    // A read timeout: nothing arrives, so the read gives up after it, and the stream is
    // still usable afterwards.
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let t0 = Instant::now();
    let e = c.read(&mut [0u8; 16]).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    assert!(
        t0.elapsed() >= Duration::from_millis(190),
        "{:?}",
        t0.elapsed()
    );
    assert!(t0.elapsed() < Duration::from_secs(2));
    // A reader blocked without a timeout does not hold up a writer on another handle.
    c.set_read_timeout(None).unwrap();
    let mut reader = c.try_clone();
    let got = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while all.len() < 100_000 {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
        all
    });
    std::thread::sleep(Duration::from_millis(100));
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let t0 = Instant::now();
    for chunk in data.chunks(10_000) {
        c.write_all(chunk).unwrap();
    }
    let got = got.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert_eq!(got, data);
    // Shutting down ends the peer's reads; ours then sees the end.
    c.shutdown();
    h.join().unwrap();
}

#[test]
fn peers_without_a_certificate_from_the_ca_are_refused() {
    let Some(pki) = Pki::new("tls-refuse") else {
        return;
    };
    // A client certificate from another CA: the server's handshake fails. (With TLS 1.3
    // the client learns it from the alert on its first read.)
    let (addr, h) = server(&pki, |s| {
        let e = s.err().expect("refused");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    });
    if let Ok(mut c) = client(&pki, addr, "rogue.key", "rogue.crt") {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(c.read(&mut [0u8; 8]).is_err());
    }
    h.join().unwrap();
    // A server whose certificate is from another CA: the client refuses it.
    let cfg = server_config(&files(&pki, "rogue.key", "rogue.crt", "ca.crt")).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (tcp, _) = l.accept().unwrap();
        let _ = accept(tcp, cfg, &running());
    });
    let e = client(&pki, addr, "switch.key", "switch.crt")
        .err()
        .expect("refused");
    assert!(e.to_string().contains("certificate"), "{e}");
    h.join().unwrap();
    // Plain bytes (an OpenFlow HELLO) are not a TLS handshake.
    let (addr, h) = server(&pki, |s| assert!(s.is_err()));
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.write_all(&[4, 0, 0, 8, 0, 0, 0, 1]).unwrap();
    h.join().unwrap();
}

#[test]
fn a_silent_peer_times_the_handshake_out_and_stop_ends_it_early() {
    let Some(pki) = Pki::new("tls-slow") else {
        return;
    };
    let cfg = server_config(&switch_files(&pki)).unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let _silent = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (tcp, _) = l.accept().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flags = Flags::new(&stop, &Arc::default());
    let stopper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            stop.store(true, Ordering::Relaxed);
        })
    };
    let t0 = Instant::now();
    let e = accept(tcp, cfg, &flags).err().expect("no handshake");
    assert_eq!(e.kind(), io::ErrorKind::Interrupted, "{e}");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    stopper.join().unwrap();
}
