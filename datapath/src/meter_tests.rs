//! Unit tests of `meter.rs` (kept apart so the module reads in one sitting).

use super::*;
use openflow::meter::{OFPMF_ALL, OFPMF_STATS};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

fn drop_band(rate: u32, burst_size: u32) -> MeterBand {
    MeterBand::Drop { rate, burst_size }
}

fn remark_band(rate: u32, burst_size: u32, prec_level: u8) -> MeterBand {
    MeterBand::DscpRemark {
        rate,
        burst_size,
        prec_level,
    }
}

/// How many of `n` packets of `bytes` bytes at time `t` pass.
fn passes(m: &Meter, n: usize, bytes: u32, t: u64) -> usize {
    (0..n)
        .filter(|_| m.apply(bytes, t) == Verdict::Pass)
        .count()
}

#[test]
fn pktps_burst_then_rate() {
    let t0 = 5 * S;
    let m = Meter::new(1, OFPMF_PKTPS | OFPMF_BURST, vec![drop_band(100, 10)], t0).unwrap();
    assert_eq!(m.bucket_size(0), Some(10));
    assert_eq!(passes(&m, 300, 60, t0), 10, "the burst, then nothing");
    // 100 pkt/s = one token every 10 ms.
    assert_eq!(passes(&m, 5, 60, t0 + 9 * MS), 0);
    assert_eq!(passes(&m, 5, 60, t0 + 10 * MS), 1);
    assert_eq!(passes(&m, 5, 60, t0 + 55 * MS), 4, "4.5 tokens accrued");
    assert_eq!(
        passes(&m, 5, 60, t0 + 60 * MS),
        1,
        "the half token was kept"
    );
    // A long pause refills to the bucket size, not beyond.
    assert_eq!(passes(&m, 50, 60, t0 + 100 * S), 10);
    let c = m.counters();
    assert_eq!(c.packets_in, 300 + 5 * 4 + 50);
    assert_eq!(c.bytes_in, 60 * c.packets_in);
    assert_eq!(c.bands[0].0, c.packets_in - (10 + 1 + 4 + 1 + 10));
    assert_eq!(c.bands[0].1, 60 * c.bands[0].0);
}

#[test]
fn kbps_counts_bits_exactly_without_drift() {
    // 8 kb/s with a 8 kb bucket: 1000 bytes of burst, then 1 byte per ms.
    let m = Meter::new(1, OFPMF_KBPS | OFPMF_BURST, vec![drop_band(8, 8)], 0).unwrap();
    assert_eq!(passes(&m, 1, 1000, 0), 1);
    assert_eq!(passes(&m, 1, 1, 0), 0, "bucket empty");
    // 1000 refills of 1 ms each must add exactly 1000 bytes' worth: no rounding loss.
    for i in 1..=1000 {
        m.apply(0, i * MS);
    }
    assert_eq!(passes(&m, 1, 1000, 1000 * MS), 1);
    assert_eq!(passes(&m, 1, 1, 1000 * MS), 0);
    // Refills at odd intervals add up exactly: 7 ns steps, one byte (8 bits) is 1 ms at
    // 8 kb/s, so 142857 steps (999 999 ns) are one token short and one more step is not.
    let mut t = 1000 * MS;
    for _ in 0..142_857 {
        t += 7;
        assert_eq!(m.apply(0, t), Verdict::Pass);
    }
    assert_eq!(passes(&m, 1, 1, t), 0, "999 999 ns: not yet");
    assert_eq!(passes(&m, 1, 1, t + 7), 1, "1 000 006 ns: one byte");
}

#[test]
fn default_bucket_is_100ms_with_a_floor() {
    let m = Meter::new(1, OFPMF_PKTPS, vec![drop_band(1000, 5)], 0).unwrap();
    assert_eq!(
        m.bucket_size(0),
        Some(100),
        "burst_size ignored without OFPMF_BURST"
    );
    let m = Meter::new(1, OFPMF_PKTPS, vec![drop_band(3, 0)], 0).unwrap();
    assert_eq!(m.bucket_size(0), Some(1), "at least one packet");
    let m = Meter::new(1, OFPMF_KBPS, vec![drop_band(10_000, 0)], 0).unwrap();
    assert_eq!(m.bucket_size(0), Some(1000), "1 Mb in 100 ms at 10 Mb/s");
    let m = Meter::new(1, 0, vec![drop_band(64, 0)], 0).unwrap();
    assert_eq!(
        passes(&m, 1, 9216, 0),
        1,
        "kbps by default; one jumbo frame fits"
    );
    assert_eq!(passes(&m, 1, 64, 0), 0);
    let m = Meter::new(1, OFPMF_KBPS | OFPMF_BURST, vec![drop_band(10, 0)], 0).unwrap();
    assert_eq!(
        m.bucket_size(0),
        Some(73),
        "burst 0 with OFPMF_BURST: the default"
    );
}

#[test]
fn highest_exceeded_band_applies() {
    // Remark above 100 pkt/s, drop above 200 pkt/s; buckets of 10 and 20.
    let bands = vec![remark_band(100, 10, 1), drop_band(200, 20)];
    let m = Meter::new(7, OFPMF_PKTPS | OFPMF_BURST, bands, 0).unwrap();
    let v: Vec<Verdict> = (0..30).map(|_| m.apply(100, 0)).collect();
    assert!(v[..10].iter().all(|&x| x == Verdict::Pass), "{v:?}");
    assert!(v[10..20].iter().all(|&x| x == Verdict::Remark(1)), "{v:?}");
    assert!(v[20..].iter().all(|&x| x == Verdict::Drop), "{v:?}");
    let c = m.counters();
    assert_eq!(c.bands, vec![(10, 1000), (10, 1000)]);
    // Configured order does not matter, rates do.
    let bands = vec![drop_band(200, 20), remark_band(100, 10, 2)];
    let m = Meter::new(8, OFPMF_PKTPS | OFPMF_BURST, bands, 0).unwrap();
    let v: Vec<Verdict> = (0..21).map(|_| m.apply(100, 0)).collect();
    assert_eq!(v[15], Verdict::Remark(2));
    assert_eq!(v[20], Verdict::Drop);
    // Equal rates: the first configured band wins.
    let bands = vec![remark_band(50, 1, 1), drop_band(50, 1)];
    let m = Meter::new(9, OFPMF_PKTPS | OFPMF_BURST, bands, 0).unwrap();
    assert_eq!(m.apply(1, 0), Verdict::Pass);
    assert_eq!(m.apply(1, 0), Verdict::Remark(1));
}

#[test]
fn late_timestamps_do_not_rewind_or_refill() {
    let m = Meter::new(
        1,
        OFPMF_PKTPS | OFPMF_BURST,
        vec![drop_band(1000, 1)],
        10 * S,
    )
    .unwrap();
    assert_eq!(m.apply(1, 10 * S), Verdict::Pass);
    assert_eq!(
        m.apply(1, 9 * S),
        Verdict::Drop,
        "an older clock adds nothing"
    );
    assert_eq!(
        m.apply(1, 10 * S + MS),
        Verdict::Pass,
        "1 ms later: one token"
    );
}

/// A tiny deterministic generator (xorshift) for the lease tests.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn leases_give_the_verdicts_of_apply() {
    let configs: [(u16, Vec<MeterBand>); 4] = [
        (OFPMF_PKTPS | OFPMF_BURST, vec![drop_band(100_000, 40)]),
        (OFPMF_KBPS | OFPMF_BURST, vec![drop_band(50_000, 30)]),
        (
            OFPMF_KBPS | OFPMF_BURST,
            vec![remark_band(20_000, 12, 1), drop_band(60_000, 25)],
        ),
        (OFPMF_KBPS, vec![drop_band(64, 0), remark_band(64, 0, 2)]),
    ];
    for (k, (flags, bands)) in configs.into_iter().enumerate() {
        let direct = Meter::new(1, flags, bands.clone(), S).unwrap();
        let leased = Arc::new(Meter::new(1, flags, bands, S).unwrap());
        let mut leases = Leases::default();
        let (mut x, mut t) = (0x9e37_79b9_7f4a_7c15u64 + k as u64, S);
        let mut verdicts = [0usize; 3];
        for burst in 0..2000 {
            // Bursts 0 to 200 us apart, 1 to 32 packets of 60 to 1514 bytes.
            t += next(&mut x) % 200_000;
            for _ in 0..=next(&mut x) % 32 {
                let bytes = 60 + (next(&mut x) % 1455) as u32;
                let v = direct.apply(bytes, t);
                assert_eq!(
                    leases.apply(&leased, bytes, t),
                    v,
                    "config {k} burst {burst}"
                );
                verdicts[match v {
                    Verdict::Pass => 0,
                    Verdict::Drop => 1,
                    Verdict::Remark(_) => 2,
                }] += 1;
            }
            leases.settle();
            assert!(leases.is_empty());
            assert_eq!(leased.counters(), direct.counters(), "config {k}");
        }
        assert!(
            verdicts[0] > 0 && verdicts[1] + verdicts[2] > 0,
            "{verdicts:?}"
        );
    }
}

#[test]
fn settle_returns_unspent_tokens_and_charges_counters() {
    let m = Arc::new(Meter::new(1, OFPMF_PKTPS | OFPMF_BURST, vec![drop_band(1, 10)], 0).unwrap());
    let mut leases = Leases::default();
    for _ in 0..3 {
        assert_eq!(leases.apply(&m, 100, 5), Verdict::Pass);
    }
    assert_eq!(
        m.counters().packets_in,
        0,
        "charged at the end of the burst"
    );
    // The lease took half the bucket (5) and spent 3; the other half is there for others.
    assert_eq!(passes(&m, 10, 100, 5), 5, "the lease holds its half");
    leases.settle();
    let c = m.counters();
    assert_eq!((c.packets_in, c.bytes_in), (13, 1300));
    assert_eq!(c.bands, vec![(5, 500)]);
    assert_eq!(passes(&m, 10, 100, 5), 2, "unspent tokens came back");
    // A lease never holds more than the bucket: two PMDs at one instant share 10 tokens.
    let m = Arc::new(Meter::new(2, OFPMF_PKTPS | OFPMF_BURST, vec![drop_band(1, 10)], 0).unwrap());
    let (mut a, mut b) = (Leases::default(), Leases::default());
    let mut passed = 0;
    for _ in 0..20 {
        passed += usize::from(a.apply(&m, 60, 0) == Verdict::Pass);
        passed += usize::from(b.apply(&m, 60, 0) == Verdict::Pass);
    }
    a.settle();
    b.settle();
    assert_eq!(passed, 10);
    assert_eq!(m.counters().bands, vec![(30, 1800)]);
}

/// A lease leaves other PMDs at least half of the shared bucket: with a bucket smaller than
/// a whole lease (a slow meter: 100 pkt/s, 10 packets), the first PMD of an instant used to
/// take every token, and a second PMD's packet at that instant was exceeded under the rate.
#[test]
fn a_lease_leaves_half_the_bucket_to_other_pmds() {
    let m = Arc::new(Meter::new(1, OFPMF_PKTPS, vec![remark_band(100, 0, 1)], 0).unwrap());
    assert_eq!(m.bucket_size(0), Some(10));
    let (mut a, mut b) = (Leases::default(), Leases::default());
    assert_eq!(a.apply(&m, 60, 0), Verdict::Pass);
    assert_eq!(b.apply(&m, 60, 0), Verdict::Pass, "9 tokens are unspent");
    // Each lease takes half of what is left, in whole packets; together they still pass
    // exactly the bucket at one instant, and nothing more.
    let mut passed = 2;
    for _ in 0..20 {
        passed += usize::from(a.apply(&m, 60, 0) == Verdict::Pass);
        passed += usize::from(b.apply(&m, 60, 0) == Verdict::Pass);
    }
    a.settle();
    b.settle();
    assert_eq!(passed, 10);
    assert_eq!(m.counters().bands, vec![(32, 32 * 60)]);
    // A big bucket: one lease of a whole burst, as before.
    let m = Arc::new(Meter::new(2, OFPMF_PKTPS, vec![drop_band(100_000, 0)], 0).unwrap());
    let mut a = Leases::default();
    assert_eq!(a.apply(&m, 60, 0), Verdict::Pass);
    assert_eq!(
        a.held[0].tokens[0],
        (LEASE_PACKETS - 1) * TOKENS_PER_PACKET,
        "a lease of LEASE_PACKETS packets"
    );
    a.settle();
}

#[test]
fn a_new_instant_or_too_many_meters_still_police() {
    let mk = |id| {
        Arc::new(Meter::new(id, OFPMF_PKTPS | OFPMF_BURST, vec![drop_band(1000, 2)], 0).unwrap())
    };
    let m = mk(1);
    let mut leases = Leases::default();
    // Packets one by one at new instants (PACKET_OUT): each refills, as apply does.
    let v: Vec<Verdict> = [0, 0, 0, MS, MS, 3 * MS, 3 * MS, 3 * MS]
        .iter()
        .map(|&t| leases.apply(&m, 60, t))
        .collect();
    use Verdict::{Drop as D, Pass as P};
    assert_eq!(v, [P, P, D, P, D, P, P, D]);
    leases.settle();
    assert_eq!(m.counters().packets_in, 8);
    // More meters than leases: the rest are policed directly, counted at once.
    let many: Vec<Arc<Meter>> = (0..MAX_LEASES as u32 + 2).map(mk).collect();
    for _ in 0..2 {
        let v: Vec<Verdict> = many.iter().map(|m| leases.apply(m, 60, 0)).collect();
        assert!(v.iter().all(|&x| x == P), "{v:?}");
    }
    let v: Vec<Verdict> = many.iter().map(|m| leases.apply(m, 60, 0)).collect();
    assert!(v.iter().all(|&x| x == D), "{v:?}");
    assert_eq!(
        many[MAX_LEASES].counters().packets_in,
        3,
        "no lease: counted at once"
    );
    assert_eq!(
        many[0].counters().packets_in,
        0,
        "leased: counted at settle"
    );
    leases.settle();
    assert!(many.iter().all(|m| m.counters().packets_in == 3));
}

#[test]
fn config_errors() {
    let b = || vec![drop_band(1, 1)];
    assert_eq!(
        Meter::new(1, OFPMF_KBPS | OFPMF_PKTPS, b(), 0).unwrap_err(),
        ConfigError::BadFlags
    );
    assert_eq!(
        Meter::new(1, 0x10, b(), 0).unwrap_err(),
        ConfigError::BadFlags
    );
    assert!(Meter::new(1, OFPMF_ALL & !OFPMF_PKTPS, b(), 0).is_ok());
    assert_eq!(
        Meter::new(1, OFPMF_KBPS, vec![drop_band(0, 1)], 0).unwrap_err(),
        ConfigError::BadRate
    );
    let exp = MeterBand::Experimenter {
        rate: 1,
        burst_size: 0,
        experimenter: 42,
        data: vec![],
    };
    assert_eq!(
        Meter::new(1, OFPMF_KBPS, vec![exp], 0).unwrap_err(),
        ConfigError::BadBand
    );
    assert_eq!(
        Meter::new(1, OFPMF_KBPS, vec![drop_band(1, 1); MAX_BANDS + 1], 0).unwrap_err(),
        ConfigError::OutOfBands
    );
    let m = Meter::new(1, OFPMF_KBPS | OFPMF_STATS, vec![], 0).unwrap();
    assert_eq!(m.apply(1500, 0), Verdict::Pass, "no bands: a pure counter");
    assert_eq!(m.counters().packets_in, 1);
}

#[test]
fn modify_keeps_identity_and_totals_not_bands() {
    let old = Meter::new(3, OFPMF_PKTPS | OFPMF_BURST, vec![drop_band(1, 1)], 5).unwrap();
    old.apply(10, 5);
    old.apply(10, 5);
    let new = Meter::replacing(&old, OFPMF_PKTPS, vec![drop_band(50, 0)], 99).unwrap();
    assert_eq!((new.id, new.created_ns()), (3, 5));
    assert_eq!(new.bands(), &[drop_band(50, 0)]);
    old.apply(10, 6); // a PMD still on the old version
    new.apply(10, 100);
    let c = new.counters();
    assert_eq!((c.packets_in, c.bytes_in), (4, 40));
    assert_eq!(c.bands, vec![(0, 0)]);
}

#[test]
fn table_ops() {
    let mut t = MeterTable::default();
    for id in [5, 1, 3] {
        t.insert(Arc::new(Meter::new(id, OFPMF_KBPS, vec![], 0).unwrap()));
    }
    assert_eq!(
        t.sorted().iter().map(|m| m.id).collect::<Vec<_>>(),
        [1, 3, 5]
    );
    assert!(t.contains(3) && t.remove(3).is_some() && !t.contains(3));
    assert_eq!(t.len(), 2);
    t.clear();
    assert!(t.is_empty());
}

#[test]
fn af_drop_precedence() {
    assert_eq!(raise_drop_precedence(10, 1), 12, "AF11 -> AF12");
    assert_eq!(raise_drop_precedence(10, 2), 14, "AF11 -> AF13");
    assert_eq!(raise_drop_precedence(10, 200), 14, "saturates at AF13");
    assert_eq!(raise_drop_precedence(36, 1), 38, "AF42 -> AF43");
    assert_eq!(raise_drop_precedence(38, 1), 38);
    for other in [0, 8, 46, 48, 11, 40, 42] {
        assert_eq!(raise_drop_precedence(other, 1), other, "dscp {other}");
    }
}

fn ipv4_frame(tagged: bool, tos: u8) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    if tagged {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let l3 = f.len();
    f.extend_from_slice(&[0x45, tos, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&[0; 8]);
    let c = checksum::internet_checksum(&f[l3..l3 + 20]);
    f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
    f
}

#[test]
fn remark_ipv4_fixes_checksum_tagged_or_not() {
    for tagged in [false, true] {
        let l3 = if tagged { 18 } else { 14 };
        let mut f = ipv4_frame(tagged, (10 << 2) | 1);
        assert!(remark_frame(&mut f, 1));
        assert_eq!(f[l3 + 1], (12 << 2) | 1, "AF12, ECN kept");
        assert_eq!(checksum::internet_checksum(&f[l3..l3 + 20]), 0);
        assert!(remark_frame(&mut f, 5));
        assert_eq!(f[l3 + 1] >> 2, 14);
        assert_eq!(checksum::internet_checksum(&f[l3..l3 + 20]), 0);
        let mut ef = ipv4_frame(tagged, 46 << 2);
        let before = ef.clone();
        assert!(remark_frame(&mut ef, 1), "EF is not AF: unchanged");
        assert_eq!(ef, before);
    }
    let mut short = ipv4_frame(false, 10 << 2);
    short.truncate(14 + 19);
    assert!(!remark_frame(&mut short, 1), "truncated IPv4 header");
    let mut arp = vec![0u8; 42];
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert!(remark_frame(&mut arp, 1), "not IP: nothing to do");
    assert!(remark_frame(&mut [0u8; 6], 1));
}

#[test]
fn remark_ipv6_traffic_class() {
    let mut f = vec![0u8; 14 + 40];
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    // version 6, traffic class AF21 (18 << 2 | ECN 2), flow label 0xabcde.
    let tc: u32 = (18 << 2) | 2;
    let w: u32 = (6 << 28) | (tc << 20) | 0xabcde;
    f[14..18].copy_from_slice(&w.to_be_bytes());
    assert!(remark_frame(&mut f, 1));
    let w2 = u32::from_be_bytes([f[14], f[15], f[16], f[17]]);
    assert_eq!(w2 >> 28, 6);
    assert_eq!((w2 >> 20) & 0xff, (20 << 2) | 2, "AF22, ECN kept");
    assert_eq!(w2 & 0xfffff, 0xabcde);
    f.truncate(14 + 39);
    assert!(!remark_frame(&mut f, 1));
}
