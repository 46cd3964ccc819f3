//! The 8-byte OpenFlow header, message type numbers, and the two byte-level helpers every other
//! module builds on: a bounds-checked [`Reader`] over untrusted input and the [`Put`] extension
//! for appending big-endian fields to a `Vec<u8>`.
//!
//! The reader never panics: every read checks the remaining length and fails with the error the
//! reader was created with, so a truncated action reports `OFPBAC_BAD_LEN` while a truncated match
//! reports `OFPBMC_BAD_LEN` without each call site having to say so. Writers append and later
//! back-patch length fields ([`patch_u16`]) so that nested variable-length structures are encoded
//! in one pass without computing sizes up front.

use crate::error::DecodeError;

/// OpenFlow 1.3 wire version.
pub const OFP_VERSION: u8 = 0x04;
/// Size of [`Header`] on the wire.
pub const HEADER_LEN: usize = 8;
/// "No buffer": the packet data is carried in the message.
pub const OFP_NO_BUFFER: u32 = 0xffff_ffff;

/// OpenFlow 1.3 message type numbers (`enum ofp_type`).
pub mod msg_type {
    /// OFPT_HELLO.
    pub const HELLO: u8 = 0;
    /// OFPT_ERROR.
    pub const ERROR: u8 = 1;
    /// OFPT_ECHO_REQUEST.
    pub const ECHO_REQUEST: u8 = 2;
    /// OFPT_ECHO_REPLY.
    pub const ECHO_REPLY: u8 = 3;
    /// OFPT_EXPERIMENTER.
    pub const EXPERIMENTER: u8 = 4;
    /// OFPT_FEATURES_REQUEST.
    pub const FEATURES_REQUEST: u8 = 5;
    /// OFPT_FEATURES_REPLY.
    pub const FEATURES_REPLY: u8 = 6;
    /// OFPT_GET_CONFIG_REQUEST.
    pub const GET_CONFIG_REQUEST: u8 = 7;
    /// OFPT_GET_CONFIG_REPLY.
    pub const GET_CONFIG_REPLY: u8 = 8;
    /// OFPT_SET_CONFIG.
    pub const SET_CONFIG: u8 = 9;
    /// OFPT_PACKET_IN.
    pub const PACKET_IN: u8 = 10;
    /// OFPT_FLOW_REMOVED.
    pub const FLOW_REMOVED: u8 = 11;
    /// OFPT_PORT_STATUS.
    pub const PORT_STATUS: u8 = 12;
    /// OFPT_PACKET_OUT.
    pub const PACKET_OUT: u8 = 13;
    /// OFPT_FLOW_MOD.
    pub const FLOW_MOD: u8 = 14;
    /// OFPT_GROUP_MOD.
    pub const GROUP_MOD: u8 = 15;
    /// OFPT_PORT_MOD.
    pub const PORT_MOD: u8 = 16;
    /// OFPT_TABLE_MOD.
    pub const TABLE_MOD: u8 = 17;
    /// OFPT_MULTIPART_REQUEST.
    pub const MULTIPART_REQUEST: u8 = 18;
    /// OFPT_MULTIPART_REPLY.
    pub const MULTIPART_REPLY: u8 = 19;
    /// OFPT_BARRIER_REQUEST.
    pub const BARRIER_REQUEST: u8 = 20;
    /// OFPT_BARRIER_REPLY.
    pub const BARRIER_REPLY: u8 = 21;
    /// OFPT_QUEUE_GET_CONFIG_REQUEST (not decoded by this crate).
    pub const QUEUE_GET_CONFIG_REQUEST: u8 = 22;
    /// OFPT_QUEUE_GET_CONFIG_REPLY (not decoded by this crate).
    pub const QUEUE_GET_CONFIG_REPLY: u8 = 23;
    /// OFPT_ROLE_REQUEST.
    pub const ROLE_REQUEST: u8 = 24;
    /// OFPT_ROLE_REPLY.
    pub const ROLE_REPLY: u8 = 25;
    /// OFPT_GET_ASYNC_REQUEST.
    pub const GET_ASYNC_REQUEST: u8 = 26;
    /// OFPT_GET_ASYNC_REPLY.
    pub const GET_ASYNC_REPLY: u8 = 27;
    /// OFPT_SET_ASYNC.
    pub const SET_ASYNC: u8 = 28;
    /// OFPT_METER_MOD.
    pub const METER_MOD: u8 = 29;
}

/// The common OpenFlow header (`struct ofp_header`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Wire version (0x04 for OpenFlow 1.3).
    pub version: u8,
    /// Message type (see [`msg_type`]).
    pub msg_type: u8,
    /// Total message length including this header.
    pub length: u16,
    /// Transaction id, echoed in replies.
    pub xid: u32,
}

impl Header {
    /// Parse the header at the front of `buf` without checking anything but its presence. Useful
    /// to recover the xid (and the offending bytes) when [`crate::decode`] fails.
    pub fn peek(buf: &[u8]) -> Option<Header> {
        let b = buf.get(..HEADER_LEN)?;
        Some(Header {
            version: b[0],
            msg_type: b[1],
            length: u16::from_be_bytes([b[2], b[3]]),
            xid: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        })
    }

    /// Append the header to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.put_u8(self.version);
        out.put_u8(self.msg_type);
        out.put_u16(self.length);
        out.put_u32(self.xid);
    }
}

/// Stream framing: when `buf` starts with a complete message, its length in bytes.
///
/// Returns `None` while fewer bytes than the header announces have arrived. A header whose
/// length field is below 8 yields `Some(8)`; [`crate::decode`] then fails with `BAD_LEN` and the
/// connection should be closed, since the stream can no longer be framed.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let h = Header::peek(buf)?;
    let len = usize::from(h.length).max(HEADER_LEN);
    (buf.len() >= len).then_some(len)
}

/// Bounds-checked big-endian reader over untrusted bytes.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    short: DecodeError,
}

impl<'a> Reader<'a> {
    /// A reader over `buf` that fails with `short` whenever a read runs past the end.
    pub fn new(buf: &'a [u8], short: DecodeError) -> Reader<'a> {
        Reader { buf, pos: 0, short }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything has been consumed.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The error this reader reports on underrun.
    pub fn short(&self) -> DecodeError {
        self.short
    }

    /// Take the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(self.short);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Take everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// Skip `n` bytes (padding).
    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.bytes(n).map(|_| ())
    }

    /// Look at the next `n` bytes without consuming them.
    pub fn peek(&self, n: usize) -> Result<&'a [u8], DecodeError> {
        self.buf.get(self.pos..self.pos + n).ok_or(self.short)
    }

    /// Read a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    /// Read a u8.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Read a big-endian u16.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Read a big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Read a big-endian u64.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Split off a sub-reader of `n` bytes that fails with `short` (the outer reader advances).
    pub fn sub(&mut self, n: usize, short: DecodeError) -> Result<Reader<'a>, DecodeError> {
        Ok(Reader::new(self.bytes(n)?, short))
    }
}

/// Append big-endian fields to a byte vector.
pub trait Put {
    /// Append a u8.
    fn put_u8(&mut self, v: u8);
    /// Append a big-endian u16.
    fn put_u16(&mut self, v: u16);
    /// Append a big-endian u32.
    fn put_u32(&mut self, v: u32);
    /// Append a big-endian u64.
    fn put_u64(&mut self, v: u64);
    /// Append `n` zero bytes.
    fn put_zeros(&mut self, n: usize);
    /// Zero-pad so that the length since `start` is a multiple of 8.
    fn pad8_from(&mut self, start: usize);
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_zeros(&mut self, n: usize) {
        self.resize(self.len() + n, 0);
    }
    fn pad8_from(&mut self, start: usize) {
        let len = self.len() - start;
        self.put_zeros(pad8(len) - len);
    }
}

/// `n` rounded up to a multiple of 8.
pub fn pad8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// Overwrite the big-endian u16 at `at` with the number of bytes written since `start`
/// (saturating at 65535; callers keep messages under the OpenFlow 64 KiB limit).
pub fn patch_len(out: &mut [u8], at: usize, start: usize) {
    let len = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
    patch_u16(out, at, len);
}

/// Overwrite the big-endian u16 at `at`.
pub fn patch_u16(out: &mut [u8], at: usize, v: u16) {
    if let Some(s) = out.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// A fixed-width, NUL-padded string field (port names, descriptions).
pub fn put_str(out: &mut Vec<u8>, s: &str, width: usize) {
    let b = s.as_bytes();
    // Keep at least one terminating NUL, as the spec's char arrays require, and cut on a
    // character boundary.
    let mut n = b.len().min(width.saturating_sub(1));
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    out.extend_from_slice(&b[..n]);
    out.put_zeros(width - n);
}

/// Read a NUL-padded string field (invalid UTF-8 is replaced, trailing NULs dropped).
pub fn get_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}
