//! The static-inline ring helpers of `<xdp/xsk.h>`, in Rust.
//!
//! AF_XDP rings are single-producer/single-consumer queues shared with the kernel through an
//! mmap: a `producer` and a `consumer` index (free-running `u32`s) plus a power-of-two array of
//! entries. libxdp's `xsk_ring_prod` / `xsk_ring_cons` keep cached copies of both indices so that
//! most operations touch no shared cache line. The functions below mirror libxdp 1.3's versions
//! one for one (same names, same all-or-nothing `reserve`, same "cached_cons is size ahead" trick)
//! and use the memory ordering the kernel's `net/xdp/xsk_queue.h` prescribes:
//!
//! * a producer loads the kernel's `consumer` with **Acquire** before reusing slots (the kernel
//!   finished reading them before its release-store), writes entries with plain stores, then
//!   publishes with a **Release** store of `producer`;
//! * a consumer loads `producer` with **Acquire** before reading entries, and hands slots back with
//!   a **Release** store of `consumer` after it finished reading them;
//! * our own index is re-read **Relaxed** (we are its only writer) and the `flags` word (written by
//!   the kernel with `WRITE_ONCE`) is read **Relaxed**, like the C code's plain loads.
//!
//! The indices are accessed through `AtomicU32::from_ptr`, which is sound because the kernel maps
//! them 4-byte aligned and only ever accesses them atomically (with its own barriers).

// The C names are kept on purpose, so libxdp's documentation applies verbatim.
#![allow(non_snake_case)]

use crate::bindings::{xdp_desc, xsk_ring_cons, xsk_ring_prod, XDP_RING_NEED_WAKEUP};
use core::sync::atomic::{AtomicU32, Ordering};

/// The shared index at `p` as an atomic.
///
/// # Safety
/// `p` must point at a live, 4-byte-aligned ring index of an mmapped XDP ring.
#[inline(always)]
unsafe fn idx<'a>(p: *mut u32) -> &'a AtomicU32 {
    // SAFETY: forwarded to the caller's contract; AtomicU32 has the layout of u32.
    unsafe { AtomicU32::from_ptr(p) }
}

/// Address of fill-ring entry `idx`.
///
/// # Safety
/// `fill` must be a fill ring set up by `xsk_umem__create` and still mapped.
#[inline(always)]
pub unsafe fn xsk_ring_prod__fill_addr(fill: *mut xsk_ring_prod, idx: u32) -> *mut u64 {
    // SAFETY: `ring` is the mapped entry array of `mask + 1` u64 entries; `idx & mask` is in bounds.
    unsafe {
        (*fill)
            .ring
            .cast::<u64>()
            .add((idx & (*fill).mask) as usize)
    }
}

/// Address of completion-ring entry `idx`.
///
/// # Safety
/// `comp` must be a completion ring set up by `xsk_umem__create` and still mapped.
#[inline(always)]
pub unsafe fn xsk_ring_cons__comp_addr(comp: *const xsk_ring_cons, idx: u32) -> *const u64 {
    // SAFETY: as for the fill ring.
    unsafe {
        (*comp)
            .ring
            .cast::<u64>()
            .add((idx & (*comp).mask) as usize)
    }
}

/// Address of TX descriptor `idx`.
///
/// # Safety
/// `tx` must be a TX ring set up by `xsk_socket__create` and still mapped.
#[inline(always)]
pub unsafe fn xsk_ring_prod__tx_desc(tx: *mut xsk_ring_prod, idx: u32) -> *mut xdp_desc {
    // SAFETY: `ring` is the mapped array of `mask + 1` descriptors; `idx & mask` is in bounds.
    unsafe {
        (*tx)
            .ring
            .cast::<xdp_desc>()
            .add((idx & (*tx).mask) as usize)
    }
}

/// Address of RX descriptor `idx`.
///
/// # Safety
/// `rx` must be an RX ring set up by `xsk_socket__create` and still mapped.
#[inline(always)]
pub unsafe fn xsk_ring_cons__rx_desc(rx: *const xsk_ring_cons, idx: u32) -> *const xdp_desc {
    // SAFETY: as for the TX ring.
    unsafe {
        (*rx)
            .ring
            .cast::<xdp_desc>()
            .add((idx & (*rx).mask) as usize)
    }
}

/// Non-zero when the kernel asks to be woken (a `sendto`/`recvfrom`/`poll`) to process this ring.
///
/// # Safety
/// `r` must be a mapped producer ring of a socket bound with `XDP_USE_NEED_WAKEUP`.
#[inline(always)]
pub unsafe fn xsk_ring_prod__needs_wakeup(r: *const xsk_ring_prod) -> i32 {
    // SAFETY: `flags` points at the ring's mapped, aligned flags word.
    let f = unsafe { idx((*r).flags) }.load(Ordering::Relaxed);
    (f & XDP_RING_NEED_WAKEUP) as i32
}

/// Free entries in a producer ring, refreshing the cached consumer index only if fewer than `nb`
/// are known to be free.
///
/// # Safety
/// `r` must be a mapped producer ring used by this thread only.
#[inline(always)]
pub unsafe fn xsk_prod_nb_free(r: *mut xsk_ring_prod, nb: u32) -> u32 {
    // SAFETY: `r` is valid and exclusively ours (caller contract); `consumer` is a mapped index.
    unsafe {
        let r = &mut *r;
        let free = r.cached_cons.wrapping_sub(r.cached_prod);
        if free >= nb {
            return free;
        }
        // cached_cons runs `size` ahead of the real consumer so the fast path above needs no add.
        r.cached_cons = idx(r.consumer).load(Ordering::Acquire).wrapping_add(r.size);
        r.cached_cons.wrapping_sub(r.cached_prod)
    }
}

/// Entries available in a consumer ring (at most `nb`), refreshing the cached producer index
/// only when the cache says the ring is empty.
///
/// # Safety
/// `r` must be a mapped consumer ring used by this thread only.
#[inline(always)]
pub unsafe fn xsk_cons_nb_avail(r: *mut xsk_ring_cons, nb: u32) -> u32 {
    // SAFETY: `r` is valid and exclusively ours (caller contract); `producer` is a mapped index.
    unsafe {
        let r = &mut *r;
        let mut entries = r.cached_prod.wrapping_sub(r.cached_cons);
        if entries == 0 {
            r.cached_prod = idx(r.producer).load(Ordering::Acquire);
            entries = r.cached_prod.wrapping_sub(r.cached_cons);
        }
        entries.min(nb)
    }
}

/// Reserve exactly `nb` producer entries (all or nothing): returns `nb` and the first index in
/// `*idx_out`, or 0 when fewer are free.
///
/// # Safety
/// As [`xsk_prod_nb_free`]; `idx_out` must be writable.
#[inline(always)]
pub unsafe fn xsk_ring_prod__reserve(prod: *mut xsk_ring_prod, nb: u32, idx_out: *mut u32) -> u32 {
    // SAFETY: caller contract.
    unsafe {
        if xsk_prod_nb_free(prod, nb) < nb {
            return 0;
        }
        *idx_out = (*prod).cached_prod;
        (*prod).cached_prod = (*prod).cached_prod.wrapping_add(nb);
    }
    nb
}

/// Publish `nb` reserved and filled entries to the kernel.
///
/// # Safety
/// As [`xsk_prod_nb_free`]; the `nb` entries after the current producer index must have been
/// reserved and written.
#[inline(always)]
pub unsafe fn xsk_ring_prod__submit(prod: *mut xsk_ring_prod, nb: u32) {
    // SAFETY: `producer` is a mapped index only we write; Release orders the entry writes before it.
    unsafe {
        let p = idx((*prod).producer);
        p.store(
            p.load(Ordering::Relaxed).wrapping_add(nb),
            Ordering::Release,
        );
    }
}

/// Take up to `nb` available entries: returns how many and the first index in `*idx_out`.
///
/// # Safety
/// As [`xsk_cons_nb_avail`]; `idx_out` must be writable.
#[inline(always)]
pub unsafe fn xsk_ring_cons__peek(cons: *mut xsk_ring_cons, nb: u32, idx_out: *mut u32) -> u32 {
    // SAFETY: caller contract.
    unsafe {
        let entries = xsk_cons_nb_avail(cons, nb);
        if entries > 0 {
            *idx_out = (*cons).cached_cons;
            (*cons).cached_cons = (*cons).cached_cons.wrapping_add(entries);
        }
        entries
    }
}

/// Give back `nb` peeked entries without consuming them.
///
/// # Safety
/// As [`xsk_cons_nb_avail`]; at most the number last peeked and not released.
#[inline(always)]
pub unsafe fn xsk_ring_cons__cancel(cons: *mut xsk_ring_cons, nb: u32) {
    // SAFETY: caller contract.
    unsafe { (*cons).cached_cons = (*cons).cached_cons.wrapping_sub(nb) };
}

/// Hand `nb` consumed entries back to the kernel.
///
/// # Safety
/// As [`xsk_cons_nb_avail`]; the entries must have been peeked and fully read.
#[inline(always)]
pub unsafe fn xsk_ring_cons__release(cons: *mut xsk_ring_cons, nb: u32) {
    // SAFETY: `consumer` is a mapped index only we write; Release orders our entry reads before it.
    unsafe {
        let c = idx((*cons).consumer);
        c.store(
            c.load(Ordering::Relaxed).wrapping_add(nb),
            Ordering::Release,
        );
    }
}

/// Address of the UMEM byte at `addr`.
///
/// # Safety
/// `addr` must lie inside the UMEM area starting at `umem_area`.
#[inline(always)]
pub unsafe fn xsk_umem__get_data(umem_area: *mut core::ffi::c_void, addr: u64) -> *mut u8 {
    // SAFETY: caller contract.
    unsafe { umem_area.cast::<u8>().add(addr as usize) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake ring in plain memory: indices and a 4-entry array, to check the index arithmetic.
    struct Fake {
        prod: u32,
        cons: u32,
        flags: u32,
        addrs: [u64; 4],
    }

    #[test]
    fn producer_consumer_round_trip_and_wrap() {
        let mut f = Fake {
            prod: u32::MAX - 1,
            cons: u32::MAX - 1,
            flags: 0,
            addrs: [0; 4],
        };
        let mut p = xsk_ring_prod {
            cached_prod: f.prod,
            cached_cons: f.cons.wrapping_add(4),
            mask: 3,
            size: 4,
            producer: &mut f.prod,
            consumer: &mut f.cons,
            ring: f.addrs.as_mut_ptr().cast(),
            flags: &mut f.flags,
        };
        let mut c = xsk_ring_cons {
            cached_prod: f.prod,
            cached_cons: f.cons,
            mask: 3,
            size: 4,
            producer: &mut f.prod,
            consumer: &mut f.cons,
            ring: f.addrs.as_mut_ptr().cast(),
            flags: &mut f.flags,
        };
        let (pp, cp): (*mut xsk_ring_prod, *mut xsk_ring_cons) = (&mut p, &mut c);
        let mut i = 0u32;
        // SAFETY: the fake ring's pointers are live locals for the whole test.
        unsafe {
            assert_eq!(xsk_ring_prod__reserve(pp, 5, &mut i), 0, "all or nothing");
            assert_eq!(xsk_ring_prod__reserve(pp, 3, &mut i), 3);
            for k in 0..3 {
                *xsk_ring_prod__fill_addr(pp, i.wrapping_add(k)) = 100 + u64::from(k);
            }
            xsk_ring_prod__submit(pp, 3);
            assert_eq!(xsk_prod_nb_free(pp, 2), 1);
            let mut j = 0u32;
            assert_eq!(xsk_ring_cons__peek(cp, 8, &mut j), 3);
            let got: Vec<u64> = (0..3)
                .map(|k| *xsk_ring_cons__comp_addr(cp, j.wrapping_add(k)))
                .collect();
            assert_eq!(got, vec![100, 101, 102]);
            xsk_ring_cons__release(cp, 3);
            assert_eq!(xsk_prod_nb_free(pp, 4), 4, "consumer index refreshed");
            assert_eq!(xsk_ring_prod__needs_wakeup(pp), 0);
            *p.flags = XDP_RING_NEED_WAKEUP;
            assert_ne!(xsk_ring_prod__needs_wakeup(pp), 0);
        }
        assert_eq!(f.prod, 1, "producer wrapped past u32::MAX");
        assert_eq!(f.cons, 1);
    }
}
