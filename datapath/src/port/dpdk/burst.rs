//! The DPDK port's fast path: one receive and one transmit burst, each a loop of copies between
//! mbufs and pool frames bracketed by one bulk mbuf operation and one ethdev burst call.
//!
//! Receive never asks the device for more packets than the batch has room for and the PMD's pool
//! has frames, so nothing received is dropped for lack of a buffer on our side (the device counts
//! `imissed` instead, which is the honest place for backpressure). A frame larger than a pool
//! frame, or an mbuf chain whose segment lengths disagree with its packet length, is counted in
//! `rx_errors`. Transmit drops the whole burst (`tx_dropped`) if the link is down or the mbuf pool
//! is empty, counts packets too long for one mbuf as `tx_errors`, retries a partially accepted
//! burst while the device keeps making progress, and frees and counts what is left as
//! `tx_dropped`. Every `dvs_*` call is a plain function call into the C shim (no syscall); the
//! backends themselves may kick the kernel once per burst (`net_af_packet`, `net_tap`).

use super::eal::ensure_lcore;
use super::{DpdkPort, QueueState};
use crate::mempool::{Batch, PacketPool};
use crate::port::{Port, PortCounters};
use dpdk_sys as sys;
use std::sync::MutexGuard;

/// Transmit attempts for one burst while the device keeps accepting packets.
const TX_ATTEMPTS: usize = 4;

fn lock(m: &std::sync::Mutex<QueueState>) -> MutexGuard<'_, QueueState> {
    // A panic while holding a queue lock leaves only scratch pointers behind: keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Copy the packet in mbuf chain `m` (`pkt_len` bytes) into `dst`; false if it does not fit or
/// the chain is inconsistent.
fn copy_chain(m: *mut sys::rte_mbuf, pkt_len: usize, dst: &mut [u8]) -> bool {
    if pkt_len > dst.len() {
        return false;
    }
    let mut seg = m.cast_const();
    let mut off = 0usize;
    while !seg.is_null() {
        let mut len = 0u16;
        let mut next = std::ptr::null_mut();
        // SAFETY: `seg` is a live mbuf segment of a packet we received and have not freed.
        let data = unsafe { sys::dvs_pktmbuf_seg(seg, &mut len, &mut next) };
        let len = usize::from(len);
        if off + len > pkt_len {
            return false;
        }
        // SAFETY: the segment holds `len` readable bytes at `data`; `dst[off..off + len]` is in
        // bounds (off + len <= pkt_len <= dst.len()); mbuf memory never overlaps a pool frame.
        unsafe {
            std::ptr::copy_nonoverlapping(data.cast::<u8>(), dst.as_mut_ptr().add(off), len);
        }
        off += len;
        seg = next.cast_const();
    }
    off == pkt_len
}

impl DpdkPort {
    pub(super) fn rx(&self, rxq: u16, pool: &mut PacketPool, batch: &mut Batch) -> usize {
        if rxq >= self.n_rxq {
            return 0;
        }
        let want = batch.room().min(pool.available());
        if want == 0 {
            return 0;
        }
        ensure_lcore();
        let mut q = lock(&self.rxqs[usize::from(rxq)]);
        let q = &mut *q;
        // SAFETY: valid started port and queue; `mbufs` has room for `want` <= BATCH_SIZE
        // pointers; the queue mutex makes this the only poller of the queue.
        let n = usize::from(unsafe {
            sys::dvs_eth_rx_burst(self.port_id, rxq, q.mbufs.as_mut_ptr(), want as u16)
        });
        let (mut got, mut bytes, mut errors, mut dropped) = (0u64, 0u64, 0u64, 0u64);
        for &m in &q.mbufs[..n] {
            let Some(mut p) = pool.alloc() else {
                dropped += 1;
                continue;
            };
            // SAFETY: `m` is a live mbuf just returned by rx_burst.
            let pkt_len = unsafe { sys::dvs_pktmbuf_pkt_len(m) } as usize;
            if pkt_len == 0 || !copy_chain(m, pkt_len, p.spare_mut()) || !p.set_len(pkt_len) {
                errors += 1;
                pool.free(p);
                continue;
            }
            bytes += pkt_len as u64;
            got += 1;
            if let Err(p) = batch.push(p) {
                // Cannot happen (want <= room), but never leak a frame.
                got -= 1;
                bytes -= pkt_len as u64;
                dropped += 1;
                pool.free(p);
            }
        }
        if n > 0 {
            // SAFETY: the first `n` entries are mbufs we own (from rx_burst) and no longer use.
            unsafe { sys::rte_pktmbuf_free_bulk(q.mbufs.as_mut_ptr(), n as u32) };
        }
        self.counters.rx(got, bytes);
        PortCounters::add(&self.counters.rx_errors, errors);
        PortCounters::add(&self.counters.rx_dropped, dropped);
        got as usize
    }

    pub(super) fn tx(&self, txq: u16, pool: &mut PacketPool, batch: &mut Batch) {
        let n = batch.len();
        if n == 0 {
            return;
        }
        if !self.link_up() {
            PortCounters::add(&self.counters.tx_dropped, n as u64);
            pool.free_batch(batch);
            return;
        }
        ensure_lcore();
        let qid = txq % self.n_txq;
        let mut q = lock(&self.txqs[usize::from(qid)]);
        let q = &mut *q;
        // SAFETY: the pool is live; `mbufs` has room for `n` <= BATCH_SIZE pointers.
        let rc = unsafe {
            sys::dvs_pktmbuf_alloc_bulk(self.pool.as_ptr(), q.mbufs.as_mut_ptr(), n as u32)
        };
        if rc != 0 {
            PortCounters::add(&self.counters.tx_dropped, n as u64);
            pool.free_batch(batch);
            return;
        }
        let mut good = 0usize;
        let (mut errors, mut too_big) = (0u64, 0u64);
        let mtu = self.mtu.get();
        for (i, p) in batch.drain().enumerate() {
            let m = q.mbufs[i];
            let len = p.len();
            if !crate::port::mtu::fits(p.data(), mtu) {
                too_big += 1;
                // SAFETY: `m` is ours and never handed to the device.
                unsafe { sys::dvs_pktmbuf_free(m) };
                pool.free(p);
                continue;
            }
            let dst = if len == 0 || len > usize::from(u16::MAX) {
                std::ptr::null_mut()
            } else {
                // SAFETY: `m` is a fresh single-segment mbuf from alloc_bulk; append returns
                // NULL if `len` exceeds its tailroom.
                unsafe { sys::dvs_pktmbuf_append(m, len as u16) }
            };
            if dst.is_null() {
                errors += 1;
                // SAFETY: `m` is ours and never handed to the device.
                unsafe { sys::dvs_pktmbuf_free(m) };
            } else {
                // SAFETY: `dst` has `len` writable bytes (append succeeded); the source is the
                // packet's own bytes in the pool, which never overlap mbuf memory.
                unsafe {
                    std::ptr::copy_nonoverlapping(p.data().as_ptr(), dst.cast::<u8>(), len);
                }
                // `good <= i`, so slot `i` has been read before it can be overwritten.
                q.mbufs[good] = m;
                q.lens[good] = len as u32;
                good += 1;
            }
            pool.free(p);
        }
        let mut sent = 0usize;
        for _ in 0..TX_ATTEMPTS {
            if sent == good {
                break;
            }
            // SAFETY: entries `sent..good` are filled mbufs we own; the queue mutex makes this
            // the only sender on queue `qid`.
            let k = usize::from(unsafe {
                sys::dvs_eth_tx_burst(
                    self.port_id,
                    qid,
                    q.mbufs.as_mut_ptr().add(sent),
                    (good - sent) as u16,
                )
            });
            if k == 0 {
                break;
            }
            sent += k;
        }
        if sent < good {
            // SAFETY: entries `sent..good` were not taken by the device and are still ours.
            unsafe {
                sys::rte_pktmbuf_free_bulk(q.mbufs.as_mut_ptr().add(sent), (good - sent) as u32)
            };
        }
        let bytes: u64 = q.lens[..sent].iter().map(|&l| u64::from(l)).sum();
        self.counters.tx(sent as u64, bytes);
        PortCounters::add(&self.counters.tx_dropped, (good - sent) as u64);
        PortCounters::add(&self.counters.tx_errors, errors);
        crate::port::mtu::count_too_big(&self.counters, too_big);
    }
}
