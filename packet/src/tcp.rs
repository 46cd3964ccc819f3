//! TCP segments (RFC 9293).
//!
//! The segment is the whole buffer: TCP has no length field, so the caller
//! wraps exactly the IP payload. `new_checked` enforces a data offset of at
//! least 5 words that fits in the buffer. Flags are exposed both as the raw
//! 9-bit field (what a flow match on `tcp_flags` wants) and as booleans.

use crate::bytes::{get_u16, get_u32, set_u16, set_u32};
use crate::checksum::{self, PseudoHeader};
use crate::ip_protocol;
use crate::{Error, Result};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ_NUM: usize = 4;
    pub const ACK_NUM: usize = 8;
    pub const FLAGS: usize = 12;
    pub const WIN_SIZE: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
    pub const OPTIONS: usize = 20;
}

/// Length of a header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;

/// Flag bits of [`TcpPacket::flags`].
pub mod flags {
    /// No more data.
    pub const FIN: u16 = 0x001;
    /// Synchronize sequence numbers.
    pub const SYN: u16 = 0x002;
    /// Reset.
    pub const RST: u16 = 0x004;
    /// Push.
    pub const PSH: u16 = 0x008;
    /// Acknowledgment field significant.
    pub const ACK: u16 = 0x010;
    /// Urgent pointer significant.
    pub const URG: u16 = 0x020;
    /// ECN echo.
    pub const ECE: u16 = 0x040;
    /// Congestion window reduced.
    pub const CWR: u16 = 0x080;
    /// ECN nonce (historic).
    pub const NS: u16 = 0x100;
}

/// A view of a TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wrap after validating the data offset.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate everything the accessors rely on.
    pub fn check_len(&self) -> Result<()> {
        let len = self.b().len();
        if len < MIN_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let hl = self.header_len();
        if hl < MIN_HEADER_LEN {
            return Err(Error::Malformed("TCP data offset below 5"));
        }
        if len < hl {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.b(), field::SRC_PORT)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.b(), field::DST_PORT)
    }
    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        get_u32(self.b(), field::SEQ_NUM)
    }
    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        get_u32(self.b(), field::ACK_NUM)
    }
    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.b()[field::FLAGS] >> 4) * 4
    }
    /// The 9 flag bits (see [`flags`]).
    pub fn flags(&self) -> u16 {
        get_u16(self.b(), field::FLAGS) & 0x01ff
    }
    /// FIN flag.
    pub fn fin(&self) -> bool {
        self.flags() & flags::FIN != 0
    }
    /// SYN flag.
    pub fn syn(&self) -> bool {
        self.flags() & flags::SYN != 0
    }
    /// RST flag.
    pub fn rst(&self) -> bool {
        self.flags() & flags::RST != 0
    }
    /// PSH flag.
    pub fn psh(&self) -> bool {
        self.flags() & flags::PSH != 0
    }
    /// ACK flag.
    pub fn ack(&self) -> bool {
        self.flags() & flags::ACK != 0
    }
    /// URG flag.
    pub fn urg(&self) -> bool {
        self.flags() & flags::URG != 0
    }
    /// Window size.
    pub fn window_len(&self) -> u16 {
        get_u16(self.b(), field::WIN_SIZE)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        get_u16(self.b(), field::CHECKSUM)
    }
    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        get_u16(self.b(), field::URGENT)
    }
    /// Raw option bytes.
    pub fn options(&self) -> &[u8] {
        &self.b()[field::OPTIONS..self.header_len()]
    }
    /// Payload after the header.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len()..]
    }
    /// True if the checksum over the whole buffer is correct.
    pub fn verify_checksum(&self, ph: &PseudoHeader) -> bool {
        let b = self.b();
        checksum::combine(&[ph.sum(ip_protocol::TCP, b.len()), checksum::sum(b)]) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    /// Set source port.
    pub fn set_src_port(&mut self, v: u16) {
        set_u16(self.bm(), field::SRC_PORT, v);
    }
    /// Set destination port.
    pub fn set_dst_port(&mut self, v: u16) {
        set_u16(self.bm(), field::DST_PORT, v);
    }
    /// Set sequence number.
    pub fn set_seq_number(&mut self, v: u32) {
        set_u32(self.bm(), field::SEQ_NUM, v);
    }
    /// Set acknowledgment number.
    pub fn set_ack_number(&mut self, v: u32) {
        set_u32(self.bm(), field::ACK_NUM, v);
    }
    /// Set data offset (bytes, multiple of 4) and the 9 flag bits together.
    pub fn set_header_len_and_flags(&mut self, header_len: usize, flags: u16) {
        let v = (((header_len / 4) as u16 & 0xf) << 12) | (flags & 0x01ff);
        set_u16(self.bm(), field::FLAGS, v);
    }
    /// Set the flag bits, keeping the data offset.
    pub fn set_flags(&mut self, flags: u16) {
        let v = (get_u16(self.b(), field::FLAGS) & 0xf000) | (flags & 0x01ff);
        set_u16(self.bm(), field::FLAGS, v);
    }
    /// Set window size.
    pub fn set_window_len(&mut self, v: u16) {
        set_u16(self.bm(), field::WIN_SIZE, v);
    }
    /// Set the checksum field verbatim.
    pub fn set_checksum(&mut self, v: u16) {
        set_u16(self.bm(), field::CHECKSUM, v);
    }
    /// Set urgent pointer.
    pub fn set_urgent_at(&mut self, v: u16) {
        set_u16(self.bm(), field::URGENT, v);
    }
    /// Mutable payload.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len();
        &mut self.bm()[hl..]
    }
    /// Compute and store the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, ph: &PseudoHeader) {
        self.set_checksum(0);
        let c = checksum::transport_checksum(ph, ip_protocol::TCP, self.b());
        self.set_checksum(c);
    }
}

impl<'a> TcpPacket<&'a [u8]> {
    /// The payload with the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        &self.buffer[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// SYN 40000 -> 80, seq 1, window 0xffff, MSS option 1460, 10.0.0.1 -> 10.0.0.2.
    /// Checksum by hand: pseudo 0x1421 + segment words 0x2044a = 0x2186b -> 0x186d -> !0x186d = 0xe792.
    const SYN: [u8; 24] = [
        0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff, 0xe7, 0x92, 0, 0,
        2, 4, 0x05, 0xb4,
    ];

    fn ph() -> PseudoHeader {
        PseudoHeader::V4 {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
        }
    }

    #[test]
    fn parse_and_build_syn() {
        let p = TcpPacket::new_checked(&SYN[..]).unwrap();
        assert_eq!(
            (p.src_port(), p.dst_port(), p.seq_number(), p.ack_number()),
            (40000, 80, 1, 0)
        );
        assert_eq!(
            (p.header_len(), p.flags(), p.syn(), p.ack(), p.fin()),
            (24, flags::SYN, true, false, false)
        );
        assert_eq!((p.window_len(), p.urgent_at()), (0xffff, 0));
        assert_eq!(p.options(), &[2, 4, 0x05, 0xb4]);
        assert!(p.payload().is_empty());

        let mut b = [0u8; 24];
        let mut q = TcpPacket::new_unchecked(&mut b[..]);
        q.set_src_port(40000);
        q.set_dst_port(80);
        q.set_seq_number(1);
        q.set_header_len_and_flags(24, flags::SYN);
        q.set_window_len(0xffff);
        b[20..].copy_from_slice(&[2, 4, 0x05, 0xb4]);
        TcpPacket::new_unchecked(&mut b[..]).fill_checksum(&ph());
        assert_eq!(b, SYN);
        assert!(TcpPacket::new_checked(&b[..])
            .unwrap()
            .verify_checksum(&ph()));
    }

    #[test]
    fn flags_and_rejects() {
        let mut b = SYN;
        let mut p = TcpPacket::new_unchecked(&mut b[..]);
        p.set_flags(flags::ACK | flags::PSH | flags::FIN);
        assert!(p.ack() && p.psh() && p.fin() && !p.syn() && !p.rst() && !p.urg());
        assert_eq!(p.header_len(), 24);
        assert_eq!(TcpPacket::new_checked(&SYN[..23]), Err(Error::Truncated));
        let mut b = SYN;
        b[12] = 0x40;
        assert!(matches!(
            TcpPacket::new_checked(&b[..]),
            Err(Error::Malformed(_))
        ));
    }
}
