//! Test support for the vhost backend: a vhost-user test frontend playing the
//! VM ([`frontend`]), its guest memory ([`memory`]) and split virtqueues
//! ([`virtq`]), plus small helpers shared by the integration tests.
//!
//! Everything here is unprivileged (unix sockets, memfds, eventfds), so the
//! tests that use it never need root and never skip.

#![allow(dead_code)]

pub mod attacks;
pub mod device;
pub mod frontend;
pub mod memory;
pub mod virtq;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("dvs-vhost-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        Self(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `f` until it returns true or `timeout` passes; returns the last result.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// An Ethernet frame of `len` bytes (locally administered MACs, ethertype
/// 0x88b5) whose payload is a pattern derived from `seed`, so mixed-up or
/// truncated frames never compare equal.
pub fn frame(len: usize, seed: u8) -> Vec<u8> {
    assert!(len >= 14);
    let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x88, 0xb5];
    f.extend((0..len - 14).map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed)));
    f
}

/// Sends raw bytes on a fresh control connection and reports whether the
/// peer closed it within `timeout` (EOF or reset) — what a backend must do
/// with a frontend that speaks garbage.
pub fn send_garbage_expect_close(path: &Path, bytes: &[u8], timeout: Duration) -> bool {
    let mut s = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) => panic!("connect {}: {e}", path.display()),
    };
    s.set_read_timeout(Some(timeout)).expect("timeout");
    // A write error means the backend already hung up: that is a close.
    if s.write_all(bytes).is_err() {
        return true;
    }
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + timeout;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            // A reply to something that parsed as a request: keep reading.
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
        if Instant::now() >= deadline {
            return false;
        }
    }
}

/// A vhost-user message: header (request, flags = version 1, size) + body.
pub fn raw_msg(request: u32, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(12 + body.len());
    m.extend_from_slice(&request.to_le_bytes());
    m.extend_from_slice(&flags.to_le_bytes());
    m.extend_from_slice(&(body.len() as u32).to_le_bytes());
    m.extend_from_slice(body);
    m
}
