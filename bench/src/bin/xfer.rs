//! Cost of handing a burst of cache lines from one core to another, the way a vhost enqueue
//! does: a "guest" thread reads the first word of each of 32 lines (as a driver's RX stats
//! read a frame's destination MAC), then the "switch" thread writes all 32 lines, and we time
//! the switch's writes up to a full fence (so the time includes committing every store). The
//! lines are the first of 1024 buffers 34 lines apart, taken 32 at a time in a shuffled order,
//! so no hardware stream prefetcher helps (as with a driver's mbufs).
//!
//! Variants of the switch's writes: `plain` stores straight away; `pfw` issues PREFETCHW on
//! all lines first; `pfw-wait` also waits 3000 cycles between the prefetches and the stores
//! (so the prefetches have landed); `read` only loads each line (the dequeue side);
//! `pingpong` is the round trip of the hand-over itself. Together they tell whether the
//! ownership transfers of one burst overlap on this machine (they do: 32 lines cost about two
//! round trips, in both core-placement states), which is what `vhost::net`'s pass structure
//! relies on. Prints the median cycles per burst of each variant.
//!
//! Usage: `xfer [CPU_GUEST CPU_SWITCH [MILLIS]]` (default 0 1 300 per variant).

use std::sync::atomic::{fence, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bench::cpu::{pin, tsc};

const LINES: usize = 32;
/// Buffers the bursts rotate through (like a driver's mbufs), and their spacing in lines.
const SLOTS: usize = 1024;
const STRIDE: usize = 34;

#[repr(C, align(64))]
struct Line([AtomicU64; 8]);

#[repr(align(128))]
struct Flag(AtomicU64);

static FLAG: Flag = Flag(AtomicU64::new(0));
const STOP: u64 = u64::MAX;

fn pin_or_exit(cpu: usize) {
    if let Err(e) = pin(cpu) {
        eprintln!("xfer: cannot pin to cpu {cpu}: {e}");
        std::process::exit(1);
    }
}

fn prefetchw(p: *const Line) {
    // SAFETY: a prefetch is a hint and never faults.
    unsafe {
        std::arch::asm!("prefetchw [{0}]", in(reg) p, options(nostack, preserves_flags, readonly))
    };
}

/// The guest: on every odd flag value read each line's first word, then answer.
fn guest(cpu: usize, bursts: &'static [Vec<&'static Line>], cur: &'static AtomicU64) {
    pin_or_exit(cpu);
    let mut sink = 0u64;
    loop {
        let v = FLAG.0.load(Ordering::Acquire);
        if v == STOP {
            std::hint::black_box(sink);
            return;
        }
        if v & 1 == 1 {
            for l in &bursts[cur.load(Ordering::Relaxed) as usize] {
                sink = sink.wrapping_add(l.0[0].load(Ordering::Relaxed));
            }
            FLAG.0.store(v + 1, Ordering::Release);
        }
        std::hint::spin_loop();
    }
}

#[derive(Clone, Copy)]
enum Variant {
    Plain,
    Pfw,
    PfwWait,
    Read,
    PingPong,
}

fn burst(v: Variant, lines: &[&Line], seq: u64) -> u64 {
    let t0 = tsc();
    match v {
        Variant::Plain => {
            for l in lines {
                for w in &l.0 {
                    w.store(seq, Ordering::Relaxed);
                }
            }
        }
        Variant::Pfw | Variant::PfwWait => {
            for l in lines {
                prefetchw(*l);
            }
            if matches!(v, Variant::PfwWait) {
                let t = tsc();
                while tsc() - t < 3000 {
                    std::hint::spin_loop();
                }
            }
            for l in lines {
                for w in &l.0 {
                    w.store(seq, Ordering::Relaxed);
                }
            }
        }
        Variant::Read => {
            let mut s = 0u64;
            for l in lines {
                s = s.wrapping_add(l.0[1].load(Ordering::Relaxed));
            }
            std::hint::black_box(s);
        }
        Variant::PingPong => {}
    }
    fence(Ordering::SeqCst);
    let dt = tsc() - t0;
    if matches!(v, Variant::PfwWait) {
        dt - 3000
    } else {
        dt
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (g, s, ms) = (num(0, 0) as usize, num(1, 1) as usize, num(2, 300));
    let arena: &'static [Line] = Box::leak(
        (0..SLOTS * STRIDE)
            .map(|_| Line(Default::default()))
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    // A fixed pseudo-random order of slots; each burst takes the next 32.
    let mut order: Vec<usize> = (0..SLOTS).collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..SLOTS).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(i, (x % (i as u64 + 1)) as usize);
    }
    let bursts: Vec<Vec<&'static Line>> = order
        .chunks(LINES)
        .map(|c| c.iter().map(|&k| &arena[k * STRIDE]).collect())
        .collect();
    let bursts: &'static [Vec<&'static Line>] = Box::leak(bursts.into_boxed_slice());
    let cur = &*Box::leak(Box::new(AtomicU64::new(0)));
    let peer = std::thread::spawn(move || guest(g, bursts, cur));
    pin_or_exit(s);
    let mut seq = 0u64;
    let variants = [
        ("pingpong", Variant::PingPong),
        ("plain", Variant::Plain),
        ("pfw", Variant::Pfw),
        ("pfw-wait", Variant::PfwWait),
        ("read", Variant::Read),
    ];
    for (name, v) in variants {
        let mut samples = Vec::new();
        let end = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < end {
            // Hand the lines to the guest and wait until it has read them.
            let b = (seq / 2) as usize % bursts.len();
            cur.store(b as u64, Ordering::Relaxed);
            let t0 = tsc();
            FLAG.0.store(seq + 1, Ordering::Release);
            while FLAG.0.load(Ordering::Acquire) != seq + 2 {
                std::hint::spin_loop();
            }
            let rt = tsc() - t0;
            seq += 2;
            samples.push(if matches!(v, Variant::PingPong) {
                rt
            } else {
                burst(v, &bursts[b], seq)
            });
        }
        samples.sort_unstable();
        print!("{name}={} ", samples[samples.len() / 2]);
    }
    println!();
    FLAG.0.store(STOP, Ordering::Release);
    let _ = peer.join();
}
