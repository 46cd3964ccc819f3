//! The split-ring data path against rings built by hand in a memfd-backed
//! `GuestMemoryMmap`, in-process and without a socket: this test plays the
//! guest driver (writes descriptors and the avail ring, reads the used
//! ring) and drives `NetQueue::dequeue`/`enqueue` like a PMD would. Covers
//! plain RX/TX, MRG_RXBUF merging, EVENT_IDX interrupt decisions, NEEDS_CSUM
//! completion and every malformed-descriptor case: each must be counted,
//! returned with length 0 where a valid id exists, and not disturb the good
//! packet posted right after it.

use std::os::fd::FromRawFd;

use vhost::{NetQueue, QueueCounters, VringAddrs, VringError};
use vm_memory::{
    Address, Bytes, FileOffset, GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion,
};

const F_MRG: u64 = 1 << 15;
const F_EVENT_IDX: u64 = 1 << 29;
const F_V1: u64 = 1 << 32;
const F_CSUM: u64 = 1;
const NEXT: u16 = 1;
const WRITE: u16 = 2;
const INDIRECT: u16 = 4;
const MEM_SIZE: usize = 1 << 20;
const BUF_BASE: u64 = 0x10000;

fn memfd_memory() -> GuestMemoryMmap {
    let name = c"vhost-ring-test";
    // SAFETY: memfd_create with a valid NUL-terminated name; the returned fd
    // is checked and then owned by the File.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), 0) };
    assert!(fd >= 0, "memfd_create failed");
    // SAFETY: fd is a fresh, valid descriptor that nothing else owns.
    let file = unsafe { std::fs::File::from_raw_fd(fd) };
    file.set_len(MEM_SIZE as u64).unwrap();
    let map = MmapRegion::from_file(FileOffset::new(file, 0), MEM_SIZE).unwrap();
    GuestMemoryMmap::from_regions(vec![GuestRegionMmap::new(map, GuestAddress(0)).unwrap()])
        .unwrap()
}

/// The guest driver side of one split ring.
struct Driver {
    mem: GuestMemoryMmap,
    size: u16,
    addrs: VringAddrs,
    avail_idx: u16,
    used_seen: u16,
    next_desc: u16,
    next_buf: u64,
}

impl Driver {
    fn new(size: u16) -> Self {
        let mem = memfd_memory();
        let addrs = VringAddrs {
            desc: GuestAddress(0),
            avail: GuestAddress(0x1000 * u64::from(size / 256).max(1)),
            used: GuestAddress(0x4000 * u64::from(size / 256).max(1)),
        };
        Self {
            mem,
            size,
            addrs,
            avail_idx: 0,
            used_seen: 0,
            next_desc: 0,
            next_buf: BUF_BASE,
        }
    }

    fn queue(&self, features: u64) -> NetQueue {
        NetQueue::new(&self.mem, u32::from(self.size), self.addrs, 0, features).unwrap()
    }

    fn write_desc(&self, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let mut d = [0u8; 16];
        d[0..8].copy_from_slice(&addr.to_le_bytes());
        d[8..12].copy_from_slice(&len.to_le_bytes());
        d[12..14].copy_from_slice(&flags.to_le_bytes());
        d[14..16].copy_from_slice(&next.to_le_bytes());
        self.mem
            .write_slice(&d, self.addrs.desc.unchecked_add(16 * u64::from(i)))
            .unwrap();
    }

    fn alloc_buf(&mut self, len: usize) -> u64 {
        let a = self.next_buf;
        self.next_buf += (len as u64 + 63) & !63;
        assert!(self.next_buf < MEM_SIZE as u64);
        a
    }

    /// Post a chain made of `segs` (address, len, flags); NEXT is added.
    fn post_chain(&mut self, segs: &[(u64, u32, u16)]) -> u16 {
        let head = self.next_desc;
        for (k, &(addr, len, flags)) in segs.iter().enumerate() {
            let i = (head + k as u16) % self.size;
            let last = k + 1 == segs.len();
            let f = if last { flags } else { flags | NEXT };
            self.write_desc(i, addr, len, f, (i + 1) % self.size);
        }
        self.next_desc = (head + segs.len() as u16) % self.size;
        self.post_head(head);
        head
    }

    fn post_head(&mut self, head: u16) {
        let slot = u64::from(self.avail_idx % self.size);
        self.mem
            .write_obj(head, self.addrs.avail.unchecked_add(4 + 2 * slot))
            .unwrap();
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.set_avail_idx(self.avail_idx);
    }

    fn set_avail_idx(&self, idx: u16) {
        self.mem
            .write_obj(idx, self.addrs.avail.unchecked_add(2))
            .unwrap();
    }

    fn set_avail_flags(&self, f: u16) {
        self.mem.write_obj(f, self.addrs.avail).unwrap();
    }

    fn set_used_event(&self, v: u16) {
        let off = 4 + 2 * u64::from(self.size);
        self.mem
            .write_obj(v, self.addrs.avail.unchecked_add(off))
            .unwrap();
    }

    fn used_idx(&self) -> u16 {
        self.mem.read_obj(self.addrs.used.unchecked_add(2)).unwrap()
    }

    fn used_flags(&self) -> u16 {
        self.mem.read_obj(self.addrs.used).unwrap()
    }

    fn avail_event(&self) -> u16 {
        let off = 4 + 8 * u64::from(self.size);
        self.mem
            .read_obj(self.addrs.used.unchecked_add(off))
            .unwrap()
    }

    /// Next unseen used element (id, len).
    fn pop_used(&mut self) -> Option<(u32, u32)> {
        if self.used_seen == self.used_idx() {
            return None;
        }
        let slot = u64::from(self.used_seen % self.size);
        let base = self.addrs.used.unchecked_add(4 + 8 * slot);
        let id: u32 = self.mem.read_obj(base).unwrap();
        let len: u32 = self.mem.read_obj(base.unchecked_add(4)).unwrap();
        self.used_seen = self.used_seen.wrapping_add(1);
        Some((id, len))
    }

    /// Post a guest TX packet: header (with `hdr`) and `frame`, in one buffer.
    fn send(&mut self, hdr: [u8; 12], frame: &[u8]) -> u16 {
        let a = self.alloc_buf(12 + frame.len());
        self.mem.write_slice(&hdr, GuestAddress(a)).unwrap();
        self.mem.write_slice(frame, GuestAddress(a + 12)).unwrap();
        self.post_chain(&[(a, (12 + frame.len()) as u32, 0)])
    }

    /// Post `n` receive buffers of `len` bytes each.
    fn post_rx(&mut self, n: usize, len: u32) -> Vec<(u16, u64)> {
        (0..n)
            .map(|_| {
                let a = self.alloc_buf(len as usize);
                (self.post_chain(&[(a, len, WRITE)]), a)
            })
            .collect()
    }

    fn read(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        self.mem.read_slice(&mut v, GuestAddress(addr)).unwrap();
        v
    }
}

fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
}

/// Dequeue into 32 buffers of 2048 bytes; returns the frames.
fn drain(q: &mut NetQueue, d: &Driver) -> (Vec<Vec<u8>>, bool) {
    let mut store = vec![[0u8; 2048]; 32];
    let mut bufs: Vec<&mut [u8]> = store.iter_mut().map(|b| &mut b[..]).collect();
    let mut lens = [0usize; 32];
    let b = q.dequeue(&d.mem, &mut bufs, &mut lens);
    let out = (0..b.packets)
        .map(|i| bufs[i][..lens[i]].to_vec())
        .collect();
    (out, b.notify)
}

fn bad(q: &NetQueue) -> u64 {
    q.counters.bad_descriptors
}

#[test]
fn guest_tx_frames_arrive_with_header_stripped() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1);
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(60 + i * 100, i as u8)).collect();
    let heads: Vec<u16> = frames.iter().map(|f| d.send([0; 12], f)).collect();
    // A fourth packet with the header in its own descriptor and the frame
    // split in two.
    let f4 = frame(300, 9);
    let (h, a, b) = (d.alloc_buf(12), d.alloc_buf(100), d.alloc_buf(200));
    d.mem.write_slice(&[0u8; 12], GuestAddress(h)).unwrap();
    d.mem.write_slice(&f4[..100], GuestAddress(a)).unwrap();
    d.mem.write_slice(&f4[100..], GuestAddress(b)).unwrap();
    let h4 = d.post_chain(&[(h, 12, 0), (a, 100, 0), (b, 200, 0)]);
    let (got, _) = drain(&mut q, &d);
    assert_eq!(got.len(), 4);
    assert_eq!(&got[..3], &frames[..]);
    assert_eq!(got[3], f4);
    assert_eq!(d.used_idx(), 4);
    for want in heads.iter().chain([h4].iter()) {
        assert_eq!(d.pop_used(), Some((u32::from(*want), 0)));
    }
    assert_eq!(q.counters.packets, 4);
    assert_eq!(q.ring().last_avail(), 4);
    // Nothing more: an empty burst publishes nothing.
    assert_eq!(drain(&mut q, &d).0.len(), 0);
    assert_eq!(d.used_idx(), 4);
}

#[test]
fn guest_rx_gets_header_and_frame() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1);
    let bufs = d.post_rx(4, 2048);
    let f1 = frame(64, 1);
    let f2 = frame(1500, 2);
    let b = q.enqueue(&d.mem, &[&f1, &f2]);
    assert_eq!(b.packets, 2);
    assert_eq!(d.pop_used(), Some((u32::from(bufs[0].0), 12 + 64)));
    assert_eq!(d.pop_used(), Some((u32::from(bufs[1].0), 12 + 1500)));
    assert_eq!(d.pop_used(), None);
    let got = d.read(bufs[0].1, 12 + 64);
    assert_eq!(&got[..10], &[0u8; 10]);
    assert_eq!(u16::from_le_bytes([got[10], got[11]]), 1, "num_buffers");
    assert_eq!(&got[12..], &f1[..]);
    assert_eq!(d.read(bufs[1].1 + 12, 1500), f2);
}

#[test]
fn legacy_guest_uses_ten_byte_header() {
    let mut d = Driver::new(256);
    let mut q = d.queue(0);
    assert_eq!(q.hdr_len(), 10);
    let bufs = d.post_rx(1, 2048);
    let f = frame(100, 3);
    assert_eq!(q.enqueue(&d.mem, &[&f]).packets, 1);
    assert_eq!(d.pop_used(), Some((u32::from(bufs[0].0), 110)));
    assert_eq!(d.read(bufs[0].1 + 10, 100), f);
}

#[test]
fn mrg_rxbuf_spans_several_buffers() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1 | F_MRG);
    let bufs = d.post_rx(8, 512);
    let big = frame(1400, 7);
    let small = frame(100, 8);
    let b = q.enqueue(&d.mem, &[&big, &small]);
    assert_eq!(b.packets, 2);
    // 12 + 1400 = 1412 bytes = 512 + 512 + 388.
    assert_eq!(d.pop_used(), Some((u32::from(bufs[0].0), 512)));
    assert_eq!(d.pop_used(), Some((u32::from(bufs[1].0), 512)));
    assert_eq!(d.pop_used(), Some((u32::from(bufs[2].0), 388)));
    assert_eq!(d.pop_used(), Some((u32::from(bufs[3].0), 112)));
    let hdr = d.read(bufs[0].1, 12);
    assert_eq!(u16::from_le_bytes([hdr[10], hdr[11]]), 3);
    let mut joined = d.read(bufs[0].1 + 12, 500);
    joined.extend(d.read(bufs[1].1, 512));
    joined.extend(d.read(bufs[2].1, 388));
    assert_eq!(joined, big);
    let hdr2 = d.read(bufs[3].1, 12);
    assert_eq!(u16::from_le_bytes([hdr2[10], hdr2[11]]), 1);
}

/// Headers in odd places: split over two descriptors (written byte by byte),
/// or alone in a first chain of exactly `hdr_len` bytes with the frame in the
/// next chain (MRG_RXBUF).
#[test]
fn header_split_over_descriptors_or_alone_in_a_chain() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1 | F_MRG);
    let (a, b) = (d.alloc_buf(5), d.alloc_buf(2048));
    let split = d.post_chain(&[(a, 5, WRITE), (b, 2048, WRITE)]);
    let f = frame(200, 4);
    assert_eq!(q.enqueue(&d.mem, &[&f]).packets, 1);
    assert_eq!(d.pop_used(), Some((u32::from(split), 212)));
    let mut got = d.read(a, 5);
    got.extend(d.read(b, 207));
    assert_eq!(u16::from_le_bytes([got[10], got[11]]), 1);
    assert_eq!(&got[12..], &f[..]);

    let (h, rest) = (d.alloc_buf(12), d.alloc_buf(2048));
    let first = d.post_chain(&[(h, 12, WRITE)]);
    let second = d.post_chain(&[(rest, 2048, WRITE)]);
    assert_eq!(q.enqueue(&d.mem, &[&f]).packets, 1);
    assert_eq!(d.pop_used(), Some((u32::from(first), 12)));
    assert_eq!(d.pop_used(), Some((u32::from(second), 200)));
    let hdr = d.read(h, 12);
    assert_eq!(&hdr[..10], &[0u8; 10]);
    assert_eq!(u16::from_le_bytes([hdr[10], hdr[11]]), 2);
    assert_eq!(d.read(rest, 200), f);
}

#[test]
fn out_of_buffers_counts_and_keeps_chains() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1 | F_MRG);
    d.post_rx(3, 1024);
    let f = frame(1500, 1);
    // First frame takes two buffers, the second needs two but only one is left.
    let b = q.enqueue(&d.mem, &[&f, &f, &f]);
    assert_eq!(b.packets, 1);
    assert_eq!(q.counters.tx_no_buffers, 2);
    assert_eq!(d.used_idx(), 2);
    assert_eq!(
        q.ring().last_avail(),
        2,
        "the unused buffer stays available"
    );
    d.post_rx(1, 1024);
    assert_eq!(q.enqueue(&d.mem, &[&f]).packets, 1);
    assert_eq!(d.used_idx(), 4);
}

#[test]
fn without_mrg_a_frame_larger_than_the_buffer_is_dropped() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1);
    let bufs = d.post_rx(1, 256);
    let big = frame(1000, 1);
    let small = frame(200, 2);
    let b = q.enqueue(&d.mem, &[&big, &small]);
    assert_eq!(b.packets, 1);
    assert_eq!(q.counters.tx_oversize, 1);
    assert_eq!(d.pop_used(), Some((u32::from(bufs[0].0), 212)));
}

#[test]
fn interrupts_follow_no_interrupt_flag() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1);
    d.send([0; 12], &frame(64, 0));
    let (got, notify) = drain(&mut q, &d);
    assert_eq!((got.len(), notify), (1, true));
    assert_eq!(d.used_flags() & 1, 1, "kicks suppressed with NO_NOTIFY");
    d.set_avail_flags(1);
    d.send([0; 12], &frame(64, 0));
    let (got, notify) = drain(&mut q, &d);
    assert_eq!((got.len(), notify), (1, false));
    assert!(
        q.unsettled(),
        "a polling guest's 'no' awaits a fenced check"
    );
    // The guest re-enables interrupts: the next burst (empty) makes the
    // deferred check, which covers the entry published while suppressed.
    d.set_avail_flags(0);
    assert!(drain(&mut q, &d).1);
    assert!(!q.unsettled());
    // Nothing new used, nothing to signal.
    assert!(!drain(&mut q, &d).1);
}

#[test]
fn deferred_interrupt_decision_is_made_by_settle_or_within_a_few_bursts() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1);
    d.set_avail_flags(1);
    d.send([0; 12], &frame(64, 0));
    assert_eq!(drain(&mut q, &d), (vec![frame(64, 0)], false));
    assert!(q.unsettled());
    // Still polling: settling says no interrupt and clears the debt.
    assert!(!q.settle(&d.mem));
    assert!(!q.unsettled());
    // Busy bursts: the fenced check is made at least every 8 of them.
    let mut settled_at = None;
    for i in 1..=8 {
        d.send([0; 12], &frame(64, 0));
        assert_eq!(drain(&mut q, &d).0.len(), 1);
        if !q.unsettled() {
            settled_at = Some(i);
            break;
        }
    }
    assert_eq!(settled_at, Some(8));
    // A guest that wants interrupts gets one with the burst, no deferral.
    d.set_avail_flags(0);
    d.send([0; 12], &frame(64, 0));
    assert!(drain(&mut q, &d).1);
    assert!(!q.unsettled());
}

#[test]
fn event_idx_decides_interrupts() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1 | F_EVENT_IDX);
    d.set_used_event(0);
    d.send([0; 12], &frame(64, 0));
    let (_, n1) = drain(&mut q, &d);
    assert!(n1, "used 0 -> 1 crosses used_event 0");
    assert_eq!(d.used_flags(), 0, "no NO_NOTIFY flag with EVENT_IDX");
    let ev = d.avail_event();
    assert!(
        ev.wrapping_sub(1) >= 256,
        "avail_event parked beyond reach: {ev}"
    );
    d.send([0; 12], &frame(64, 0));
    let (_, n2) = drain(&mut q, &d);
    assert!(!n2, "used_event 0 already passed");
    d.set_used_event(3);
    d.send([0; 12], &frame(64, 0));
    let (_, n3) = drain(&mut q, &d);
    assert!(!n3, "2 -> 3 does not pass used_event 3");
    d.send([0; 12], &frame(64, 0));
    d.send([0; 12], &frame(64, 0));
    let (got, n4) = drain(&mut q, &d);
    assert_eq!(got.len(), 2);
    assert!(
        n4,
        "3 -> 5 passes used_event 3, one interrupt for the burst"
    );
}

fn udp_frame(payload: &[u8], seed: u16) -> Vec<u8> {
    let mut f = vec![0u8; 42];
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&((28 + payload.len()) as u16).to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[192, 168, 1, 1]);
    f[30..34].copy_from_slice(&[192, 168, 1, 2]);
    f[34..36].copy_from_slice(&4000u16.to_be_bytes());
    f[36..38].copy_from_slice(&53u16.to_be_bytes());
    f[38..40].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f[40..42].copy_from_slice(&seed.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

#[test]
fn needs_csum_is_completed_before_handoff() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1 | F_CSUM);
    let payload = b"checksum me, please";
    let len = (8 + payload.len()) as u16;
    let seed = packet::checksum::pseudo_header_v4(
        [192, 168, 1, 1].into(),
        [192, 168, 1, 2].into(),
        17,
        len,
    );
    let f = udp_frame(payload, seed);
    let mut hdr = [0u8; 12];
    hdr[0] = 1; // NEEDS_CSUM
    hdr[6..8].copy_from_slice(&34u16.to_le_bytes());
    hdr[8..10].copy_from_slice(&6u16.to_le_bytes());
    d.send(hdr, &f);
    let (got, _) = drain(&mut q, &d);
    assert_eq!(got.len(), 1);
    let ph = packet::checksum::PseudoHeader::V4 {
        src: [192, 168, 1, 1].into(),
        dst: [192, 168, 1, 2].into(),
    };
    assert_ne!(&got[0][40..42], &seed.to_be_bytes());
    assert_eq!(
        packet::checksum::transport_checksum(&ph, 17, &got[0][34..]),
        0,
        "checksum verifies"
    );
    assert_eq!(q.counters.csum_completed, 1);
    // csum_offset pointing past the frame: dropped as a bad header, and the
    // next packet still flows.
    hdr[8..10].copy_from_slice(&4000u16.to_le_bytes());
    d.send(hdr, &f);
    d.send([0; 12], &frame(64, 1));
    let (got, _) = drain(&mut q, &d);
    assert_eq!(got, vec![frame(64, 1)]);
    assert_eq!(q.counters.bad_headers, 1);
    assert_eq!(d.used_idx(), 3);
}

/// Without VIRTIO_NET_F_CSUM the TX header is not read at all (the guest may
/// not ask for checksums, and the line it sits in is the guest core's): a
/// header asking for one, or with undefined flags, changes nothing.
#[test]
fn tx_header_is_ignored_without_csum() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1);
    let f = frame(80, 7);
    let mut hdr = [0u8; 12];
    hdr[0] = 0xff;
    hdr[6..8].copy_from_slice(&34u16.to_le_bytes());
    hdr[8..10].copy_from_slice(&6u16.to_le_bytes());
    d.send(hdr, &f);
    let (got, _) = drain(&mut q, &d);
    assert_eq!(got, vec![f]);
    assert_eq!((q.counters.csum_completed, q.counters.bad_headers), (0, 0));
}

/// Post `bad` (a closure posting one malformed chain), then a good packet;
/// expect the good packet, one more bad descriptor, and (if `returned`) the
/// bad head in the used ring with length 0.
fn tx_case(name: &str, returned: bool, bad_post: impl FnOnce(&mut Driver) -> u16) {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1);
    let bad_head = bad_post(&mut d);
    let good = frame(64, 0x5a);
    d.send([0; 12], &good);
    let (got, _) = drain(&mut q, &d);
    assert_eq!(
        got,
        vec![good.clone()],
        "{name}: good packet after the bad one"
    );
    assert_eq!(bad(&q), 1, "{name}: counted");
    if returned {
        assert_eq!(
            d.pop_used(),
            Some((u32::from(bad_head), 0)),
            "{name}: returned empty"
        );
    }
    // The queue keeps working.
    d.send([0; 12], &good);
    assert_eq!(drain(&mut q, &d).0.len(), 1, "{name}: still working");
    assert_eq!(bad(&q), 1, "{name}: no new errors");
}

#[test]
fn malformed_tx_chains_are_counted_and_skipped() {
    tx_case("outside memory", true, |d| {
        d.post_chain(&[(MEM_SIZE as u64 - 16, 100, 0)])
    });
    tx_case("address overflow", true, |d| {
        d.post_chain(&[(u64::MAX - 4, 100, 0)])
    });
    tx_case("shorter than header", true, |d| {
        let a = d.alloc_buf(8);
        d.post_chain(&[(a, 8, 0)])
    });
    tx_case("device-writable buffer", true, |d| {
        let a = d.alloc_buf(100);
        d.post_chain(&[(a, 100, WRITE)])
    });
    tx_case("indirect", true, |d| {
        let a = d.alloc_buf(64);
        d.post_chain(&[(a, 64, INDIRECT)])
    });
    tx_case("loop", true, |d| {
        let a = d.alloc_buf(100);
        let head = d.next_desc;
        d.write_desc(head, a, 50, NEXT, head + 1);
        d.write_desc(head + 1, a + 50, 50, NEXT, head);
        d.next_desc += 2;
        d.post_head(head);
        head
    });
    tx_case("next out of range", true, |d| {
        let a = d.alloc_buf(100);
        let head = d.next_desc;
        d.write_desc(head, a, 100, NEXT, 300);
        d.next_desc += 1;
        d.post_head(head);
        head
    });
    tx_case("head out of range", false, |d| {
        d.post_head(999);
        999
    });
}

#[test]
fn avail_index_jump_is_counted_once_and_recoverable() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1);
    d.set_avail_idx(1000);
    for _ in 0..5 {
        assert_eq!(drain(&mut q, &d).0.len(), 0);
    }
    assert_eq!(bad(&q), 1);
    assert_eq!(d.used_idx(), 0);
    d.set_avail_idx(0);
    d.send([0; 12], &frame(64, 0));
    assert_eq!(drain(&mut q, &d).0.len(), 1);
}

#[test]
fn oversized_guest_frame_is_dropped_and_counted() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1);
    let h = d.send([0; 12], &frame(3000, 0));
    d.send([0; 12], &frame(64, 0));
    let (got, _) = drain(&mut q, &d);
    assert_eq!(got.len(), 1);
    assert_eq!(q.counters.rx_oversize, 1);
    assert_eq!(d.pop_used(), Some((u32::from(h), 0)));
}

#[test]
fn malformed_rx_chains_are_returned_empty() {
    let mut d = Driver::new(256);
    let mut q = d.queue(F_V1 | F_MRG);
    // A device-readable buffer on the RX queue, then a buffer outside
    // memory, then good buffers.
    let a = d.alloc_buf(2048);
    let bad1 = d.post_chain(&[(a, 2048, 0)]);
    let bad2 = d.post_chain(&[(MEM_SIZE as u64 - 100, 2048, WRITE)]);
    let good = d.post_rx(2, 2048);
    let f1 = frame(200, 1);
    let f2 = frame(300, 2);
    let b = q.enqueue(&d.mem, &[&f1, &f2]);
    // Both bad chains are handed back empty and counted; the frames land in
    // the good buffers, in order.
    assert_eq!(b.packets, 2);
    assert_eq!(bad(&q), 2);
    assert_eq!(d.pop_used(), Some((u32::from(bad1), 0)));
    assert_eq!(d.pop_used(), Some((u32::from(bad2), 0)));
    assert_eq!(d.pop_used(), Some((u32::from(good[0].0), 212)));
    assert_eq!(d.pop_used(), Some((u32::from(good[1].0), 312)));
    assert_eq!(d.read(good[0].1 + 12, 200), f1);
    assert_eq!(d.read(good[1].1 + 12, 300), f2);
    // A buffer that starts inside memory but claims 4 GiB is bad as well.
    let a = d.alloc_buf(64);
    let bad3 = d.post_chain(&[(a, u32::MAX, WRITE)]);
    let good3 = d.post_rx(1, 2048);
    assert_eq!(q.enqueue(&d.mem, &[&f1]).packets, 1);
    assert_eq!(bad(&q), 3);
    assert_eq!(d.pop_used(), Some((u32::from(bad3), 0)));
    assert_eq!(d.pop_used(), Some((u32::from(good3[0].0), 212)));
}

#[test]
fn rings_outside_memory_are_refused() {
    let d = Driver::new(256);
    let addrs = VringAddrs {
        used: GuestAddress(MEM_SIZE as u64 - 8),
        ..d.addrs
    };
    let e = NetQueue::new(&d.mem, 256, addrs, 0, F_V1).unwrap_err();
    assert!(matches!(e, VringError::OutsideMemory("used", _)), "{e:?}");
    let e = NetQueue::new(&d.mem, 100, d.addrs, 0, F_V1).unwrap_err();
    assert_eq!(e, VringError::BadSize(100));
}

#[test]
fn ring_wraps_many_times() {
    let mut d = Driver::new(8);
    let mut q = d.queue(F_V1 | F_EVENT_IDX);
    let mut total = QueueCounters::default();
    for round in 0..20_000u32 {
        d.next_buf = BUF_BASE;
        let f = frame(64, round as u8);
        d.send([0; 12], &f);
        let (got, _) = drain(&mut q, &d);
        assert_eq!(got, vec![f]);
        assert_eq!(d.pop_used().map(|u| u.1), Some(0));
    }
    total.add(&q.counters);
    assert_eq!(total.packets, 20_000);
    assert_eq!(total.bad_descriptors, 0);
}
