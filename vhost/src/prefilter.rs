//! Requests we answer before rust-vmm's `BackendReqHandler` sees them.
//!
//! Before each request the connection loop peeks at its 12-byte header (`MSG_PEEK`, which leaves
//! the data and any attached fds in the socket). Three kinds are consumed and answered here,
//! everything else goes to the library untouched:
//! - **SET_STATUS / GET_STATUS**: vhost 0.18's handler does not know them, and DPDK's
//!   virtio_user and QEMU (7.2 and later) use them when offered.
//! - **SET_VRING_ENABLE**: the library refuses it until SET_FEATURES has acked
//!   `VHOST_USER_F_PROTOCOL_FEATURES`. QEMU sends its enables before SET_FEATURES: at
//!   feature negotiation of the guest driver (`peer_attach`) and again when it restores the
//!   enable state in `vhost_net_start`, both ahead of `vhost_dev_start`'s SET_FEATURES. DPDK's
//!   virtio_user, resuming after our reconnect, disables its rings first too. Refusing them
//!   (or, as before, dropping them) leaves every ring disabled: the guest never gets a link.
//!   The enable state is per ring and kept from the first message on.
//! - **SEND_RARP**: unknown to the library; the MAC is queued and the device injects a RARP
//!   from the guest on its next receive poll (see `VhostNetDevice::rx_burst`).
//!
//! None of these carries fds, and each has at most a u64 payload. A reply is written only
//! where the protocol asks for one: always for GET_STATUS, and for the others only when the
//! frontend set NEED_REPLY and acked REPLY_ACK.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Mutex;

use rvhost::vhost_user::message::VhostUserProtocolFeatures;

use crate::device::lock;
use crate::protocol::Handler;

const SET_VRING_ENABLE: u32 = 18;
const SEND_RARP: u32 = 19;
const SET_STATUS: u32 = 39;
const GET_STATUS: u32 = 40;
const HDR_LEN: usize = 12;
const FLAG_VERSION: u32 = 0x1;
const FLAG_REPLY: u32 = 0x4;
const FLAG_NEED_REPLY: u32 = 0x8;

/// A request header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub code: u32,
    pub flags: u32,
    pub size: u32,
}

/// What the next request on the socket is.
pub(crate) enum Peeked {
    /// The socket closed (or failed).
    Closed,
    /// One of ours: call [`handle`].
    Ours(Header),
    /// Anything else: the library's.
    Library,
}

/// Look at the next request's header without consuming it.
pub(crate) fn peek(s: &UnixStream) -> Peeked {
    let mut h = [0u8; HDR_LEN];
    loop {
        // SAFETY: `h` is a valid writable buffer of HDR_LEN bytes for the
        // duration of the call and the fd is owned by `s`, which outlives it.
        let n = unsafe {
            libc::recv(
                s.as_raw_fd(),
                h.as_mut_ptr().cast(),
                HDR_LEN,
                libc::MSG_PEEK | libc::MSG_WAITALL,
            )
        };
        if n < 0 && std::io::Error::last_os_error().kind() == ErrorKind::Interrupted {
            continue;
        }
        if n <= 0 {
            return Peeked::Closed;
        }
        if (n as usize) < HDR_LEN {
            return Peeked::Library;
        }
        let w = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let hdr = Header {
            code: w(0),
            flags: w(4),
            size: w(8),
        };
        if std::env::var_os("DVS_VHOST_TRACE").is_some() {
            eprintln!(
                "vhost: request {} flags {:#x} size {}",
                hdr.code, hdr.flags, hdr.size
            );
        }
        return match hdr.code {
            SET_STATUS | GET_STATUS | SET_VRING_ENABLE | SEND_RARP => Peeked::Ours(hdr),
            _ => Peeked::Library,
        };
    }
}

/// Consume one of our requests and answer it. An error is a protocol violation.
pub(crate) fn handle(s: &mut UnixStream, h: &Mutex<Handler>, hdr: Header) -> Result<(), String> {
    let size = hdr.size as usize;
    if size != 8 && !(hdr.code == GET_STATUS && size == 0) {
        return Err(format!(
            "request {} with a {size}-byte payload (8 expected)",
            hdr.code
        ));
    }
    if hdr.flags & 0x3 != FLAG_VERSION || hdr.flags & FLAG_REPLY != 0 {
        return Err(format!(
            "bad header on request {} (flags {:#x})",
            hdr.code, hdr.flags
        ));
    }
    let mut msg = [0u8; HDR_LEN + 8];
    s.read_exact(&mut msg[..HDR_LEN + size])
        .map_err(|e| format!("reading request {}: {e}", hdr.code))?;
    let mut payload = [0u8; 8];
    payload[..size].copy_from_slice(&msg[HDR_LEN..HDR_LEN + size]);
    let mut handler = lock(h);
    let reply_ack = handler.protocol() & VhostUserProtocolFeatures::REPLY_ACK.bits() != 0
        && hdr.flags & FLAG_NEED_REPLY != 0;
    let result = match hdr.code {
        GET_STATUS => {
            if handler.protocol() & VhostUserProtocolFeatures::STATUS.bits() == 0 {
                return Err("GET_STATUS without the STATUS protocol feature".into());
            }
            let status = u64::from(handler.status());
            drop(handler);
            return reply(s, hdr.code, status);
        }
        SET_STATUS => {
            if handler.protocol() & VhostUserProtocolFeatures::STATUS.bits() == 0 {
                return Err("SET_STATUS without the STATUS protocol feature".into());
            }
            handler.set_status(payload[0]);
            Ok(())
        }
        SET_VRING_ENABLE => {
            let index = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
            let num = u32::from_le_bytes([payload[4], payload[5], payload[6], payload[7]]);
            match num {
                0 | 1 => handler.enable_vring(index, num == 1),
                _ => Err(format!("SET_VRING_ENABLE {index} with num {num}")),
            }
        }
        _ => {
            // SEND_RARP: the guest's MAC in the first 6 bytes.
            if handler.protocol() & VhostUserProtocolFeatures::RARP.bits() == 0 {
                return Err("SEND_RARP without the RARP protocol feature".into());
            }
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&payload[..6]);
            handler.send_rarp(mac);
            Ok(())
        }
    };
    drop(handler);
    if reply_ack {
        reply(s, hdr.code, u64::from(result.is_err()))?;
    }
    result
}

/// Write a reply carrying one u64.
fn reply(s: &mut UnixStream, code: u32, value: u64) -> Result<(), String> {
    let mut r = [0u8; HDR_LEN + 8];
    r[0..4].copy_from_slice(&code.to_le_bytes());
    r[4..8].copy_from_slice(&(FLAG_VERSION | FLAG_REPLY).to_le_bytes());
    r[8..12].copy_from_slice(&8u32.to_le_bytes());
    r[12..20].copy_from_slice(&value.to_le_bytes());
    s.write_all(&r)
        .map_err(|e| format!("writing the reply to request {code}: {e}"))
}
