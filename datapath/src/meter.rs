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
//! of every band into the lease, but never more than half of what a bucket holds (in whole
//! packets, at least one: see below); the burst's packets then pay from the lease with plain
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
//! half the bucket, so another PMD at that instant finds the other half, and a packet can be
//! exceeded early only when the bucket holds less than two packets' worth, i.e. when the
//! aggregate is at its rate anyway; and no token is lost: what is returned is there for the
//! next packet. (A whole lease whatever the bucket would hand a slow meter's bucket, under 32
//! packets, e.g. 10 at 100 pkt/s, to the first PMD of every instant, and exceed the others'
//! packets under the rate.) A small bucket costs a few more top-ups per burst, each taking
//! half of what is left, never one per packet. The counters lag by one burst.
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
    /// band): up to `LEASE_PACKETS` packets of this cost but no more than half the bucket (in
    /// whole packets, at least one), or all there is when that is less than one packet (the
    /// band is then marked drained).
    #[cold]
    #[inline(never)]
    fn top_up(&self, leased: &mut [u64], drained: &mut u8, now_ns: u64, cost: u64) {
        let unit = cost.max(1);
        let want = unit.saturating_mul(LEASE_PACKETS);
        let mut st = self.lock();
        self.refill(&mut st, now_ns);
        for (i, (shared, held)) in st.tokens.iter_mut().zip(leased).enumerate() {
            let bit = 1u8 << i;
            if *held >= cost || *drained & bit != 0 {
                continue;
            }
            // Half, so that another PMD at this instant finds the other half.
            let half = (*shared / 2 / unit * unit).max(unit);
            let take = (*shared).min(want).min(half);
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
#[path = "meter_tests.rs"]
mod tests;
