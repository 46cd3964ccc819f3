//! Core-to-core latency probe for the PVP harness: two threads pinned to two CPUs bounce one
//! cache line and the median round trip is printed in TSC cycles.
//!
//! On a virtual machine this figure is not a constant: the hypervisor may run the two vCPUs on
//! SMT siblings, on two cores, or further apart, and move them while we measure (this machine
//! flips between about 150 and 850 cycles per round trip over tens of seconds). Every cross-core
//! transfer a switch makes per packet (descriptors, used entries, guest buffers) costs that much,
//! so `bench/pktgen/run.sh` probes before and after each run and reports it with the run.
//!
//! Usage: `c2c [CPU_A CPU_B [MILLIS]]` (default 0 1 300). Prints one integer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bench::cpu::{pin, tsc};

/// The bounced value, alone on its cache line.
#[repr(align(128))]
struct Line(AtomicU64);

static LINE: Line = Line(AtomicU64::new(0));
const STOP: u64 = u64::MAX;

/// Answer every odd value with the next even one until told to stop.
fn responder(cpu: usize) {
    if let Err(e) = pin(cpu) {
        eprintln!("c2c: cannot pin to cpu {cpu}: {e}");
        std::process::exit(1);
    }
    loop {
        let v = LINE.0.load(Ordering::Acquire);
        if v == STOP {
            return;
        }
        if v & 1 == 1 {
            LINE.0.store(v + 1, Ordering::Release);
        }
        std::hint::spin_loop();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize, d: u64| -> u64 {
        args.get(i).map_or(d, |s| {
            s.parse().unwrap_or_else(|_| {
                eprintln!("c2c: bad number {s:?}; usage: c2c [CPU_A CPU_B [MILLIS]]");
                std::process::exit(2)
            })
        })
    };
    let (a, b, ms) = (num(0, 0) as usize, num(1, 1) as usize, num(2, 300));
    let peer = std::thread::spawn(move || responder(a));
    if let Err(e) = pin(b) {
        eprintln!("c2c: cannot pin to cpu {b}: {e}");
        std::process::exit(1);
    }
    const ROUNDS: u64 = 2000;
    let mut samples = Vec::new();
    let mut v = 0u64;
    let end = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < end || samples.is_empty() {
        let t0 = tsc();
        for _ in 0..ROUNDS {
            LINE.0.store(v + 1, Ordering::Release);
            while LINE.0.load(Ordering::Acquire) != v + 2 {
                std::hint::spin_loop();
            }
            v += 2;
        }
        samples.push((tsc() - t0) / ROUNDS);
    }
    LINE.0.store(STOP, Ordering::Release);
    let _ = peer.join();
    samples.sort_unstable();
    println!("{}", samples[samples.len() / 2]);
}
