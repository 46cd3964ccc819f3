//! Shaper arithmetic on a simulated clock.

use super::*;
use crate::mempool::STD_FRAME;

const NS: u64 = 1_000_000_000;

fn pool() -> PacketPool {
    PacketPool::new(8192, STD_FRAME).expect("pool")
}

fn pkt(pool: &mut PacketPool, len: usize) -> Packet {
    let mut p = pool.alloc().expect("frame");
    assert!(p.set_len(len));
    p
}

fn cfg(cir: u64) -> ShaperConfig {
    ShaperConfig::new(cir)
}

/// Keep queue `q` of `set` at least `keep` deep with `len`-byte packets.
fn top_up(set: &mut QueueSet, pool: &mut PacketPool, q: u32, len: usize, keep: usize) {
    while set.queues[q as usize].len() < keep {
        let p = pkt(pool, len);
        if let Err((p, _)) = set.enqueue(p, q, 0, usize::MAX) {
            pool.free(p);
            break;
        }
    }
}

/// Drain at `now`, freeing what left; returns bytes per queue of origin is not known here, so
/// the packets' lengths are summed.
fn drain_free(set: &mut QueueSet, s: &Shaper, pool: &mut PacketPool, now: u64) -> u64 {
    let mut out = Batch::new();
    let mut bytes = 0;
    loop {
        let n = set.drain(s, now, &mut out);
        bytes += out.packets().iter().map(|p| p.len() as u64).sum::<u64>();
        pool.free_batch(&mut out);
        if n < crate::mempool::BATCH_SIZE {
            return bytes;
        }
    }
}

#[test]
fn rate_over_ten_simulated_seconds_within_one_percent() {
    let mut pool = pool();
    let cir = 5_000_000; // 40 Mbit/s
    let s = Shaper::new(cfg(cir), 0);
    let mut set = QueueSet::new(&s);
    let mut sent = 0u64;
    let step = 20_000; // a drain every 20 us
    let mut t = 0;
    while t <= 10 * NS {
        top_up(&mut set, &mut pool, 0, 1500, 64);
        sent += drain_free(&mut set, &s, &mut pool, t);
        t += step;
    }
    // The bucket starts full (10 ms of cir): expected cir * 10 s plus that burst.
    let expect = cir * 10 + cir / 100;
    let err = (sent as f64 - expect as f64).abs() / expect as f64;
    assert!(err < 0.01, "sent {sent} bytes, expected about {expect}");
    assert_eq!(s.sent_bytes.load(Ordering::Relaxed), sent);
}

#[test]
fn burst_is_the_committed_bucket() {
    let mut pool = pool();
    let mut c = cfg(1_000_000);
    c.cbs_bytes = 50_000;
    let s = Shaper::new(c, 0);
    let mut set = QueueSet::new(&s);
    for _ in 0..200 {
        let p = pkt(&mut pool, 1000);
        assert!(set.enqueue(p, 0, 0, usize::MAX).is_ok());
    }
    // At t=0 exactly the bucket leaves: 50 packets of 1000 bytes.
    assert_eq!(drain_free(&mut set, &s, &mut pool, 0), 50_000);
    assert_eq!(drain_free(&mut set, &s, &mut pool, 0), 0);
    // 1 ms later, 1000 bytes more are due: one packet.
    assert_eq!(drain_free(&mut set, &s, &mut pool, NS / 1000), 1000);
    // The next one is due 1 ms later; the estimate says so.
    assert_eq!(set.wait_ns(&s, NS / 1000), Some(NS / 1000));
    set.free_all(&mut pool);
}

#[test]
fn small_cbs_still_passes_jumbo_frames() {
    let mut pool = PacketPool::new(64, crate::mempool::JUMBO_FRAME).expect("pool");
    let mut c = cfg(1_000_000);
    c.cbs_bytes = 100;
    let s = Shaper::new(c, 0);
    let mut set = QueueSet::new(&s);
    let p = pkt(&mut pool, 9000);
    assert!(set.enqueue(p, 0, 0, usize::MAX).is_ok());
    assert_eq!(drain_free(&mut set, &s, &mut pool, 0), 9000);
}

#[test]
fn peak_bucket_limits_the_burst_and_the_rate() {
    let mut pool = pool();
    let mut c = cfg(1_000_000);
    c.cbs_bytes = 1_000_000;
    c.pir_bytes_per_s = 2_000_000;
    c.pbs_bytes = 10_000;
    let s = Shaper::new(c, 0);
    let mut set = QueueSet::new(&s);
    top_up(&mut set, &mut pool, 0, 1000, 2000);
    // The peak bucket (10 kB) limits the first burst although cbs is 1 MB.
    assert_eq!(drain_free(&mut set, &s, &mut pool, 0), 10_000);
    // Over the next 100 ms the peak rate applies (the committed bucket still has credit).
    let mut sent = 0;
    let mut t = 0;
    while t < NS / 10 {
        t += 10_000;
        sent += drain_free(&mut set, &s, &mut pool, t);
    }
    let expect = 200_000f64;
    assert!(
        ((sent as f64) - expect).abs() / expect < 0.01,
        "sent {sent} in 100 ms at pir 2 MB/s"
    );
    set.free_all(&mut pool);
}

#[test]
fn drr_splits_by_priority_plus_one() {
    let mut pool = pool();
    let mut c = cfg(10_000_000);
    c.queues.insert(1, 1);
    c.queues.insert(2, 3);
    let s = Shaper::new(c, 0);
    let mut set = QueueSet::new(&s);
    let (mut q1, mut q2) = (0u64, 0u64);
    let mut t = 0;
    let mut out = Batch::new();
    while t < 2 * NS {
        // Different sizes per queue: the split is in bytes all the same.
        top_up(&mut set, &mut pool, 1, 1500, 100);
        top_up(&mut set, &mut pool, 2, 400, 300);
        set.drain(&s, t, &mut out);
        for p in out.drain() {
            if p.len() == 1500 {
                q1 += 1500;
            } else {
                q2 += 400;
            }
            pool.free(p);
        }
        t += 50_000;
    }
    let ratio = q2 as f64 / q1 as f64;
    assert!((ratio - 2.0).abs() < 0.02, "q1 {q1} q2 {q2}: ratio {ratio}");
    set.free_all(&mut pool);
}

#[test]
fn unknown_queue_goes_to_queue_zero() {
    let mut pool = pool();
    let s = Shaper::new(cfg(1_000_000), 0);
    let mut set = QueueSet::new(&s);
    let p = pkt(&mut pool, 100);
    assert!(set.enqueue(p, 5, 0, usize::MAX).is_ok());
    let p = pkt(&mut pool, 100);
    assert!(set.enqueue(p, 99, 0, usize::MAX).is_ok());
    assert_eq!(set.queues[0].len(), 2);
    set.free_all(&mut pool);
}

#[test]
fn full_queue_and_pool_budget_refuse() {
    let mut pool = pool();
    let mut c = cfg(1_000);
    c.queue_packets = 10;
    let s = Shaper::new(c, 0);
    let mut set = QueueSet::new(&s);
    for _ in 0..10 {
        let p = pkt(&mut pool, 100);
        assert!(set.enqueue(p, 0, 0, usize::MAX).is_ok());
    }
    let p = pkt(&mut pool, 100);
    let (p, why) = set.enqueue(p, 0, 0, usize::MAX).unwrap_err();
    assert_eq!(why, Refused::QueueFull);
    let mut c = cfg(1_000);
    c.queues.insert(3, 0);
    s.reconfigure(c);
    set.sync(&s);
    let (p, why) = set.enqueue(p, 3, 7, 7).unwrap_err();
    assert_eq!(why, Refused::PoolLimit);
    pool.free(p);
    assert_eq!(set.queued(), 10);
    set.free_all(&mut pool);
    assert_eq!(pool.available(), pool.capacity());
}

#[test]
fn reconfigure_keeps_queues_and_changes_rate() {
    let mut pool = pool();
    let s = Shaper::new(cfg(1_000_000), 0);
    let mut set = QueueSet::new(&s);
    top_up(&mut set, &mut pool, 0, 1000, 200);
    drain_free(&mut set, &s, &mut pool, 0);
    let mut run = |set: &mut QueueSet, from: u64| {
        let mut sent = 0;
        for ms in 1..=100 {
            top_up(set, &mut pool, 0, 1000, 200);
            sent += drain_free(set, &s, &mut pool, from + ms * NS / 1000);
        }
        sent
    };
    assert_eq!(run(&mut set, 0), 100_000);
    s.reconfigure(cfg(3_000_000));
    set.sync(&s);
    assert!(set.queued() > 0);
    assert_eq!(run(&mut set, NS / 10), 300_000);
    let mut rest = Vec::new();
    set.take_all(&mut rest);
    assert!(!rest.is_empty());
}
