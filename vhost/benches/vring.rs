//! Burst cost of the virtio-net split ring on an in-process ring: 32 frames
//! of 64 bytes per burst, guest TX -> `dequeue` (our rx_burst) and
//! `enqueue` -> guest RX (our tx_burst). Each iteration includes the fake
//! driver re-posting the 32 avail entries (descriptors are written once and
//! reused), which is a few dozen stores.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::atomic::Ordering;
use vhost::{NetQueue, VringAddrs};

use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

const SIZE: u16 = 256;
const BURST: u16 = 32;
const F_V1_MRG: u64 = (1 << 32) | (1 << 15);
const DESC: u64 = 0;
const AVAIL: u64 = 0x1000;
const USED: u64 = 0x2000;
const BUFS: u64 = 0x10000;

struct Fake {
    mem: GuestMemoryMmap,
    avail_idx: u16,
}

impl Fake {
    fn new(writable: bool) -> Self {
        let mem =
            GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 4 << 20)]).expect("memory");
        for i in 0..SIZE {
            let addr = BUFS + u64::from(i) * 2048;
            let (len, flags) = if writable {
                (2048u32, 2u16)
            } else {
                (12 + 64, 0)
            };
            let mut d = [0u8; 16];
            d[0..8].copy_from_slice(&addr.to_le_bytes());
            d[8..12].copy_from_slice(&len.to_le_bytes());
            d[12..14].copy_from_slice(&flags.to_le_bytes());
            mem.write_slice(&d, GuestAddress(DESC + 16 * u64::from(i)))
                .expect("desc");
        }
        Self { mem, avail_idx: 0 }
    }

    fn post(&mut self) {
        let avail = self
            .mem
            .get_slice(GuestAddress(AVAIL), 6 + 2 * usize::from(SIZE))
            .expect("avail ring");
        for _ in 0..BURST {
            let head = self.avail_idx % SIZE;
            let slot = usize::from(self.avail_idx % SIZE);
            avail
                .store(head, 4 + 2 * slot, Ordering::Relaxed)
                .expect("avail");
            self.avail_idx = self.avail_idx.wrapping_add(1);
        }
        avail
            .store(self.avail_idx, 2, Ordering::Release)
            .expect("idx");
    }

    fn queue(&self) -> NetQueue {
        let addrs = VringAddrs {
            desc: GuestAddress(DESC),
            avail: GuestAddress(AVAIL),
            used: GuestAddress(USED),
        };
        NetQueue::new(&self.mem, u32::from(SIZE), addrs, 0, F_V1_MRG).expect("queue")
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("vring_32x64B");
    g.throughput(Throughput::Elements(u64::from(BURST)));

    let mut tx = Fake::new(false);
    let mut q = tx.queue();
    let mut store = vec![[0u8; 2048]; usize::from(BURST)];
    let mut lens = [0usize; BURST as usize];
    g.bench_function("dequeue_guest_tx", |b| {
        b.iter(|| {
            tx.post();
            let mut bufs: [&mut [u8]; BURST as usize] = {
                let mut it = store.iter_mut();
                std::array::from_fn(|_| &mut it.next().expect("buffer")[..])
            };
            let r = q.dequeue(&tx.mem, &mut bufs, &mut lens);
            assert_eq!(r.packets, usize::from(BURST));
        })
    });

    let mut rx = Fake::new(true);
    let mut q = rx.queue();
    let frame = [0xabu8; 64];
    let frames = [&frame[..]; BURST as usize];
    g.bench_function("enqueue_guest_rx", |b| {
        b.iter(|| {
            rx.post();
            let r = q.enqueue(&rx.mem, &frames);
            assert_eq!(r.packets, usize::from(BURST));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
