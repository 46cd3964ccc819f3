//! virtio-net on top of [`SplitRing`]: the guest's TX queue drained into the
//! caller's buffers ([`NetQueue::dequeue`]) and frames delivered into the
//! guest's RX queue ([`NetQueue::enqueue`]), both one burst at a time.
//!
//! Both directions copy, through host pointers translated once per buffer
//! ([`crate::hostmem`]), and both work a burst in three passes: *collect*
//! (walk and check every chain, note its buffers, prefetch them), *copy*
//! (nothing but the copies), *complete* (headers, used entries, one used
//! index). The buffers and ring lines sit in the guest core's cache, and on
//! this class of machine a line moving between cores costs 150 to 850
//! cycles depending on where the hypervisor placed the vCPUs: the passes
//! make a burst pay that a few times rather than once per frame. Prefetches
//! for all frames go out before the first copy; and since stores leave the
//! store queue in order, the copy pass keeps the queue full of guest lines
//! (whose transfers then overlap) rather than of used entries, counters or
//! spilled locals stuck behind them. DPDK's vhost library batches small
//! copies for the same reason.
//!
//! Dequeue strips the virtio-net header (reading it only when
//! `VIRTIO_NET_F_CSUM` was negotiated), completes a
//! `VIRTIO_NET_HDR_F_NEEDS_CSUM` checksum in software (the switch forwards to
//! ports without offloads) and drops — returning the chain with length 0 —
//! anything the caller's buffer cannot hold, including GSO super-frames (we
//! do not offer the TSO features, so only a misbehaving guest sends them).
//! Enqueue collects one chain per frame, or several with `MRG_RXBUF`,
//! recording segments and planned copies in scratch vectors sized once to
//! the queue size. A malformed chain met while collecting (bad flags, loop,
//! a buffer not entirely inside guest memory) is returned with length 0
//! together with the chains already gathered for that frame (so a merged
//! group is never interleaved with garbage) and the frame is retried on the
//! next chains; running out of chains gives the unconsumed ones back and
//! counts the rest of the burst as `tx_no_buffers`.
//!
//! Header length follows the spec: 12 bytes with `VERSION_1` or
//! `MRG_RXBUF`, 10 for a legacy guest. Little-endian throughout (legacy
//! guests on x86 are little-endian too).

use vm_memory::GuestMemoryMmap;

use crate::guestcopy::{copy_small, plan_frame, write_header, GuestCopy, Seg};
use crate::hostmem::{prefetch_for_read, prefetch_for_write, HostMap};
use crate::vring::{ChainError, SplitRing, VringAddrs, VringError, VRING_DESC_F_WRITE};

/// `VIRTIO_NET_F_CSUM`: the guest may hand us frames with partial checksums.
pub const F_CSUM: u64 = 1 << 0;
/// `VIRTIO_NET_F_MRG_RXBUF`.
pub const F_MRG_RXBUF: u64 = 1 << 15;
/// `VIRTIO_RING_F_EVENT_IDX`.
pub const F_EVENT_IDX: u64 = 1 << 29;
/// `VIRTIO_F_VERSION_1`.
pub const F_VERSION_1: u64 = 1 << 32;
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`.
pub const HDR_F_NEEDS_CSUM: u8 = 1;
/// Largest virtio-net header.
pub const MAX_HDR_LEN: usize = 12;
/// Shortest frame handed to the caller (an Ethernet header).
const MIN_FRAME: usize = 14;

/// Per-queue counters (plain integers: the queue is only touched under its
/// lock, once per burst).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct QueueCounters {
    /// Frames moved.
    pub packets: u64,
    /// Frame bytes moved (headers excluded).
    pub bytes: u64,
    /// Malformed chains / ring indexes.
    pub bad_descriptors: u64,
    /// Unusable virtio-net headers (bad csum_start/offset).
    pub bad_headers: u64,
    /// Guest frames larger than the caller's buffer (dropped whole, never
    /// cut to the buffer).
    pub rx_oversize: u64,
    /// Guest frames shorter than an Ethernet header.
    pub rx_runts: u64,
    /// Frames for the guest that found no buffers.
    pub tx_no_buffers: u64,
    /// Frames for the guest larger than one buffer without MRG_RXBUF.
    pub tx_oversize: u64,
    /// Checksums completed for NEEDS_CSUM frames.
    pub csum_completed: u64,
    /// Interrupts (call eventfd writes) sent to the guest.
    pub notifications: u64,
}

impl QueueCounters {
    /// Add `o` into `self`.
    pub fn add(&mut self, o: &QueueCounters) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.bad_descriptors += o.bad_descriptors;
        self.bad_headers += o.bad_headers;
        self.rx_oversize += o.rx_oversize;
        self.rx_runts += o.rx_runts;
        self.tx_no_buffers += o.tx_no_buffers;
        self.tx_oversize += o.tx_oversize;
        self.csum_completed += o.csum_completed;
        self.notifications += o.notifications;
    }
}

/// Result of one burst.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// Frames moved.
    pub packets: usize,
    /// The guest asked to be interrupted for the entries just published.
    pub notify: bool,
}

/// A guest frame of the dequeue burst, checked and waiting for its copy:
/// its data segments are `segs[seg_start..seg_end]`.
#[derive(Debug, Clone, Copy)]
struct TxFrame {
    seg_start: u32,
    seg_end: u32,
    len: u32,
    hdr: [u8; MAX_HDR_LEN],
}

#[derive(Debug, Clone, Copy)]
struct Chain {
    head: u16,
    /// Bytes the frame puts in this chain (its used length).
    written: u32,
}

enum TxDrop {
    Chain,
    Oversize,
    Runt,
    BadHeader,
}

/// One virtio-net virtqueue (either direction) with its scratch space.
#[derive(Debug, Clone)]
pub struct NetQueue {
    ring: SplitRing,
    hdr_len: usize,
    mrg: bool,
    /// `F_CSUM` was negotiated: the TX header can ask for a checksum.
    csum: bool,
    segs: Vec<Seg>,
    chains: Vec<Chain>,
    copies: Vec<GuestCopy>,
    tx_frames: Vec<TxFrame>,
    /// Counters of this ring's lifetime.
    pub counters: QueueCounters,
}

impl NetQueue {
    /// Build a queue of `size` entries at `addrs`, starting at avail index
    /// `base`, for the negotiated `features`, and check it against `mem`.
    pub fn new(
        mem: &GuestMemoryMmap,
        size: u32,
        addrs: VringAddrs,
        base: u16,
        features: u64,
    ) -> Result<Self, VringError> {
        let ring = SplitRing::new(size, addrs, base, features & F_EVENT_IDX != 0)?;
        ring.validate(mem)?;
        let n = usize::from(ring.size());
        let mut q = Self {
            ring,
            hdr_len: 0,
            mrg: false,
            csum: false,
            segs: Vec::with_capacity(n),
            chains: Vec::with_capacity(n),
            copies: Vec::with_capacity(n),
            tx_frames: Vec::with_capacity(n),
            counters: QueueCounters::default(),
        };
        q.set_features(features);
        Ok(q)
    }

    /// Apply (re-)negotiated features.
    pub fn set_features(&mut self, features: u64) {
        self.mrg = features & F_MRG_RXBUF != 0;
        self.csum = features & F_CSUM != 0;
        self.hdr_len = if features & (F_VERSION_1 | F_MRG_RXBUF) != 0 {
            12
        } else {
            10
        };
        self.ring.set_event_idx(features & F_EVENT_IDX != 0);
    }

    /// The underlying ring.
    pub fn ring(&self) -> &SplitRing {
        &self.ring
    }

    /// virtio-net header length in use.
    pub fn hdr_len(&self) -> usize {
        self.hdr_len
    }

    /// Entries were published whose interrupt decision is still deferred
    /// (see [`SplitRing::finish`]); [`Self::settle`] makes it.
    pub fn unsettled(&self) -> bool {
        self.ring.unsettled()
    }

    /// Make the deferred interrupt decision; `true` means interrupt the guest.
    pub fn settle(&mut self, mem: &GuestMemoryMmap) -> bool {
        match self.ring.view(mem) {
            Ok(view) => self.ring.settle(&view),
            Err(_) => false,
        }
    }

    /// Drain up to `bufs.len()` frames the guest transmitted into `bufs`
    /// (headers stripped, checksums completed), lengths into `lens`.
    pub fn dequeue(
        &mut self,
        mem: &GuestMemoryMmap,
        bufs: &mut [&mut [u8]],
        lens: &mut [usize],
    ) -> Burst {
        let Ok(view) = self.ring.view(mem) else {
            return Burst::default();
        };
        let host = HostMap::new(mem);
        let pending = self.ring.pending(&view, &mut self.counters.bad_descriptors);
        let want = bufs.len().min(lens.len());
        let burst = pending.min(u16::try_from(want).unwrap_or(u16::MAX));
        self.ring.prefetch_heads(&view, burst);
        self.ring.prefetch_used(&view, burst);
        // Pass 1: walk and check every chain, note its data segments and
        // prefetch them. The frames sit in lines the guest's core touched
        // last, so asking for all of them before the first copy overlaps
        // the transfers instead of stalling each copy on its own.
        let (mut consumed, mut planned) = (0u16, 0usize);
        self.chains.clear();
        self.segs.clear();
        self.tx_frames.clear();
        while planned < want && consumed < pending {
            let head = self.ring.avail_head(&view, consumed);
            consumed += 1;
            if head >= self.ring.size() {
                // No valid id to hand back: consume the entry, count it.
                self.counters.bad_descriptors += 1;
                continue;
            }
            self.chains.push(Chain { head, written: 0 });
            let seg_start = self.segs.len();
            let mut hdr = [0u8; MAX_HDR_LEN];
            match collect_tx_chain(
                &self.ring,
                &view,
                &host,
                head,
                (self.hdr_len, self.csum),
                &mut hdr,
                bufs[planned].len(),
                &mut self.segs,
            ) {
                Ok(len) => {
                    self.tx_frames.push(TxFrame {
                        seg_start: seg_start as u32,
                        seg_end: self.segs.len() as u32,
                        len: len as u32,
                        hdr,
                    });
                    planned += 1;
                    continue;
                }
                Err(TxDrop::Chain) => self.counters.bad_descriptors += 1,
                Err(TxDrop::Oversize) => self.counters.rx_oversize += 1,
                Err(TxDrop::Runt) => self.counters.rx_runts += 1,
                Err(TxDrop::BadHeader) => self.counters.bad_headers += 1,
            }
            self.segs.truncate(seg_start);
        }
        // Pass 2: the copies, then the checksums the guest asked for.
        let mut out = 0usize;
        for f in &self.tx_frames {
            let len = f.len as usize;
            let Some(buf) = bufs[out].get_mut(..len) else {
                // A caller's buffers of different sizes: checked against
                // another one in pass 1.
                self.counters.rx_oversize += 1;
                continue;
            };
            let mut at = 0usize;
            for s in &self.segs[f.seg_start as usize..f.seg_end as usize] {
                let n = s.len as usize;
                // SAFETY: `s.host` was translated by `host` for `n` readable
                // bytes of a region `mem` keeps mapped for this whole call;
                // the segments of a frame add up to `len`, so the
                // destination is `n` bytes inside `buf`, our own memory.
                unsafe { copy_small(s.host as *const u8, buf[at..at + n].as_mut_ptr(), n) };
                at += n;
            }
            match finish_rx_frame(&f.hdr, buf) {
                Ok(completed) => {
                    self.counters.csum_completed += u64::from(completed);
                    self.counters.packets += 1;
                    self.counters.bytes += len as u64;
                    lens[out] = len;
                    out += 1;
                }
                Err(()) => self.counters.bad_headers += 1,
            }
        }
        // Pass 3: hand every consumed chain back.
        let mut used = 0u16;
        for c in &self.chains {
            self.ring.put_used(&view, used, c.head, 0);
            used += 1;
        }
        let notify = self.ring.finish(&view, consumed, used);
        Burst {
            packets: out,
            notify,
        }
    }

    /// Deliver `frames` into the guest's receive buffers (virtio-net header
    /// prepended). Returns how many were delivered.
    ///
    /// Three passes over the burst (see the module notes): collect the
    /// chains of every frame, prefetching the buffers for writing and
    /// planning the copies; do the copies; then the headers and the used
    /// entries.
    pub fn enqueue(&mut self, mem: &GuestMemoryMmap, frames: &[&[u8]]) -> Burst {
        let Ok(view) = self.ring.view(mem) else {
            return Burst::default();
        };
        let host = HostMap::new(mem);
        let pending = self.ring.pending(&view, &mut self.counters.bad_descriptors);
        let burst = pending.min(u16::try_from(frames.len()).unwrap_or(u16::MAX));
        self.ring.prefetch_heads(&view, burst);
        self.ring.prefetch_used(&view, burst);
        let cap_segs = usize::from(self.ring.size());
        let (mut consumed, mut used) = (0u16, 0u16);
        self.segs.clear();
        self.chains.clear();
        self.copies.clear();
        let (mut delivered, mut bytes) = (0usize, 0u64);
        'frames: for (fi, frame) in frames.iter().enumerate() {
            let need = self.hdr_len + frame.len();
            let mut frame_start = consumed;
            let mut chains_start = self.chains.len();
            let mut segs_start = self.segs.len();
            let mut cap = 0usize;
            while cap < need {
                if consumed == pending {
                    consumed = frame_start;
                    self.chains.truncate(chains_start);
                    self.segs.truncate(segs_start);
                    self.counters.tx_no_buffers += (frames.len() - fi) as u64;
                    break 'frames;
                }
                let head = self.ring.avail_head(&view, consumed);
                consumed += 1;
                let seg_start = self.segs.len();
                let segs = &mut self.segs;
                let mut chain_cap = 0usize;
                let r = self.ring.walk(&view, head, |d| {
                    if d.flags & VRING_DESC_F_WRITE == 0 {
                        return Err(ChainError::WrongDirection);
                    }
                    if d.len == 0 {
                        return Ok(());
                    }
                    if segs.len() >= cap_segs {
                        return Err(ChainError::TooManySegments);
                    }
                    // The whole buffer the guest claims must be guest memory,
                    // not just the part this frame will fill.
                    let p = host
                        .get(d.addr, d.len as usize)
                        .ok_or(ChainError::OutsideMemory)?;
                    if chain_cap + cap < need {
                        // The header line is compared before it is written
                        // (see `write_header`): fetch it shared, the rest
                        // for writing.
                        let hdr = if cap + chain_cap == 0 {
                            prefetch_for_read(p);
                            self.hdr_len.min(d.len as usize)
                        } else {
                            0
                        };
                        prefetch_for_write(p.wrapping_add(hdr), need - cap - chain_cap - hdr);
                    }
                    segs.push(Seg {
                        host: p as usize,
                        len: d.len,
                    });
                    chain_cap += d.len as usize;
                    Ok(())
                });
                let r = match r {
                    Ok(()) if chain_cap < self.hdr_len => Err(ChainError::TooShort),
                    other => other,
                };
                match r {
                    Ok(()) if !self.mrg && chain_cap < need => {
                        // One buffer per frame and this one is too small:
                        // leave it for a smaller frame.
                        consumed -= 1;
                        self.segs.truncate(seg_start);
                        self.counters.tx_oversize += 1;
                        continue 'frames;
                    }
                    Ok(()) => {
                        self.chains.push(Chain {
                            head,
                            written: chain_cap.min(need - cap) as u32,
                        });
                        cap += chain_cap;
                    }
                    Err(_) => {
                        // Hand back this frame's chains and the bad one,
                        // empty, and start the frame over on the next chains.
                        self.counters.bad_descriptors += 1;
                        for c in &self.chains[chains_start..] {
                            self.ring.put_used(&view, used, c.head, 0);
                            used += 1;
                        }
                        if head < self.ring.size() {
                            self.ring.put_used(&view, used, head, 0);
                            used += 1;
                        }
                        self.chains.truncate(chains_start);
                        self.segs.truncate(segs_start);
                        cap = 0;
                        frame_start = consumed;
                        chains_start = self.chains.len();
                        segs_start = self.segs.len();
                    }
                }
            }
            let nbufs = if self.mrg {
                (self.chains.len() - chains_start) as u16
            } else {
                1
            };
            // SAFETY: every segment was translated by `host` for its full
            // length inside a region `mem` keeps mapped (writable, shared
            // with the guest) for this whole call, and the frame's segments
            // hold `need` bytes; `frame` outlives the call.
            unsafe {
                plan_frame(
                    &self.segs[segs_start..],
                    self.hdr_len,
                    nbufs,
                    frame,
                    &mut self.copies,
                )
            };
            delivered += 1;
            bytes += frame.len() as u64;
        }

        // Pass 2: the copies and nothing else. Stores leave the store queue
        // in order, so any other store between two frames' copies (a used
        // entry, a counter, a spilled local) would hold a slot behind a
        // guest line still being fetched from the other core; kept dense,
        // the queue holds the lines of many frames and their transfers
        // overlap (DPDK's vhost batches small copies the same way).
        for c in &self.copies {
            // SAFETY: planned by `plan_frame` inside translated, mapped
            // segments, from frames the caller keeps alive for this call.
            unsafe { copy_small(c.src as *const u8, c.dst as *mut u8, c.len as usize) };
        }
        // Pass 3: headers (compared, rarely written: see `write_header`),
        // then the used entries, all together.
        for c in &self.copies {
            if c.nbufs != 0 {
                // SAFETY: `plan_frame` marks a copy only when the header's
                // `hdr_len` bytes sit in the same buffer just before `dst`.
                unsafe { write_header((c.dst - self.hdr_len) as *mut u8, self.hdr_len, c.nbufs) };
            }
        }
        for c in &self.chains {
            self.ring.put_used(&view, used, c.head, c.written);
            used += 1;
        }
        self.counters.packets += delivered as u64;
        self.counters.bytes += bytes;
        let notify = self.ring.finish(&view, consumed, used);
        Burst {
            packets: delivered,
            notify,
        }
    }
}

/// Walk the guest TX chain at `head`: copy its first `hdr_len` bytes into
/// `hdr` when `read_hdr` (only `F_CSUM` gives the header any meaning), push
/// the frame's data segments (header bytes skipped) onto `segs`, prefetching
/// their first line, and check the frame fits `cap` bytes. Returns the frame
/// length.
#[allow(clippy::too_many_arguments)]
fn collect_tx_chain(
    ring: &SplitRing,
    view: &crate::vring::RingView<'_>,
    host: &HostMap<'_>,
    head: u16,
    (hdr_len, read_hdr): (usize, bool),
    hdr: &mut [u8; MAX_HDR_LEN],
    cap: usize,
    segs: &mut Vec<Seg>,
) -> Result<usize, TxDrop> {
    let mut got = 0usize;
    let mut frame_len = 0usize;
    // `walk` bounds a chain to the ring size; a burst of many-buffer frames
    // may grow `segs` past its initial capacity once.
    ring.walk(view, head, |d| {
        if d.flags & VRING_DESC_F_WRITE != 0 {
            return Err(ChainError::WrongDirection);
        }
        let len = d.len as usize;
        if len == 0 {
            return Ok(());
        }
        let s = host.get(d.addr, len).ok_or(ChainError::OutsideMemory)?;
        let mut pos = 0;
        if got < hdr_len {
            let take = (hdr_len - got).min(len);
            if read_hdr {
                // SAFETY: `s` is readable for `len >= take` bytes (translated
                // by `host`, mapped while `mem` lives); the destination is
                // our own array, which guest memory never overlaps.
                unsafe {
                    std::ptr::copy_nonoverlapping(s, hdr[got..got + take].as_mut_ptr(), take)
                };
            }
            got += take;
            pos = take;
        }
        if len > pos {
            let p = s.wrapping_add(pos);
            prefetch_for_read(p);
            segs.push(Seg {
                host: p as usize,
                len: (len - pos) as u32,
            });
            frame_len = frame_len.saturating_add(len - pos);
        }
        Ok(())
    })
    .map_err(|_| TxDrop::Chain)?;
    if got < hdr_len {
        return Err(TxDrop::Chain);
    }
    if frame_len > cap {
        return Err(TxDrop::Oversize);
    }
    if frame_len < MIN_FRAME {
        return Err(TxDrop::Runt);
    }
    if hdr[0] & !HDR_F_NEEDS_CSUM & !2 != 0 {
        // Only NEEDS_CSUM (1) and DATA_VALID (2) are defined for TX.
        return Err(TxDrop::BadHeader);
    }
    Ok(frame_len)
}

/// Apply the header's requests to a received frame; `Ok(true)` when a
/// checksum was completed.
fn finish_rx_frame(hdr: &[u8; MAX_HDR_LEN], frame: &mut [u8]) -> Result<bool, ()> {
    if hdr[0] & HDR_F_NEEDS_CSUM == 0 {
        return Ok(false);
    }
    let start = usize::from(u16::from_le_bytes([hdr[6], hdr[7]]));
    let offset = usize::from(u16::from_le_bytes([hdr[8], hdr[9]]));
    complete_checksum(frame, start, offset)
        .map(|()| true)
        .map_err(|_| ())
}

/// Why a NEEDS_CSUM request could not be honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsumError {
    /// `csum_start + csum_offset + 2` is beyond the frame.
    #[error("checksum field outside the frame")]
    OutsideFrame,
}

/// Complete a partial checksum: the ones'-complement sum of
/// `frame[start..]` (whose checksum field holds the pseudo-header seed) is
/// stored, inverted, at `start + offset`.
pub fn complete_checksum(frame: &mut [u8], start: usize, offset: usize) -> Result<(), CsumError> {
    let field = start.checked_add(offset).ok_or(CsumError::OutsideFrame)?;
    if field.checked_add(2).is_none_or(|end| end > frame.len()) {
        return Err(CsumError::OutsideFrame);
    }
    let mut c = packet::checksum::finish(packet::checksum::sum(&frame[start..]));
    if c == 0 && offset == 6 {
        // UDP: a computed 0 is sent as 0xffff (0 means "no checksum").
        c = 0xffff;
    }
    frame[field..field + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp_frame(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        let tot = (20 + 8 + payload.len()) as u16;
        ip[2..4].copy_from_slice(&tot.to_be_bytes());
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let udp = &mut f[34..42];
        udp[0..2].copy_from_slice(&1234u16.to_be_bytes());
        udp[2..4].copy_from_slice(&5678u16.to_be_bytes());
        udp[4..6].copy_from_slice(&(8 + payload.len() as u16).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn completes_udp_checksum_from_pseudo_header_seed() {
        let mut f = udp_frame(b"hello, vhost");
        let len = (f.len() - 34) as u16;
        let seed =
            packet::checksum::pseudo_header_v4([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 17, len);
        f[40..42].copy_from_slice(&seed.to_be_bytes());
        complete_checksum(&mut f, 34, 6).unwrap();
        let ph = packet::checksum::PseudoHeader::V4 {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
        };
        let mut zeroed = f.clone();
        zeroed[40..42].fill(0);
        let want = packet::checksum::transport_checksum(&ph, 17, &zeroed[34..]);
        assert_eq!(u16::from_be_bytes([f[40], f[41]]), want);
        assert_ne!(want, 0);
    }

    #[test]
    fn rejects_checksum_field_outside_frame() {
        let mut f = udp_frame(b"x");
        let n = f.len();
        assert!(complete_checksum(&mut f, n - 1, 0).is_err());
        assert!(complete_checksum(&mut f, 34, 60000).is_err());
        assert!(complete_checksum(&mut f, usize::MAX, 6).is_err());
        assert!(complete_checksum(&mut f, n - 2, 0).is_ok());
    }
}
