//! OpenFlow meters: per-bridge token-bucket policers (OpenFlow 1.3 section 5.7).
//!
//! A [`Meter`] is a list of bands (drop, DSCP remark), each with its own token bucket that fills
//! at the band's rate, in kb/s (`OFPMF_KBPS`, also the default when neither unit flag is set, as
//! in Open vSwitch) or packets/s (`OFPMF_PKTPS`). Every packet that enters the meter is measured
//! by every band: a band whose bucket holds enough tokens takes them, a band whose bucket does
//! not is *exceeded*. Of the exceeded bands the one with the highest rate applies ("the band with
//! the highest configured rate that is lower than the current measured rate"; on equal rates the
//! one configured first): a drop band drops the packet, a DSCP-remark band raises its drop
//! precedence ([`remark`]).
//!
//! Bucket size: `burst_size` (kb or packets) when `OFPMF_BURST` is set and `burst_size` is not
//! zero; otherwise 100 ms worth of the rate, but never less than one packet (pktps) or one
//! 9216-byte jumbo frame (kbps), so that a slow policer still passes full-size frames at its
//! rate instead of exceeding on every one of them. Buckets start full.
//!
//! Arithmetic is integer and exact: tokens are counted in units such that one nanosecond adds
//! exactly `rate` tokens (1 bit = 10^6 tokens in kbps mode, 1 packet = 10^9 tokens in pktps mode),
//! so there is no division on the per-packet path and no rounding drift however the refills fall.
//!
//! Thread safety: a meter is shared (`Arc`) by every PMD thread whose cached decisions name it.
//! Its buckets and band counters sit behind one small `Mutex` per meter (a lock-free bucket per
//! band could not make the choice among bands consistently), and its packet/byte-in counters
//! are relaxed atomics in an `Arc` of their own. [`Meter::apply`] takes the lock for every
//! packet: four atomic read-modify-writes, which cost more than the rest of a cache hit. So the
//! PMDs' hot path (`DpAction::Meter`) does not call it; it goes through a [`Leases`], the PMD's
//! share of the meters its current burst uses. The first packet of a burst that a meter polices
//! takes the lock once, refills the shared buckets to the burst's time (every packet of a burst
//! carries the same clock reading) and moves up to `LEASE_PACKETS` (32) packets' worth of tokens
//! of every band into the lease; the burst's packets then pay from the lease with plain
//! arithmetic (the same band choice as `apply`) and count locally, going back to the shared
//! buckets only when the lease runs short; at the end of the burst the PMD settles: unspent
//! tokens go back (never beyond the capacity) and the counters are charged, one lock and two
//! atomic adds per meter per burst. A band whose shared bucket the lease emptied is marked
//! drained and not asked again in that burst.
//!
//! For one PMD, the common case (a VM port's traffic is polled by one PMD), the verdicts are
//! exactly those `apply` would give packet by packet: tokens are only moved between the shared
//! bucket and the lease, never created, and at the single instant of a burst the lease plus the
//! shared bucket hold what the bucket alone would. When several PMDs police the same aggregate,
//! tokens one has leased are invisible to the others for the microseconds of its burst: at most
//! 32 packets' worth per band, so a packet can be exceeded early only when the bucket is within
//! 32 packets of empty, i.e. when the aggregate is at its rate anyway, and no token is lost:
//! what is returned is there for the next packet. The counters lag by one burst.
//!
//! Modify (OFPMC_MODIFY) builds a new [`Meter`] with [`Meter::replacing`] and publishes it in a
//! new [`MeterTable`] (the publish bumps the cache epoch, so PMDs re-translate and pick the new
//! one up). The meter's identity survives: its creation time (duration) and its packet/byte-in
//! counters are kept (the counters are shared, so packets a PMD still polices with the old
//! version count too). Bands are replaced, so band counters restart at zero and buckets start
//! full. Counters are kept whether or not `OFPMF_STATS` is set (they cost nothing extra here).

use crate::mempool::Packet;
use openflow::meter::{OFPMF_BURST, OFPMF_KBPS, OFPMF_PKTPS};
use openflow::MeterBand;
use packet::checksum;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Most bands a meter may have (advertised in meter features).
pub const MAX_BANDS: usize = 8;
const _: () = assert!(MAX_BANDS <= 8, "a lease marks drained bands in a u8");

/// The largest frame dvs carries (jumbo), the smallest default bucket in kbps mode.
const MAX_FRAME_BYTES: u64 = 9216;
/// Tokens per bit (kbps mode): a rate of R kb/s adds R tokens per ns = R * 1000 bits/s.
const TOKENS_PER_BIT: u64 = 1_000_000;
/// Tokens per packet (pktps mode): a rate of R packets/s adds R tokens per ns.
const TOKENS_PER_PACKET: u64 = 1_000_000_000;
/// Tokens per unit of `burst_size` (one kilobit, or one packet): 10^9 either way.
const TOKENS_PER_BURST_UNIT: u64 = 1_000_000_000;
/// Default bucket: this many ns worth of the rate (100 ms).
const DEFAULT_BURST_NS: u64 = 100_000_000;
/// A lease takes this many packets' worth (of the packet that asks) from a shared bucket at a
/// time: a whole burst of same-size packets.
const LEASE_PACKETS: u64 = crate::mempool::BATCH_SIZE as u64;
/// Meters one PMD holds leases on at once; a burst using more polices the rest with a lock per
/// packet.
const MAX_LEASES: usize = 8;

/// What a meter says about one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Under every band's rate: the packet goes on unchanged.
    Pass,
    /// A drop band applies: the packet is dropped (and counted on the band).
    Drop,
    /// A DSCP-remark band applies: raise the drop precedence by this many levels.
    Remark(u8),
}

/// Why a meter configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Both OFPMF_KBPS and OFPMF_PKTPS, or a flag OpenFlow 1.3 does not define.
    BadFlags,
    /// A band with rate 0.
    BadRate,
    /// A band type the switch does not implement (experimenter).
    BadBand,
    /// More than [`MAX_BANDS`] bands.
    OutOfBands,
}

/// One band's fixed parameters, derived from its configuration.
#[derive(Clone, Copy, Debug)]
struct BandParams {
    rate: u32,
    /// Bucket capacity in tokens.
    capacity: u64,
    verdict: Verdict,
}

/// The mutable part of a meter.
#[derive(Debug)]
struct State {
    /// Time of the last refill (ns, the PMDs' monotonic clock).
    last_ns: u64,
    /// Tokens in each band's bucket.
    tokens: Vec<u64>,
    /// Per band: packets and bytes the band applied to.
    band_packets: Vec<u64>,
    band_bytes: Vec<u64>,
}

/// Packets and bytes into a meter, kept across modifications.
#[derive(Debug, Default)]
struct Totals {
    packets: AtomicU64,
    bytes: AtomicU64,
}

/// A meter's counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MeterCounters {
    /// Packets into the meter.
    pub packets_in: u64,
    /// Bytes into the meter.
    pub bytes_in: u64,
    /// Per band, in configuration order: (packets, bytes) the band applied to.
    pub bands: Vec<(u64, u64)>,
}

/// One meter and its state.
#[derive(Debug)]
pub struct Meter {
    /// Meter id.
    pub id: u32,
    flags: u16,
    bands: Vec<MeterBand>,
    params: Vec<BandParams>,
    pktps: bool,
    created_ns: u64,
    totals: Arc<Totals>,
    state: Mutex<State>,
}

impl Meter {
    /// A new meter `id` with `OFPMF_*` flags and bands as a METER_MOD carries them, created at
    /// `now_ns` with full buckets.
    pub fn new(
        id: u32,
        flags: u16,
        bands: Vec<MeterBand>,
        now_ns: u64,
    ) -> Result<Meter, ConfigError> {
        Self::build(id, flags, bands, now_ns, now_ns, Arc::default())
    }

    /// The new version of `old` after an OFPMC_MODIFY: new flags and bands (fresh buckets and
    /// band counters), same id, creation time and packet/byte-in counters.
    pub fn replacing(
        old: &Meter,
        flags: u16,
        bands: Vec<MeterBand>,
        now_ns: u64,
    ) -> Result<Meter, ConfigError> {
        Self::build(
            old.id,
            flags,
            bands,
            now_ns,
            old.created_ns,
            Arc::clone(&old.totals),
        )
    }

    fn build(
        id: u32,
        flags: u16,
        bands: Vec<MeterBand>,
        now_ns: u64,
        created_ns: u64,
        totals: Arc<Totals>,
    ) -> Result<Meter, ConfigError> {
        if flags & !openflow::meter::OFPMF_ALL != 0
            || flags & (OFPMF_KBPS | OFPMF_PKTPS) == (OFPMF_KBPS | OFPMF_PKTPS)
        {
            return Err(ConfigError::BadFlags);
        }
        if bands.len() > MAX_BANDS {
            return Err(ConfigError::OutOfBands);
        }
        let pktps = flags & OFPMF_PKTPS != 0;
        let params = bands
            .iter()
            .map(|b| {
                let (rate, burst, verdict) = match *b {
                    MeterBand::Drop { rate, burst_size } => (rate, burst_size, Verdict::Drop),
                    MeterBand::DscpRemark {
                        rate,
                        burst_size,
                        prec_level,
                    } => (rate, burst_size, Verdict::Remark(prec_level)),
                    MeterBand::Experimenter { .. } => return Err(ConfigError::BadBand),
                };
                if rate == 0 {
                    return Err(ConfigError::BadRate);
                }
                let capacity = if flags & OFPMF_BURST != 0 && burst != 0 {
                    u64::from(burst) * TOKENS_PER_BURST_UNIT
                } else {
                    let floor = if pktps {
                        TOKENS_PER_PACKET
                    } else {
                        MAX_FRAME_BYTES * 8 * TOKENS_PER_BIT
                    };
                    (u64::from(rate) * DEFAULT_BURST_NS).max(floor)
                };
                Ok(BandParams {
                    rate,
                    capacity,
                    verdict,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let n = params.len();
        Ok(Meter {
            id,
            flags,
            state: Mutex::new(State {
                last_ns: now_ns,
                tokens: params.iter().map(|p| p.capacity).collect(),
                band_packets: vec![0; n],
                band_bytes: vec![0; n],
            }),
            bands,
            params,
            pktps,
            created_ns,
            totals,
        })
    }

    /// The `OFPMF_*` flags as configured.
    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// The bands as configured.
    pub fn bands(&self) -> &[MeterBand] {
        &self.bands
    }

    /// When the meter was added (ns, monotonic clock; kept across modifications).
    pub fn created_ns(&self) -> u64 {
        self.created_ns
    }

    /// Bucket capacity of band `i` in its own unit (kilobits or packets), rounded down; for
    /// operators and tests.
    pub fn bucket_size(&self, i: usize) -> Option<u64> {
        self.params
            .get(i)
            .map(|p| p.capacity / TOKENS_PER_BURST_UNIT)
    }

    /// The meter's counters now.
    pub fn counters(&self) -> MeterCounters {
        let st = self.lock();
        MeterCounters {
            packets_in: self.totals.packets.load(Ordering::Relaxed),
            bytes_in: self.totals.bytes.load(Ordering::Relaxed),
            bands: st
                .band_packets
                .iter()
                .copied()
                .zip(st.band_bytes.iter().copied())
                .collect(),
        }
    }

    /// Police one packet of `bytes` bytes arriving at `now_ns` (one lock; the PMDs' hot path
    /// goes through [`Leases`] instead).
    #[inline]
    pub fn apply(&self, bytes: u32, now_ns: u64) -> Verdict {
        self.totals.packets.fetch_add(1, Ordering::Relaxed);
        self.totals
            .bytes
            .fetch_add(u64::from(bytes), Ordering::Relaxed);
        if self.params.is_empty() {
            return Verdict::Pass;
        }
        let cost = self.cost(bytes);
        let mut st = self.lock();
        self.refill(&mut st, now_ns);
        let st = &mut *st;
        match self.take(&mut st.tokens, cost) {
            None => Verdict::Pass,
            Some(i) => {
                st.band_packets[i] += 1;
                st.band_bytes[i] += u64::from(bytes);
                self.params[i].verdict
            }
        }
    }

    /// Tokens a packet of `bytes` bytes costs in every band.
    #[inline]
    fn cost(&self, bytes: u32) -> u64 {
        if self.pktps {
            TOKENS_PER_PACKET
        } else {
            u64::from(bytes) * 8 * TOKENS_PER_BIT
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fill the shared buckets up to `now_ns`.
    #[inline]
    fn refill(&self, st: &mut State, now_ns: u64) {
        // PMDs read the clock once per burst, so two of them may arrive slightly out of order:
        // a late timestamp adds nothing and never moves the clock back.
        let dt = now_ns.saturating_sub(st.last_ns);
        st.last_ns = st.last_ns.max(now_ns);
        if dt == 0 {
            return;
        }
        for (t, p) in st.tokens.iter_mut().zip(&self.params) {
            *t = t
                .saturating_add(u64::from(p.rate).saturating_mul(dt))
                .min(p.capacity);
        }
    }

    /// Measure a packet costing `cost` against every band's `tokens` (refilled already): a band
    /// that holds enough pays, the others are exceeded. Returns the band that applies: the
    /// exceeded band with the highest rate, the first configured of equals.
    #[inline]
    fn take(&self, tokens: &mut [u64], cost: u64) -> Option<usize> {
        let mut chosen: Option<usize> = None;
        for (i, (t, p)) in tokens.iter_mut().zip(&self.params).enumerate() {
            if *t >= cost {
                *t -= cost;
            } else if chosen.is_none_or(|c| p.rate > self.params[c].rate) {
                chosen = Some(i);
            }
        }
        chosen
    }

    /// Move tokens from the shared buckets (refilled to `now_ns`) into a lease's `leased` for
    /// every band whose leased tokens cannot pay `cost` and that is not `drained` (a bit per
    /// band): up to `LEASE_PACKETS` packets of this cost, or all there is (the band is then
    /// marked drained).
    #[cold]
    #[inline(never)]
    fn top_up(&self, leased: &mut [u64], drained: &mut u8, now_ns: u64, cost: u64) {
        let want = cost.saturating_mul(LEASE_PACKETS).max(1);
        let mut st = self.lock();
        self.refill(&mut st, now_ns);
        for (i, (shared, held)) in st.tokens.iter_mut().zip(leased).enumerate() {
            let bit = 1u8 << i;
            if *held >= cost || *drained & bit != 0 {
                continue;
            }
            let take = (*shared).min(want);
            *shared -= take;
            *held += take;
            if *shared == 0 {
                *drained |= bit;
            }
        }
    }

    /// Return what `lease` did not spend (buckets never beyond their capacity) and charge its
    /// packets to the counters.
    fn settle(&self, lease: &Lease) {
        if lease.packets == 0 {
            return;
        }
        self.totals
            .packets
            .fetch_add(lease.packets, Ordering::Relaxed);
        self.totals.bytes.fetch_add(lease.bytes, Ordering::Relaxed);
        if self.params.is_empty() {
            return;
        }
        let mut st = self.lock();
        let st = &mut *st;
        for (i, p) in self.params.iter().enumerate() {
            st.tokens[i] = st.tokens[i].saturating_add(lease.tokens[i]).min(p.capacity);
            st.band_packets[i] += lease.band_packets[i];
            st.band_bytes[i] += lease.band_bytes[i];
        }
    }
}

/// Tokens one PMD took out of a meter's buckets for the packets of one burst, and what those
/// packets did, not yet charged to the meter.
#[derive(Debug)]
struct Lease {
    meter: Arc<Meter>,
    /// The burst's clock: the lease is good for this instant only.
    now: u64,
    /// Tokens held, per band.
    tokens: [u64; MAX_BANDS],
    /// Bands whose shared bucket the lease emptied: asking again at `now` finds nothing.
    drained: u8,
    packets: u64,
    bytes: u64,
    band_packets: [u64; MAX_BANDS],
    band_bytes: [u64; MAX_BANDS],
}

impl Lease {
    fn new(meter: &Arc<Meter>, now: u64) -> Lease {
        Lease {
            meter: Arc::clone(meter),
            now,
            tokens: [0; MAX_BANDS],
            drained: 0,
            packets: 0,
            bytes: 0,
            band_packets: [0; MAX_BANDS],
            band_bytes: [0; MAX_BANDS],
        }
    }

    #[inline]
    fn apply(&mut self, bytes: u32) -> Verdict {
        self.packets += 1;
        self.bytes += u64::from(bytes);
        let Lease {
            meter,
            now,
            tokens,
            drained,
            band_packets,
            band_bytes,
            ..
        } = self;
        let m: &Meter = meter;
        let n = m.params.len();
        if n == 0 {
            return Verdict::Pass;
        }
        let cost = m.cost(bytes);
        let tokens = &mut tokens[..n];
        let short = tokens
            .iter()
            .enumerate()
            .any(|(i, &t)| t < cost && *drained & (1 << i) == 0);
        if short {
            m.top_up(tokens, drained, *now, cost);
        }
        match m.take(tokens, cost) {
            None => Verdict::Pass,
            Some(i) => {
                band_packets[i] += 1;
                band_bytes[i] += u64::from(bytes);
                m.params[i].verdict
            }
        }
    }
}

/// One PMD's leases on the meters its current burst uses: the per-packet path of
/// `DpAction::Meter`. [`Leases::apply`] polices a packet against the PMD's own share of the
/// buckets, without a lock or an atomic; [`Leases::settle`] (at the end of every burst) returns
/// what is left and charges the counters.
#[derive(Debug)]
pub struct Leases {
    held: Vec<Lease>,
}

impl Default for Leases {
    fn default() -> Self {
        Leases {
            held: Vec::with_capacity(MAX_LEASES),
        }
    }
}

impl Leases {
    /// Police one packet of `bytes` bytes arriving at `now_ns` with meter `m`: the same verdict
    /// as [`Meter::apply`] would give (see the module essay for what differs between PMDs).
    #[inline]
    pub fn apply(&mut self, m: &Arc<Meter>, bytes: u32, now_ns: u64) -> Verdict {
        let held = self
            .held
            .iter_mut()
            .find(|l| Arc::ptr_eq(&l.meter, m) && l.now == now_ns);
        match held {
            Some(l) => l.apply(bytes),
            None => self.apply_new(m, bytes, now_ns),
        }
    }

    /// [`Leases::apply`] for the first packet of a burst (or of an instant) `m` polices.
    #[cold]
    #[inline(never)]
    fn apply_new(&mut self, m: &Arc<Meter>, bytes: u32, now_ns: u64) -> Verdict {
        let i = match self.held.iter().position(|l| Arc::ptr_eq(&l.meter, m)) {
            Some(i) => {
                // A new instant (packets injected one by one): the old lease goes back first,
                // so the refill at the new time sees every token.
                let old = std::mem::replace(&mut self.held[i], Lease::new(m, now_ns));
                old.meter.settle(&old);
                i
            }
            None if self.held.len() < MAX_LEASES => {
                self.held.push(Lease::new(m, now_ns));
                self.held.len() - 1
            }
            None => return m.apply(bytes, now_ns),
        };
        self.held[i].apply(bytes)
    }

    /// Return every lease's unspent tokens and charge its packets (end of a burst).
    #[inline]
    pub fn settle(&mut self) {
        for l in self.held.drain(..) {
            l.meter.settle(&l);
        }
    }

    /// True when no lease is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}

/// A bridge's meters, published with its view (a METER_MOD publishes a new table).
#[derive(Clone, Debug, Default)]
pub struct MeterTable {
    meters: HashMap<u32, Arc<Meter>>,
}

impl MeterTable {
    /// The meter with id `id`.
    #[inline]
    pub fn get(&self, id: u32) -> Option<&Arc<Meter>> {
        self.meters.get(&id)
    }

    /// True when meter `id` exists.
    pub fn contains(&self, id: u32) -> bool {
        self.meters.contains_key(&id)
    }

    /// Add or replace a meter (keyed by its id).
    pub fn insert(&mut self, m: Arc<Meter>) {
        self.meters.insert(m.id, m);
    }

    /// Remove meter `id`.
    pub fn remove(&mut self, id: u32) -> Option<Arc<Meter>> {
        self.meters.remove(&id)
    }

    /// Remove every meter.
    pub fn clear(&mut self) {
        self.meters.clear();
    }

    /// Number of meters.
    pub fn len(&self) -> usize {
        self.meters.len()
    }

    /// True when there are no meters.
    pub fn is_empty(&self) -> bool {
        self.meters.is_empty()
    }

    /// Every meter, sorted by id.
    pub fn sorted(&self) -> Vec<&Arc<Meter>> {
        let mut v: Vec<&Arc<Meter>> = self.meters.values().collect();
        v.sort_by_key(|m| m.id);
        v
    }
}

/// The DSCP after raising an Assured Forwarding codepoint's drop precedence by `levels`
/// (AFxy = 8x + 2y, x in 1..=4, y in 1..=3: y becomes min(y + levels, 3)); any other DSCP is
/// returned unchanged (RFC 2597 defines precedence only for AF).
pub fn raise_drop_precedence(dscp: u8, levels: u8) -> u8 {
    let class = dscp >> 3;
    let prec = (dscp >> 1) & 3;
    if dscp & 1 != 0 || !(1..=4).contains(&class) || !(1..=3).contains(&prec) {
        return dscp;
    }
    (class << 3) | (prec.saturating_add(levels).min(3) << 1)
}

/// Raise the drop precedence of an IP packet's DSCP by `levels` (a DSCP-remark band), fixing
/// the IPv4 header checksum; false only when the frame says IPv4/IPv6 but is too short to hold
/// the IP header. Non-IP frames and non-AF codepoints pass unchanged.
pub fn remark(pkt: &mut Packet, levels: u8) -> bool {
    remark_frame(pkt.data_mut(), levels)
}

#[inline]
fn be16(d: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([d[off], d[off + 1]])
}

/// [`remark`] on the raw frame bytes.
fn remark_frame(d: &mut [u8], levels: u8) -> bool {
    let w = packet::layout::walk(d);
    let Some(ty) = w.ethertype else {
        return true;
    };
    let l3 = w.l3;
    match ty {
        0x0800 => {
            if d.len() < l3 + 20 {
                return false;
            }
            let old = be16(d, l3);
            let tos = d[l3 + 1];
            let dscp = raise_drop_precedence(tos >> 2, levels);
            let new_tos = (dscp << 2) | (tos & 3);
            if new_tos != tos {
                d[l3 + 1] = new_tos;
                let sum = checksum::update16(be16(d, l3 + 10), old, be16(d, l3));
                d[l3 + 10..l3 + 12].copy_from_slice(&sum.to_be_bytes());
            }
            true
        }
        0x86dd => {
            if d.len() < l3 + 40 {
                return false;
            }
            // version(4) traffic class(8) flow label(20): the class straddles bytes 0 and 1.
            let w = be16(d, l3);
            let tc = ((w >> 4) & 0xff) as u8;
            let dscp = raise_drop_precedence(tc >> 2, levels);
            let tc = (dscp << 2) | (tc & 3);
            let w = (w & 0xf00f) | (u16::from(tc) << 4);
            d[l3..l3 + 2].copy_from_slice(&w.to_be_bytes());
            true
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
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
        let m =
            Arc::new(Meter::new(1, OFPMF_PKTPS | OFPMF_BURST, vec![drop_band(1, 10)], 0).unwrap());
        let mut leases = Leases::default();
        for _ in 0..3 {
            assert_eq!(leases.apply(&m, 100, 5), Verdict::Pass);
        }
        assert_eq!(
            m.counters().packets_in,
            0,
            "charged at the end of the burst"
        );
        assert_eq!(passes(&m, 10, 100, 5), 0, "the lease holds the tokens");
        leases.settle();
        let c = m.counters();
        assert_eq!((c.packets_in, c.bytes_in), (13, 1300));
        assert_eq!(c.bands, vec![(10, 1000)]);
        assert_eq!(passes(&m, 10, 100, 5), 7, "unspent tokens came back");
        // A lease never holds more than the bucket: two PMDs at one instant share 10 tokens.
        let m =
            Arc::new(Meter::new(2, OFPMF_PKTPS | OFPMF_BURST, vec![drop_band(1, 10)], 0).unwrap());
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

    #[test]
    fn a_new_instant_or_too_many_meters_still_police() {
        let mk = |id| {
            Arc::new(
                Meter::new(id, OFPMF_PKTPS | OFPMF_BURST, vec![drop_band(1000, 2)], 0).unwrap(),
            )
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
}
