//! Micro-benchmarks of the flow lookup tiers: key extraction, exact-match cache hit, and the
//! tuple-space classifier at several rule counts and mask (subtable) counts.
//!
//! Every benchmark reports time per packet/lookup (`Throughput::Elements(1)`). Classifier inputs are
//! generated deterministically: subtable `j` masks `eth_type` plus an IPv4 destination prefix of
//! length `32 - j % 17`, and additionally `tp_dst` and/or `eth_src` for larger `j`, so up to 68
//! distinct masks exist. Rule priority grows with prefix length, as in a routing-style table, and
//! lookup keys are taken from random rules (host bits randomised), so every lookup hits and has to
//! rule out the higher-priority subtables ranked before the winner. Each classifier is built once
//! per benchmark group, warmed with one pass over the keys and reranked before measuring.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flowtable::classifier::Classifier;
use flowtable::emc::{self, Emc};
use flowtable::extract::{extract, ETH_TYPE_IPV4, ETH_TYPE_IPV6, IPPROTO_TCP, IPPROTO_UDP};
use flowtable::key::{hash_key, FlowKey};

/// Small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn udp4_frame() -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&ETH_TYPE_IPV4.to_be_bytes());
    f[14] = 0x45;
    f[16..18].copy_from_slice(&46u16.to_be_bytes());
    f[22] = 64;
    f[23] = IPPROTO_UDP;
    f[26..30].copy_from_slice(&[10, 0, 0, 1]);
    f[30..34].copy_from_slice(&[10, 0, 0, 2]);
    f[34..36].copy_from_slice(&5000u16.to_be_bytes());
    f[36..38].copy_from_slice(&4789u16.to_be_bytes());
    f[38..40].copy_from_slice(&26u16.to_be_bytes());
    f
}

fn tcp6_frame() -> Vec<u8> {
    let mut f = vec![0u8; 14 + 40 + 20];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
    f[12..14].copy_from_slice(&ETH_TYPE_IPV6.to_be_bytes());
    f[14] = 0x60;
    f[18..20].copy_from_slice(&20u16.to_be_bytes());
    f[20] = IPPROTO_TCP;
    f[21] = 64;
    f[22] = 0xfd;
    f[37] = 1;
    f[38] = 0xfd;
    f[53] = 2;
    f[54..56].copy_from_slice(&40000u16.to_be_bytes());
    f[56..58].copy_from_slice(&443u16.to_be_bytes());
    f[66] = 0x50;
    f[67] = 0x12;
    f
}

fn bench_extract(c: &mut Criterion) {
    let mut g = c.benchmark_group("extract");
    g.throughput(Throughput::Elements(1));
    for (name, frame) in [("udp4_64B", udp4_frame()), ("tcp6_74B", tcp6_frame())] {
        let mut key = FlowKey::default();
        extract(&frame, 1, &mut key);
        assert_ne!(key.tp_dst, 0, "{name} frame must parse to L4");
        g.bench_function(name, |b| {
            b.iter(|| {
                extract(black_box(&frame), 1, &mut key);
                black_box(&key);
            })
        });
    }
    g.finish();
}

fn bench_emc(c: &mut Criterion) {
    let mut g = c.benchmark_group("emc");
    g.throughput(Throughput::Elements(1));
    let mut emc: Emc<u32> = Emc::default();
    let mut keys = Vec::new();
    let mut rng = Rng(7);
    for n in 0..1024u32 {
        let mut k = FlowKey::default();
        extract(&udp4_frame(), 1, &mut k);
        k.ipv4_src = rng.next() as u32;
        k.tp_src = n as u16;
        let h = hash_key(&k, 0);
        emc.insert(k, h, 1, n);
        keys.push((k, h));
    }
    let hits = keys
        .iter()
        .filter(|(k, h)| emc.lookup(k, *h, 1).is_some())
        .count();
    assert!(hits > 900, "EMC holds only {hits} of 1024 keys");
    let hit_keys: Vec<_> = keys
        .into_iter()
        .filter(|(k, h)| emc.lookup(k, *h, 1).is_some())
        .collect();
    let mask = hit_keys.len().next_power_of_two() / 2 - 1;
    let mut i = 0;
    g.bench_function("hit", |b| {
        b.iter(|| {
            i = (i + 1) & mask;
            let (k, h) = &hit_keys[i];
            black_box(emc.lookup(black_box(k), *h, 1))
        })
    });
    g.bench_function("hash+hit", |b| {
        b.iter(|| {
            i = (i + 1) & mask;
            let k = black_box(&hit_keys[i].0);
            black_box(emc.lookup(k, hash_key(k, 0), 1))
        })
    });
    // The same cache filled with the EMC's own four-lane hash.
    let mut emc4: Emc<u32> = Emc::default();
    for (n, (k, _)) in hit_keys.iter().enumerate() {
        emc4.insert(*k, emc::hash(k), 1, n as u32);
    }
    g.bench_function("emc_hash+hit", |b| {
        b.iter(|| {
            i = (i + 1) & mask;
            let k = black_box(&hit_keys[i].0);
            black_box(emc4.lookup(k, emc::hash(k), 1))
        })
    });
    g.finish();
    bench_emc_batch(c);
}

/// The PMD's way of using the EMC with thousands of flows: a burst of 32 keys is hashed and
/// prefetched first, then looked up. 4000 flows (the 2000-rule PVP case, both directions)
/// visited in a scattered order, so most probes start as L1 misses, as in the switch.
fn bench_emc_batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("emc_batch");
    g.throughput(Throughput::Elements(32));
    let mut emc: Emc<std::sync::Arc<u32>> = Emc::default();
    let mut keys = Vec::new();
    for n in 0..4000u32 {
        let mut k = FlowKey::default();
        extract(&udp4_frame(), 1, &mut k);
        k.ipv4_dst = 0x0a00_0000 | n;
        emc.insert(k, emc::hash(&k), 1, std::sync::Arc::new(n));
        keys.push(k);
    }
    // A stride coprime with the key count visits every key in a scattered order.
    let order: Vec<usize> = (0..keys.len()).map(|i| (i * 1237) % keys.len()).collect();
    let mut at = 0;
    let mut hashes = [0u64; 32];
    // Stand-in for the parse stage: the burst's keys are built in a local array.
    let mut local = [FlowKey::default(); 32];
    g.bench_function("burst32_4000flows", |b| {
        b.iter(|| {
            let burst = &order[at..at + 32];
            at = (at + 32) % (order.len() - 32);
            for (l, &j) in local.iter_mut().zip(burst) {
                *l = keys[j];
            }
            for (h, k) in hashes.iter_mut().zip(&local) {
                *h = emc::hash(k);
                emc.prefetch(*h);
            }
            let mut found = 0u32;
            for (h, k) in hashes.iter().zip(&local) {
                found += emc.lookup(k, *h, 1).map_or(0, |v| **v & 1);
            }
            black_box(found)
        })
    });
    g.finish();
}

/// Mask of subtable `j` (distinct for j < 68) and the priority of its rules.
fn subtable_shape(j: usize) -> (FlowKey, u32, u16) {
    let prefix = 32 - (j % 17) as u32;
    let mut m = FlowKey {
        eth_type: 0xffff,
        ipv4_dst: u32::MAX << (32 - prefix),
        ..FlowKey::default()
    };
    if (j / 17) & 1 == 1 {
        m.tp_dst = 0xffff;
    }
    if (j / 34) & 1 == 1 {
        m.eth_src = [0xff; 6];
    }
    (m, prefix, 100 + prefix as u16 * 4 + (j / 17) as u16)
}

/// A classifier with `rules` rules over `subtables` masks, and 1024 keys that each hit.
fn build_classifier(rules: usize, subtables: usize) -> (Classifier<u32>, Vec<FlowKey>) {
    let mut c = Classifier::new();
    let mut values = Vec::with_capacity(rules);
    let base = FlowKey {
        eth_type: ETH_TYPE_IPV4,
        ip_proto: IPPROTO_UDP,
        eth_src: [0x02, 0, 0, 0, 0, 2],
        tp_dst: 80,
        ..FlowKey::default()
    };
    for i in 0..rules {
        let j = i % subtables;
        let (mask, prefix, priority) = subtable_shape(j);
        let n = (i / subtables) as u32;
        let value = FlowKey {
            ipv4_dst: 0x0a00_0000 ^ (n << (32 - prefix)),
            ..base
        };
        c.insert(value, mask, priority, i as u32);
        values.push((value, prefix));
    }
    assert_eq!(c.subtables(), subtables);
    let mut rng = Rng(42);
    let keys: Vec<FlowKey> = (0..1024)
        .map(|_| {
            let (mut k, prefix) = values[rng.next() as usize % values.len()];
            if prefix < 32 {
                k.ipv4_dst |= rng.next() as u32 & (u32::MAX >> prefix);
            }
            k
        })
        .collect();
    for k in &keys {
        assert!(c.lookup(k).is_some());
    }
    c.rerank();
    (c, keys)
}

fn bench_classifier(c: &mut Criterion) {
    for rules in [10usize, 1_000, 100_000] {
        let mut g = c.benchmark_group(format!("classifier/{rules}_rules"));
        g.throughput(Throughput::Elements(1));
        for subtables in [1usize, 10, 50] {
            if subtables > rules {
                continue;
            }
            let (cls, keys) = build_classifier(rules, subtables);
            let mut i = 0;
            g.bench_with_input(
                BenchmarkId::new("subtables", subtables),
                &subtables,
                |b, _| {
                    b.iter(|| {
                        i = (i + 1) & 1023;
                        black_box(cls.lookup(black_box(&keys[i])))
                    })
                },
            );
        }
        g.finish();
    }
}

criterion_group!(benches, bench_extract, bench_emc, bench_classifier);
criterion_main!(benches);
