//! Where a frame's headers are: one walk over Ethernet, its VLAN tags and the L3 header, shared
//! by everything in dvs that reads or edits headers in place (flow key extraction, set-field and
//! push/pop edits, meter DSCP remarking, checksum completion), so that they agree on what a
//! frame is.
//!
//! What counts as a VLAN tag is decided once, by [`crate::vlan::is_tpid`]: 0x8100 (802.1Q) and
//! 0x88a8 (802.1ad), as in OpenFlow 1.3 and Open vSwitch. The legacy 0x9100 is not a tag here:
//! such a frame's EtherType is 0x9100, as OVS sees it. Any number of tags is walked (the flow
//! key keeps only the outer one's TCI).
//!
//! The walk never fails: a frame that ends inside its tags or before its EtherType says so in
//! [`Layout::ethertype`] (`None`), and a frame whose EtherType is a TPID is tagged even when the
//! tag itself is cut short, so that an access port still refuses it.

use crate::vlan::{is_tpid, TAG_LEN};

/// IPv4 and IPv6 EtherTypes.
const IPV4: u16 = 0x0800;
const IPV6: u16 = 0x86dd;

/// A frame's L2 layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// The frame's first EtherType field holds a TPID (even if the tag is cut short).
    pub tagged: bool,
    /// The outer tag's TCI, when that tag is complete.
    pub outer_tci: Option<u16>,
    /// Complete tags walked.
    pub tags: u8,
    /// The EtherType after the tags (below 0x600 it is an 802.3 length); `None` when the frame
    /// ends before it.
    pub ethertype: Option<u16>,
    /// Offset of the L3 header (just after the EtherType).
    pub l3: usize,
}

#[inline(always)]
fn be16(d: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(off)?, *d.get(off + 1)?]))
}

/// Walk the Ethernet header and VLAN tags of `frame`.
#[inline(always)]
pub fn walk(frame: &[u8]) -> Layout {
    let mut l = Layout::default();
    let mut off = 12;
    let Some(mut ty) = be16(frame, off) else {
        return l;
    };
    if !is_tpid(ty) {
        // Most frames: untagged.
        l.ethertype = Some(ty);
        l.l3 = 14;
        return l;
    }
    l.tagged = true;
    while is_tpid(ty) {
        // The TCI sits after the TPID, the next EtherType after the TCI.
        let (Some(tci), Some(next)) = (be16(frame, off + 2), be16(frame, off + 4)) else {
            l.l3 = off + 2;
            return l;
        };
        if l.tags == 0 {
            l.outer_tci = Some(tci);
        }
        l.tags = l.tags.saturating_add(1);
        off += TAG_LEN;
        ty = next;
    }
    l.ethertype = Some(ty);
    l.l3 = off + 2;
    l
}

impl Layout {
    /// The L4 header's offset and IP protocol: for IPv4 with a sound header that is not a
    /// later fragment, and for IPv6 past its extension headers (unless it is a later
    /// fragment). `None` otherwise, or when the frame is too short for the headers.
    pub fn l4(&self, frame: &[u8]) -> Option<(usize, u8)> {
        let l3 = self.l3;
        match self.ethertype? {
            IPV4 => {
                let ip = frame.get(l3..l3 + 20)?;
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                let frag_off = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff;
                (ip[0] >> 4 == 4 && ihl >= 20 && frag_off == 0 && frame.len() >= l3 + ihl)
                    .then_some((l3 + ihl, ip[9]))
            }
            IPV6 => {
                let ip = frame.get(l3..l3 + 40)?;
                if ip[0] >> 4 != 6 {
                    return None;
                }
                // Past any extension headers (hop-by-hop, routing, destination options, AH,
                // fragment), as the flow key's `ip_proto` is; a later fragment has no L4 header.
                let up = crate::ipv6::skip_extension_headers(ip[6], frame.get(l3 + 40..)?).ok()?;
                (!up.is_later_fragment()).then_some((l3 + 40 + up.offset, up.protocol))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_l4_is_found_past_extension_headers_and_not_in_later_fragments() {
        let mut ip = vec![0x60, 0, 0, 0, 0, 28, 0, 64];
        ip.extend_from_slice(&[0u8; 32]);
        // Hop-by-hop options (8 bytes) then a fragment header, then UDP.
        ip.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        ip.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 1]);
        ip.extend_from_slice(&[0x30, 0x39, 0x30, 0x39, 0, 12, 0, 0, 1, 2, 3, 4]);
        let f = frame(&[], IPV6, &ip);
        assert_eq!(walk(&f).l4(&f), Some((14 + 40 + 16, 17)));
        let mut later = f.clone();
        later[14 + 40 + 8 + 2..14 + 40 + 8 + 4].copy_from_slice(&0x0010u16.to_be_bytes());
        assert_eq!(walk(&later).l4(&later), None);
        let cut = &f[..14 + 40 + 4];
        assert_eq!(walk(cut).l4(cut), None, "a chain cut short");
    }

    fn frame(tpids: &[u16], ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        for (i, t) in tpids.iter().enumerate() {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&(10 + i as u16).to_be_bytes());
        }
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn untagged_single_and_double_tags() {
        let l = walk(&frame(&[], 0x0800, &[]));
        assert_eq!(
            (l.tagged, l.tags, l.ethertype, l.l3),
            (false, 0, Some(0x0800), 14)
        );
        let l = walk(&frame(&[0x8100], 0x86dd, &[]));
        assert_eq!(
            (l.tagged, l.outer_tci, l.tags, l.ethertype, l.l3),
            (true, Some(10), 1, Some(0x86dd), 18)
        );
        let l = walk(&frame(&[0x88a8, 0x8100, 0x8100], 0x0806, &[]));
        assert_eq!(
            (l.outer_tci, l.tags, l.ethertype, l.l3),
            (Some(10), 3, Some(0x0806), 26)
        );
    }

    #[test]
    fn legacy_9100_is_an_ethertype_not_a_tag() {
        let l = walk(&frame(&[], 0x9100, &[0, 5, 8, 0]));
        assert_eq!((l.tagged, l.tags, l.ethertype), (false, 0, Some(0x9100)));
    }

    #[test]
    fn truncated_frames_say_how_far_they_got() {
        assert_eq!(walk(&[0u8; 13]), Layout::default());
        // A TPID and half a tag: tagged, no TCI, no EtherType.
        let mut f = frame(&[], 0x8100, &[]);
        f.push(0);
        let l = walk(&f);
        assert!(l.tagged && l.outer_tci.is_none() && l.ethertype.is_none());
    }

    #[test]
    fn l4_offsets() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[9] = 17;
        let f = frame(&[0x8100], 0x0800, &v4);
        assert_eq!(walk(&f).l4(&f), Some((38, 17)));
        // A later fragment has no L4 header.
        v4[6] = 0x00;
        v4[7] = 0x10;
        let f = frame(&[], 0x0800, &v4);
        assert_eq!(walk(&f).l4(&f), None);
        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[6] = 6;
        let f = frame(&[], 0x86dd, &v6);
        assert_eq!(walk(&f).l4(&f), Some((54, 6)));
        let f = frame(&[], 0x0806, &[0; 28]);
        assert_eq!(walk(&f).l4(&f), None);
    }
}
