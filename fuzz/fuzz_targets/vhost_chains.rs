//! Fuzz vhost-user descriptor chains against the device's data path (`vhost::NetQueue`, what a
//! PMD burst runs for a VM port) with guest memory the fuzzer writes: descriptor table, avail
//! ring, used ring and buffers are all input, as a hostile guest controls them.
//!
//! Input: byte 0 picks the queue size (1..16) and the negotiated features (`CSUM`, `MRG_RXBUF`,
//! `EVENT_IDX`, `VERSION_1`); bytes 1..3 are the starting avail index; the rest is copied over
//! guest memory from address 0 (an 8 KiB region), then into a second 4 KiB region at 0x10000
//! (so chains can point into a gap between regions). Rings sit at fixed addresses: descriptors
//! at 0x000, avail at 0x100, used at 0x200; buffers may be anywhere.
//!
//! The same memory then serves one guest-TX burst (`dequeue`, as `rx_burst`) and one guest-RX
//! burst (`enqueue`, as `tx_burst`). Properties beyond "no panic" and no out-of-bounds access
//! (AddressSanitizer watches the caller's buffers; guest memory is checked by the device):
//! a dequeued frame fits its buffer and is at least an Ethernet header; nothing is delivered
//! beyond what was asked; every used entry a dequeue publishes names a descriptor in the table
//! and has length 0 (the device writes nothing into TX buffers, so nothing can garble them).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vhost::net::{F_CSUM, F_EVENT_IDX, F_MRG_RXBUF, F_VERSION_1};
use vhost::{NetQueue, VringAddrs};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const LOW: (u64, usize) = (0, 0x2000);
const HIGH: (u64, usize) = (0x10000, 0x1000);
const DESC: u64 = 0x000;
const AVAIL: u64 = 0x100;
const USED: u64 = 0x200;

fn memory() -> &'static GuestMemoryMmap {
    static MEM: OnceLock<GuestMemoryMmap> = OnceLock::new();
    MEM.get_or_init(|| {
        GuestMemoryMmap::<()>::from_ranges(&[
            (GuestAddress(LOW.0), LOW.1),
            (GuestAddress(HIGH.0), HIGH.1),
        ])
        .expect("guest memory")
    })
}

/// Load `image` into guest memory (zeroing the rest of both regions).
fn load(mem: &GuestMemoryMmap, image: &[u8]) {
    let (low, high) = image.split_at(image.len().min(LOW.1));
    let high = &high[..high.len().min(HIGH.1)];
    for ((gpa, size), part) in [(LOW, low), (HIGH, high)] {
        let mut region = vec![0u8; size];
        region[..part.len()].copy_from_slice(part);
        mem.write_slice(&region, GuestAddress(gpa))
            .expect("write region");
    }
}

/// The used index as the guest sees it.
fn used_idx(mem: &GuestMemoryMmap) -> u16 {
    mem.read_obj(GuestAddress(USED + 2)).expect("used idx")
}

/// The TX used entries published since the guest-visible used index was `from`: each must name
/// a descriptor of the table and have length 0. (The device takes its used index from the ring
/// when it starts, not from `base`, so the ring's index is the reference.)
fn check_tx_used(mem: &GuestMemoryMmap, size: u16, from: u16) {
    let to = used_idx(mem);
    let mut i = from;
    while i != to {
        let at = USED + 4 + 8 * u64::from(i % size);
        let id: u32 = mem.read_obj(GuestAddress(at)).expect("used id");
        let len: u32 = mem.read_obj(GuestAddress(at + 4)).expect("used len");
        assert!(
            id < u32::from(size),
            "used id {id} outside a {size}-entry table"
        );
        assert_eq!(len, 0, "TX chains are returned with length 0");
        i = i.wrapping_add(1);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&[ctl, b0, b1], image)) = data.split_first_chunk::<3>() else {
        return;
    };
    let size = 1u16 << (ctl & 0x7).min(4);
    let mut features = 0;
    for (bit, f) in [
        (3, F_CSUM),
        (4, F_MRG_RXBUF),
        (5, F_EVENT_IDX),
        (6, F_VERSION_1),
    ] {
        if ctl & (1 << bit) != 0 {
            features |= f;
        }
    }
    let base = u16::from_le_bytes([b0, b1]);
    let addrs = VringAddrs {
        desc: GuestAddress(DESC),
        avail: GuestAddress(AVAIL),
        used: GuestAddress(USED),
    };
    let mem = memory();
    load(mem, image);

    // Guest TX: the switch drains frames into buffers of two sizes.
    let mut q =
        NetQueue::new(mem, u32::from(size), addrs, base, features).expect("valid fixed ring");
    let mut big = [[0u8; 2048]; 3];
    let mut small = [0u8; 64];
    let mut lens = [0usize; 4];
    let before = used_idx(mem);
    let b = {
        let [b0, b1, b2] = &mut big;
        let mut bufs: [&mut [u8]; 4] = [b0, &mut small, b1, b2];
        q.dequeue(mem, &mut bufs, &mut lens)
    };
    assert!(
        b.packets <= 4,
        "dequeued {} frames into 4 buffers",
        b.packets
    );
    // Frame k lands in buffer k: [2048, 64, 2048, 2048] bytes.
    for (&len, cap) in lens[..b.packets].iter().zip([2048, 64, 2048, 2048]) {
        assert!(
            len >= 14,
            "a dequeued frame of {len} bytes is shorter than Ethernet"
        );
        assert!(
            len <= cap,
            "a dequeued frame of {len} bytes overflows its {cap}-byte buffer"
        );
    }
    check_tx_used(mem, size, before);
    let _ = q.settle(mem);

    // Guest RX: the switch delivers frames of several sizes into the same memory.
    let mut q =
        NetQueue::new(mem, u32::from(size), addrs, base, features).expect("valid fixed ring");
    let payload: Vec<u8> = image
        .iter()
        .copied()
        .chain(std::iter::repeat(0x5a))
        .take(1514)
        .collect();
    let frames: [&[u8]; 3] = [&payload[..60], &payload, &[0xff; 14]];
    // Used entries are not checked here: a guest may hand over receive buffers that overlap its
    // own rings, and then the frames written into them rightly garble what it reads back.
    let b = q.enqueue(mem, &frames);
    assert!(b.packets <= frames.len());
    let _ = q.settle(mem);
});
