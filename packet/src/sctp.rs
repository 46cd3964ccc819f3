//! SCTP common header (RFC 4960 section 3.1) and its checksum, CRC32c (RFC 4960 appendix B).
//!
//! SCTP does not use the internet checksum: the 32-bit field at offset 8 holds the CRC32c
//! (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78) of the whole SCTP packet, common
//! header and chunks, computed with the checksum field set to zero and no pseudo-header. A CRC
//! cannot be patched incrementally the way RFC 1624 patches a ones'-complement sum (it could, by
//! CRC linearity, but only at the cost of a shift by the remaining length), so a port rewrite
//! recomputes it over the packet. The CRC is table-driven, one byte per step with a 256-entry
//! table built at compile time: simple, and fast enough for the few SCTP packets a switch edits
//! (the slicing-by-8 or SSE4.2 `crc32` instruction variants would matter only for bulk data).
//!
//! Byte order: the RFC's sample code stores the final CRC least significant byte first, which
//! is what Linux and every implementation put on the wire; [`checksum`] returns the value and
//! [`fill_checksum`] writes it in that order.

use crate::{Error, Result};

/// Length of the SCTP common header.
pub const HEADER_LEN: usize = 12;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const VTAG: usize = 4;
    pub const CHECKSUM: usize = 8;
}

/// The reflected Castagnoli polynomial.
const POLY: u32 = 0x82f6_3b78;

const fn make_table() -> [u32; 256] {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

static TABLE: [u32; 256] = make_table();

/// Continue a CRC32c over `data`: `crc` is the running register (start with `!0`), and the
/// result is the register after `data` (invert it to finish).
#[inline]
pub fn crc32c_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

/// CRC32c of `data` (initial value all ones, final inversion), as RFC 3720 and RFC 4960 define it.
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

/// The checksum of the SCTP packet `pkt` (common header and chunks, exactly the IP payload):
/// the CRC32c of the packet with its checksum field taken as zero. Errors when `pkt` is shorter
/// than the common header.
pub fn checksum(pkt: &[u8]) -> Result<u32> {
    if pkt.len() < HEADER_LEN {
        return Err(Error::Truncated);
    }
    let c = crc32c_update(!0, &pkt[..field::CHECKSUM]);
    let c = crc32c_update(c, &[0; 4]);
    Ok(!crc32c_update(c, &pkt[HEADER_LEN..]))
}

/// Compute and store the checksum of the SCTP packet `pkt` (least significant byte first, as on
/// the wire).
pub fn fill_checksum(pkt: &mut [u8]) -> Result<()> {
    let c = checksum(pkt)?;
    pkt[field::CHECKSUM..field::CHECKSUM + 4].copy_from_slice(&c.to_le_bytes());
    Ok(())
}

/// True when the stored checksum of `pkt` is right.
pub fn checksum_ok(pkt: &[u8]) -> bool {
    checksum(pkt).is_ok_and(|c| pkt[field::CHECKSUM..field::CHECKSUM + 4] == c.to_le_bytes())
}

/// A view of an SCTP common header.
#[derive(Debug, Clone)]
pub struct SctpPacket<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> SctpPacket<T> {
    /// Wrap a buffer the caller knows holds at least the common header.
    pub fn new_unchecked(buf: T) -> Self {
        SctpPacket { buf }
    }

    /// Wrap a buffer, checking it holds the common header.
    pub fn new_checked(buf: T) -> Result<Self> {
        if buf.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(SctpPacket { buf })
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        crate::bytes::get_u16(self.buf.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        crate::bytes::get_u16(self.buf.as_ref(), field::DST_PORT)
    }

    /// Verification tag.
    pub fn verification_tag(&self) -> u32 {
        crate::bytes::get_u32(self.buf.as_ref(), field::VTAG)
    }

    /// The checksum as stored (least significant byte first on the wire).
    pub fn stored_checksum(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_le_bytes([
            b[field::CHECKSUM],
            b[field::CHECKSUM + 1],
            b[field::CHECKSUM + 2],
            b[field::CHECKSUM + 3],
        ])
    }

    /// Whether the stored checksum matches the packet.
    pub fn verify_checksum(&self) -> bool {
        checksum_ok(self.buf.as_ref())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> SctpPacket<T> {
    /// Set the source port (the checksum is not updated: call [`Self::fill_checksum`]).
    pub fn set_src_port(&mut self, v: u16) {
        crate::bytes::set_u16(self.buf.as_mut(), field::SRC_PORT, v);
    }

    /// Set the destination port (the checksum is not updated).
    pub fn set_dst_port(&mut self, v: u16) {
        crate::bytes::set_u16(self.buf.as_mut(), field::DST_PORT, v);
    }

    /// Set the verification tag (the checksum is not updated).
    pub fn set_verification_tag(&mut self, v: u32) {
        crate::bytes::set_u32(self.buf.as_mut(), field::VTAG, v);
    }

    /// Recompute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        // The constructors guarantee the header is there.
        let _ = fill_checksum(self.buf.as_mut());
    }
}

/// An SCTP packet with one DATA chunk carrying `payload` (TSN 1, stream 0, PPID 0), checksum
/// filled: for tests and benchmarks.
pub fn data_packet(src_port: u16, dst_port: u16, vtag: u32, payload: &[u8]) -> Vec<u8> {
    let chunk_len = 16 + payload.len();
    let mut p = Vec::with_capacity(HEADER_LEN + chunk_len + 3);
    p.extend_from_slice(&src_port.to_be_bytes());
    p.extend_from_slice(&dst_port.to_be_bytes());
    p.extend_from_slice(&vtag.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    // DATA chunk: type 0, flags B|E, length, TSN, stream id, stream seq, PPID.
    p.extend_from_slice(&[0, 0x03]);
    p.extend_from_slice(&(chunk_len as u16).to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&[0; 8]);
    p.extend_from_slice(payload);
    // Chunks are padded to 4 bytes.
    p.resize(p.len().next_multiple_of(4), 0);
    let _ = fill_checksum(&mut p);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3720 appendix B.4 (the CRC32c test vectors RFC 4960 refers to), CRCs as the RFC
    /// lists their bytes, least significant first.
    #[test]
    fn rfc3720_vectors() {
        let inc: Vec<u8> = (0..32).collect();
        let dec: Vec<u8> = (0..32).rev().collect();
        assert_eq!(crc32c(&[0; 32]).to_le_bytes(), [0xaa, 0x36, 0x91, 0x8a]);
        assert_eq!(crc32c(&[0xff; 32]).to_le_bytes(), [0x43, 0xab, 0xa8, 0x62]);
        assert_eq!(crc32c(&inc).to_le_bytes(), [0x4e, 0x79, 0xdd, 0x46]);
        assert_eq!(crc32c(&dec).to_le_bytes(), [0x5c, 0xdb, 0x3f, 0x11]);
        // An iSCSI SCSI Read (10) command PDU.
        let mut pdu = [0u8; 48];
        pdu[0] = 0x01;
        pdu[1] = 0xc0;
        pdu[16] = 0x14;
        pdu[22] = 0x04;
        pdu[27] = 0x14;
        pdu[31] = 0x18;
        pdu[32] = 0x28;
        pdu[40] = 0x02;
        assert_eq!(crc32c(&pdu).to_le_bytes(), [0x56, 0x3a, 0x96, 0xd9]);
        // The common check value.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn checksum_ignores_the_stored_value_and_round_trips() {
        let mut p = data_packet(5000, 6000, 0xdead_beef, b"hello");
        assert!(checksum_ok(&p));
        let c = SctpPacket::new_checked(&p[..])
            .expect("view")
            .stored_checksum();
        p[8..12].copy_from_slice(&[1, 2, 3, 4]);
        assert!(!checksum_ok(&p));
        assert_eq!(checksum(&p), Ok(c));
        let mut v = SctpPacket::new_checked(&mut p[..]).expect("view");
        v.set_dst_port(7);
        v.fill_checksum();
        assert!(v.verify_checksum());
        assert_eq!((v.src_port(), v.dst_port()), (5000, 7));
        assert_eq!(v.verification_tag(), 0xdead_beef);
    }

    #[test]
    fn short_packets_are_errors() {
        assert_eq!(checksum(&[0; 11]), Err(Error::Truncated));
        assert!(!checksum_ok(&[0; 3]));
        assert!(SctpPacket::new_checked(&[0u8; 11][..]).is_err());
    }
}
