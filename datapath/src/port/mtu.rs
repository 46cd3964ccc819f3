//! Per-port MTU: which frame lengths a port carries, and how every backend enforces it.
//!
//! A port's MTU is the largest payload it carries: a frame may be `14 + mtu` bytes (Ethernet
//! header, no FCS), plus 4 bytes for each VLAN tag at its front (at most two, an 802.1ad outer
//! tag over an 802.1Q one), as Linux counts for 802.1Q on the wire. The switch-wide MTU sizes the
//! packet buffers (a pool frame holds 9000-byte payloads once it is above 1500), so no port's MTU
//! may exceed it; the front ends refuse such a configuration, and [`Port::set_mtu`] refuses an MTU
//! the backend's own buffers (a TX ring slot, an AF_XDP UMEM frame, a DPDK mbuf, the MTU a vhost
//! device announced) cannot hold, with an error that says what to change.
//!
//! Enforcement never truncates. On receive, the PMD's admit stage drops a frame over
//! [`Port::mtu`] as `too_big` on the ingress port (one virtual call per burst, not per packet).
//! On transmit, each backend checks every frame in the loop that already copies or hands it
//! over ([`fits`]: a length compare, and a look at the tag bytes only for frames over the
//! untagged limit), and drops an oversize frame counted by [`count_too_big`]: the port's
//! `tx_dropped`. The PMD does not see those drops, so the switch-wide (per-PMD) `too_big` total
//! and the port's per-reason drops (which are receive drops) count the receive side only.
//!
//! Kernel interfaces (AF_PACKET, AF_XDP, TAP): the switch does not change the interface's own
//! MTU. That MTU belongs to whoever created the interface (the operator, libvirt, the test), as
//! do the MTUs of its peers, which the switch cannot set anyway; a switch that silently raised
//! it would hide a mismatch that then bites on the peer. The port's effective MTU is the
//! smaller of the configured one and the interface's (read with `SIOCGIFMTU`, cached), because
//! the kernel itself refuses to send, and a veth to deliver, anything bigger. Changing a port's
//! MTU in the configuration re-creates the port (a live change: the switch keeps running and
//! the other ports do not notice).
//!
//! [`Port::mtu`]: super::Port::mtu
//! [`Port::set_mtu`]: super::Port::set_mtu

use super::PortCounters;
use std::sync::atomic::{AtomicU32, Ordering};

/// The smallest MTU a port or the switch may have (IPv4's minimum datagram every host takes).
pub const MTU_MIN: u32 = 576;
/// The largest MTU a port or the switch may have (what a jumbo pool frame holds).
pub const MTU_MAX: u32 = 9000;
/// The MTU of a port nobody configured.
pub const MTU_DEFAULT: u32 = 1500;
/// The Ethernet header, without tags.
pub const ETH_HLEN: usize = 14;
/// One VLAN tag.
pub const VLAN_HLEN: usize = 4;

/// The longest untagged frame a port with MTU `mtu` carries.
#[inline]
pub fn untagged_max(mtu: u32) -> usize {
    ETH_HLEN + mtu as usize
}

/// The longest frame a port with MTU `mtu` carries with one VLAN tag (what
/// [`super::Port::max_frame`] reports).
#[inline]
pub fn tagged_max(mtu: u32) -> usize {
    untagged_max(mtu) + VLAN_HLEN
}

/// Bytes the VLAN tags at the front of `frame` add (0, 4 or 8).
pub fn tag_bytes(frame: &[u8]) -> usize {
    let mut off = 12;
    while off < 12 + 2 * VLAN_HLEN
        && frame.len() >= off + VLAN_HLEN + 2
        && packet::vlan::is_tpid(u16::from_be_bytes([frame[off], frame[off + 1]]))
    {
        off += VLAN_HLEN;
    }
    off - 12
}

/// Does `frame` fit a port with MTU `mtu`?
#[inline]
pub fn fits(frame: &[u8], mtu: u32) -> bool {
    let base = untagged_max(mtu);
    frame.len() <= base || frame.len() <= base + tag_bytes(frame)
}

/// Count `n` frames a port did not transmit because they exceed its MTU.
#[inline]
pub fn count_too_big(counters: &PortCounters, n: u64) {
    if n > 0 {
        PortCounters::add(&counters.tx_dropped, n);
    }
}

/// Why a port refused an MTU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MtuError {
    /// Outside [`MTU_MIN`]..=[`MTU_MAX`].
    #[error("MTU {0} out of range {MTU_MIN}..{MTU_MAX}")]
    OutOfRange(u32),
    /// The backend's buffers hold less.
    #[error("{kind} port: MTU {asked} does not fit: {why} (largest MTU here: {max}){hint}")]
    TooLarge {
        /// The backend.
        kind: &'static str,
        /// The MTU asked for.
        asked: u32,
        /// The largest MTU the backend can carry.
        max: u32,
        /// Which buffer is too small.
        why: String,
        /// What to do instead (empty, or starting with "; ").
        hint: &'static str,
    },
}

/// A port's configured MTU, readable by any PMD and changeable by the control thread.
#[derive(Debug)]
pub struct MtuCell(AtomicU32);

impl Default for MtuCell {
    fn default() -> Self {
        MtuCell(AtomicU32::new(MTU_DEFAULT))
    }
}

impl MtuCell {
    /// A cell holding `mtu`.
    pub fn new(mtu: u32) -> MtuCell {
        MtuCell(AtomicU32::new(mtu))
    }

    /// The MTU.
    #[inline]
    pub fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// Set `mtu` if it is in range and at most `max` (the backend's limit); `kind`, `why` and
    /// `hint` explain a refusal (see [`MtuError::TooLarge`]).
    pub fn set_checked(
        &self,
        mtu: u32,
        max: u32,
        kind: &'static str,
        why: impl FnOnce() -> String,
        hint: &'static str,
    ) -> Result<(), MtuError> {
        if !(MTU_MIN..=MTU_MAX).contains(&mtu) {
            return Err(MtuError::OutOfRange(mtu));
        }
        if mtu > max {
            return Err(MtuError::TooLarge {
                kind,
                asked: mtu,
                max,
                why: why(),
                hint,
            });
        }
        self.0.store(mtu, Ordering::Relaxed);
        Ok(())
    }
}

/// The MTU whose tagged frame is `frame` bytes long (a buffer's capacity as an MTU).
pub fn mtu_for_frame(frame: usize) -> u32 {
    u32::try_from(frame.saturating_sub(ETH_HLEN + VLAN_HLEN)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize, tpids: &[u16]) -> Vec<u8> {
        let mut f = vec![0u8; len];
        for (i, t) in tpids.iter().enumerate() {
            f[12 + 4 * i..14 + 4 * i].copy_from_slice(&t.to_be_bytes());
        }
        f
    }

    #[test]
    fn untagged_frames_fit_up_to_header_plus_mtu() {
        assert!(fits(&frame(9014, &[0x0800]), 9000));
        assert!(!fits(&frame(9015, &[0x0800]), 9000));
        assert!(fits(&frame(1514, &[0x0800]), 1500));
        assert!(!fits(&frame(1515, &[0x0800]), 1500));
        assert!(fits(&frame(60, &[]), 1500));
    }

    #[test]
    fn each_leading_tag_adds_four_bytes() {
        assert!(fits(&frame(9018, &[0x8100, 0x0800]), 9000));
        assert!(!fits(&frame(9019, &[0x8100, 0x0800]), 9000));
        assert!(fits(&frame(1522, &[0x88a8, 0x8100, 0x0800]), 1500));
        assert!(!fits(&frame(1523, &[0x88a8, 0x8100, 0x0800]), 1500));
        // A third tag earns nothing.
        assert!(!fits(&frame(1526, &[0x8100, 0x8100, 0x8100]), 1500));
        assert_eq!(tag_bytes(&frame(30, &[0x8100, 0x8100, 0x8100])), 8);
        assert_eq!(tag_bytes(&frame(13, &[])), 0);
    }

    #[test]
    fn cell_refuses_out_of_range_and_over_the_backend() {
        let c = MtuCell::new(1500);
        assert_eq!(
            c.set_checked(575, 9000, "x", String::new, ""),
            Err(MtuError::OutOfRange(575))
        );
        assert_eq!(
            c.set_checked(9001, 9500, "x", String::new, ""),
            Err(MtuError::OutOfRange(9001))
        );
        let e = c
            .set_checked(
                9000,
                3000,
                "afxdp",
                || "a UMEM frame holds 3000".into(),
                "; use afpacket",
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "afxdp port: MTU 9000 does not fit: a UMEM frame holds 3000 (largest MTU here: 3000); \
             use afpacket"
        );
        assert_eq!(c.get(), 1500);
        c.set_checked(9000, 9000, "x", String::new, "").unwrap();
        assert_eq!(c.get(), 9000);
        assert_eq!(mtu_for_frame(9018), 9000);
    }
}
