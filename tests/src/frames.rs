//! Hand-built test frames: Ethernet with an optional 802.1Q tag and the local experimental
//! ethertype 0x88b5, carrying a marker so a capture can tell test frames from background chatter.

/// Ethertype for test payloads (IEEE local experimental).
pub const TEST_ETHERTYPE: u16 = 0x88b5;
/// Broadcast MAC.
pub const BROADCAST: [u8; 6] = [0xff; 6];

/// A test frame from `src` to `dst`, tagged with `vlan` when given, carrying `marker`.
pub fn frame(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, marker: u32) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(v) = vlan {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&(v & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&TEST_ETHERTYPE.to_be_bytes());
    f.extend_from_slice(b"dvs-test");
    f.extend_from_slice(&marker.to_be_bytes());
    f.resize(f.len().max(60), 0);
    f
}

/// A parsed test frame: (dst, src, vlan, marker).
pub type TestFrame = ([u8; 6], [u8; 6], Option<u16>, u32);

/// Parsed view of a captured frame when it is one of ours.
pub fn parse(f: &[u8]) -> Option<TestFrame> {
    if f.len() < 14 {
        return None;
    }
    let dst: [u8; 6] = f[0..6].try_into().ok()?;
    let src: [u8; 6] = f[6..12].try_into().ok()?;
    let (vlan, off) = if f[12..14] == [0x81, 0x00] {
        (Some(u16::from_be_bytes([f[14], f[15]]) & 0x0fff), 16)
    } else {
        (None, 12)
    };
    if f.len() < off + 2 + 12 || f[off..off + 2] != TEST_ETHERTYPE.to_be_bytes() {
        return None;
    }
    if &f[off + 2..off + 10] != b"dvs-test" {
        return None;
    }
    let marker = u32::from_be_bytes(f[off + 10..off + 14].try_into().ok()?);
    Some((dst, src, vlan, marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let f = frame(BROADCAST, [2, 0, 0, 0, 0, 1], Some(10), 7);
        assert_eq!(
            parse(&f),
            Some((BROADCAST, [2, 0, 0, 0, 0, 1], Some(10), 7))
        );
        let f = frame([2; 6], [4; 6], None, 9);
        assert_eq!(parse(&f), Some(([2; 6], [4; 6], None, 9)));
        assert_eq!(f.len(), 60);
    }
}
