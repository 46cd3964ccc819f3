//! 802.1Q / 802.1ad VLAN tags: a view, a tag-stack walker and in-place
//! push/pop helpers.
//!
//! On the wire a tag is the TPID (sitting where the EtherType would be)
//! followed by the 16-bit TCI (PCP:3, DEI:1, VID:12) and the encapsulated
//! EtherType. [`VlanTag`] views the four bytes *after* the TPID, so walking a
//! frame is "read EtherType; while it is a TPID, step four bytes".
//! [`parse_tags`] does that walk for up to two tags (QinQ), which is all the
//! flow key has room for; a third TPID is reported as the EtherType.
//!
//! Pushing or popping a tag means moving bytes. [`push_tag`]/[`pop_tag`]
//! shift the payload (simple, for owned buffers); [`push_tag_front`] and
//! [`pop_tag_front`] instead move only the 12 MAC bytes into or out of the
//! headroom in front of the frame, which is what a packet pool with headroom
//! wants.

use crate::bytes::{get_u16, set_u16};
use crate::ethernet::{ethertype, HEADER_LEN as ETH_LEN};
use crate::{Error, Result};

mod field {
    pub const TCI: usize = 0;
    pub const ETHERTYPE: usize = 2;
    pub const PAYLOAD: usize = 4;
}

/// Length of one tag (TPID + TCI) on the wire.
pub const TAG_LEN: usize = 4;

/// True for the TPIDs dvs treats as VLAN tags: 0x8100 (802.1Q) and 0x88a8 (802.1ad), as
/// OpenFlow 1.3 and Open vSwitch do. The legacy 0x9100 is an EtherType like any other (see
/// [`crate::layout`]).
#[inline(always)]
pub fn is_tpid(ethertype: u16) -> bool {
    matches!(ethertype, ethertype::VLAN | ethertype::QINQ)
}

/// Compose a TCI from priority (3 bits), drop-eligible bit and VLAN ID
/// (12 bits); extra high bits are masked off.
pub const fn tci(pcp: u8, dei: bool, vid: u16) -> u16 {
    ((pcp as u16 & 0x7) << 13) | ((dei as u16) << 12) | (vid & 0x0fff)
}

/// A view of one tag's TCI and encapsulated EtherType (the bytes after the TPID).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    /// Wrap without checking.
    pub const fn new_unchecked(buffer: T) -> Self {
        VlanTag { buffer }
    }

    /// Wrap after checking four bytes are present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let t = Self::new_unchecked(buffer);
        if t.buffer.as_ref().len() < field::PAYLOAD {
            return Err(Error::Truncated);
        }
        Ok(t)
    }

    /// Give the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Whole tag control information.
    pub fn tci(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::TCI)
    }

    /// Priority code point.
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// Drop eligible indicator.
    pub fn dei(&self) -> bool {
        self.tci() & 0x1000 != 0
    }

    /// VLAN identifier.
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// Encapsulated EtherType (may be another TPID).
    pub fn ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    /// Bytes after the tag.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VlanTag<T> {
    /// Set the whole TCI.
    pub fn set_tci(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::TCI, v);
    }

    /// Set the VLAN ID, keeping PCP and DEI.
    pub fn set_vid(&mut self, vid: u16) {
        let t = (self.tci() & 0xf000) | (vid & 0x0fff);
        self.set_tci(t);
    }

    /// Set the priority, keeping DEI and VID.
    pub fn set_pcp(&mut self, pcp: u8) {
        let t = (self.tci() & 0x1fff) | ((u16::from(pcp) & 7) << 13);
        self.set_tci(t);
    }

    /// Set the encapsulated EtherType.
    pub fn set_ethertype(&mut self, v: u16) {
        set_u16(self.buffer.as_mut(), field::ETHERTYPE, v);
    }

    /// Mutable bytes after the tag.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

impl<'a> VlanTag<&'a [u8]> {
    /// The bytes after the tag, with the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        &self.buffer[field::PAYLOAD..]
    }
}

/// One tag as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tag {
    /// Tag protocol identifier (0x8100, 0x88a8, ...).
    pub tpid: u16,
    /// Tag control information.
    pub tci: u16,
}

impl Tag {
    /// VLAN identifier.
    pub fn vid(&self) -> u16 {
        self.tci & 0x0fff
    }
    /// Priority code point.
    pub fn pcp(&self) -> u8 {
        (self.tci >> 13) as u8
    }
    /// Drop eligible indicator.
    pub fn dei(&self) -> bool {
        self.tci & 0x1000 != 0
    }
}

/// The result of walking the tags of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TagStack {
    /// Outer tag first; `tags[1]` is only set if `tags[0]` is.
    pub tags: [Option<Tag>; 2],
    /// The EtherType after the tags.
    pub ethertype: u16,
    /// Offset of the L3 header from the start of the frame.
    pub payload_offset: usize,
}

impl TagStack {
    /// Number of tags found (0..=2).
    pub fn depth(&self) -> usize {
        self.tags.iter().filter(|t| t.is_some()).count()
    }
}

/// Walk up to two VLAN tags of an Ethernet frame.
pub fn parse_tags(frame: &[u8]) -> Result<TagStack> {
    if frame.len() < ETH_LEN {
        return Err(Error::Truncated);
    }
    let mut st = TagStack {
        ethertype: get_u16(frame, 12),
        payload_offset: ETH_LEN,
        ..Default::default()
    };
    for slot in st.tags.iter_mut() {
        if !is_tpid(st.ethertype) {
            break;
        }
        let off = st.payload_offset;
        if frame.len() < off + TAG_LEN {
            return Err(Error::Truncated);
        }
        *slot = Some(Tag {
            tpid: st.ethertype,
            tci: get_u16(frame, off),
        });
        st.ethertype = get_u16(frame, off + 2);
        st.payload_offset = off + TAG_LEN;
    }
    Ok(st)
}

/// Insert `tag` as the outermost tag of the frame in `buf[..frame_len]`,
/// shifting everything after the MACs right by four bytes. Needs
/// `buf.len() >= frame_len + 4`; returns the new frame length.
pub fn push_tag(buf: &mut [u8], frame_len: usize, tag: Tag) -> Result<usize> {
    if frame_len < ETH_LEN || frame_len > buf.len() {
        return Err(Error::Truncated);
    }
    if buf.len() - frame_len < TAG_LEN {
        return Err(Error::Unsupported("no room to push a VLAN tag"));
    }
    buf.copy_within(12..frame_len, 12 + TAG_LEN);
    set_u16(buf, 12, tag.tpid);
    set_u16(buf, 14, tag.tci);
    Ok(frame_len + TAG_LEN)
}

/// Remove the outermost tag of the frame in `buf[..frame_len]`, shifting the
/// rest left. Returns the removed tag and the new frame length.
pub fn pop_tag(buf: &mut [u8], frame_len: usize) -> Result<(Tag, usize)> {
    let tag = outer_tag(buf.get(..frame_len).ok_or(Error::Truncated)?)?;
    buf.copy_within(12 + TAG_LEN..frame_len, 12);
    Ok((tag, frame_len - TAG_LEN))
}

/// Insert `tag` into the frame at `buf[start..start + len]` by moving the
/// two MAC addresses four bytes into the headroom. Needs `start >= 4`;
/// returns the new start (the frame is then `len + 4` bytes long).
pub fn push_tag_front(buf: &mut [u8], start: usize, len: usize, tag: Tag) -> Result<usize> {
    let fits = start.checked_add(len).is_some_and(|end| end <= buf.len());
    if len < ETH_LEN || !fits {
        return Err(Error::Truncated);
    }
    if start < TAG_LEN {
        return Err(Error::Unsupported("no headroom to push a VLAN tag"));
    }
    let ns = start - TAG_LEN;
    buf.copy_within(start..start + 12, ns);
    set_u16(buf, ns + 12, tag.tpid);
    set_u16(buf, ns + 14, tag.tci);
    Ok(ns)
}

/// Remove the outer tag of the frame at `buf[start..start + len]` by moving
/// the MAC addresses four bytes towards the payload. Returns the tag and the
/// new start (the frame is then `len - 4` bytes long).
pub fn pop_tag_front(buf: &mut [u8], start: usize, len: usize) -> Result<(Tag, usize)> {
    let end = start.checked_add(len).ok_or(Error::Truncated)?;
    let tag = outer_tag(buf.get(start..end).ok_or(Error::Truncated)?)?;
    buf.copy_within(start..start + 12, start + TAG_LEN);
    Ok((tag, start + TAG_LEN))
}

fn outer_tag(frame: &[u8]) -> Result<Tag> {
    if frame.len() < ETH_LEN + TAG_LEN {
        return Err(Error::Truncated);
    }
    let tpid = get_u16(frame, 12);
    if !is_tpid(tpid) {
        return Err(Error::Malformed("frame has no VLAN tag"));
    }
    Ok(Tag {
        tpid,
        tci: get_u16(frame, 14),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dst 02:..:02, src 02:..:01, 802.1ad tag vid 100 pcp 5, 802.1Q tag vid 10, IPv4, 2 payload bytes.
    const QINQ: [u8; 24] = [
        2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xa8, 0xa0, 0x64, 0x81, 0x00, 0x00, 0x0a, 0x08,
        0x00, 0xaa, 0xbb,
    ];

    #[test]
    fn parse_qinq() {
        let st = parse_tags(&QINQ).unwrap();
        assert_eq!(st.depth(), 2);
        let outer = st.tags[0].unwrap();
        assert_eq!(
            (outer.tpid, outer.vid(), outer.pcp(), outer.dei()),
            (0x88a8, 100, 5, false)
        );
        assert_eq!(st.tags[1].unwrap().vid(), 10);
        assert_eq!(st.ethertype, 0x0800);
        assert_eq!(st.payload_offset, 22);
        assert_eq!(parse_tags(&QINQ[..19]), Err(Error::Truncated));

        let v = VlanTag::new_checked(&QINQ[14..]).unwrap();
        assert_eq!(
            (v.tci(), v.vid(), v.pcp(), v.ethertype()),
            (0xa064, 100, 5, 0x8100)
        );
    }

    #[test]
    fn tci_and_setters() {
        assert_eq!(tci(5, false, 100), 0xa064);
        assert_eq!(tci(7, true, 0xffff), 0xffff);
        let mut b = [0u8; 4];
        let mut v = VlanTag::new_unchecked(&mut b[..]);
        v.set_tci(tci(3, true, 7));
        v.set_vid(4095);
        v.set_pcp(1);
        v.set_ethertype(0x86dd);
        assert_eq!(b, [0x3f, 0xff, 0x86, 0xdd]);
    }

    #[test]
    fn push_pop_shift_roundtrip() {
        let inner = QINQ[..12]
            .iter()
            .chain(&QINQ[16..])
            .copied()
            .collect::<Vec<u8>>();
        let mut buf = [0u8; 24];
        buf[..20].copy_from_slice(&inner);
        let n = push_tag(
            &mut buf,
            20,
            Tag {
                tpid: 0x88a8,
                tci: 0xa064,
            },
        )
        .unwrap();
        assert_eq!((n, buf), (24, QINQ));
        let (t, n) = pop_tag(&mut buf, 24).unwrap();
        assert_eq!((t.vid(), n), (100, 20));
        assert_eq!(&buf[..20], &inner[..]);
        assert!(push_tag(&mut buf, 21, Tag::default()).is_err());
        assert!(pop_tag(&mut [0u8; 18], 18).is_err());
    }

    #[test]
    fn push_pop_headroom_roundtrip() {
        let mut buf = [0u8; 30];
        buf[10..30].copy_from_slice(
            &QINQ[..12]
                .iter()
                .chain(&QINQ[16..])
                .copied()
                .collect::<Vec<_>>(),
        );
        let s = push_tag_front(
            &mut buf,
            10,
            20,
            Tag {
                tpid: 0x88a8,
                tci: 0xa064,
            },
        )
        .unwrap();
        assert_eq!(s, 6);
        assert_eq!(&buf[6..30], &QINQ);
        let (t, s) = pop_tag_front(&mut buf, 6, 24).unwrap();
        assert_eq!((t.tci, s), (0xa064, 10));
        assert_eq!(&buf[10..22], &QINQ[..12]);
        assert_eq!(&buf[22..30], &QINQ[16..]);
        assert!(push_tag_front(&mut buf, 2, 20, Tag::default()).is_err());
        assert!(pop_tag_front(&mut buf, 10, 100).is_err());
    }
}
