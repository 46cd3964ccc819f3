//! The whole per-packet path of one PMD, measured per packet: receive a burst of 32 from a
//! replaying mock port (a 64-byte copy per packet, like AF_PACKET), parse, cache lookup, slow path
//! when needed, execute, and transmit to a sink port. Cases mirror the pktgen scenarios:
//! NORMAL with one flow, NORMAL with 1000 flows, 2000 OpenFlow rules on nw_dst, the same two
//! with 100k flows (past the exact-match cache: the megaflow tier), and the slow path alone
//! (caches invalidated before every burst: each packet re-translates its megaflow).
//!
//! The `policy_per_packet` group measures the port-group security cases of the PVP harness
//! (`pktgen/policy.sh`) without its noise: the flows and meters are loaded from
//! `pktgen/policy.flows` and `pktgen/policy.meters` and reduced per case as `policy.sh` does
//! (a feature that is off has each of its tables replaced by one pass-through flow), and the
//! frames are the generator's (ofport 1's MACs, UDP 198.18.0.1:9 -> 198.18.0.2:9). `normal` is
//! plain NORMAL on the same frames, the baseline each case's cost is taken against.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datapath::bridge::{Bridge, BridgePort};
use datapath::config::VlanMode;
use datapath::mempool::{Batch, PacketPool, STD_FRAME};
use datapath::meter::Meter;
use datapath::pmd::PmdStats;
use datapath::port::mock::{MockHandle, MockOptions, MockPort};
use datapath::port::Port;
use datapath::process::Worker;
use flowtable::mactable::MacTable;
use flowtable::pipeline::Pipeline;
use flowtable::text::parse_flow;
use openflow::meter::{OFPMF_BURST, OFPMF_KBPS, OFPMF_PKTPS, OFPMF_STATS};
use openflow::MeterBand;
use packet::build;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const SRC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const DST: [u8; 6] = [2, 0, 0, 0, 0, 2];

struct Setup {
    worker: Worker,
    input: Arc<dyn Port>,
    epoch: Arc<AtomicU64>,
    batch: Batch,
    /// The sink's handle (what was forwarded).
    out: MockHandle,
    bridge: Arc<Bridge>,
}

fn setup(flows: &[String], n_flows: u32) -> Setup {
    let frames = (0..n_flows).map(|i| {
        let dst = Ipv4Addr::from(0x0a00_0000u32 + i);
        build::udp_ipv4_frame(
            SRC,
            DST,
            Ipv4Addr::new(10, 255, 0, 1),
            dst,
            1000,
            9,
            &[0; 18],
        )
    });
    setup_with(flows, &[], frames.collect(), DST)
}

/// A bridge with ports "in" (ofport 1, replaying `frames`) and "out" (ofport 2, a sink, where
/// `dst` is learned), the OpenFlow `flows` and the meters `meters` (add-meter syntax).
fn setup_with(flows: &[String], meters: &[String], frames: Vec<Vec<u8>>, dst: [u8; 6]) -> Setup {
    let (inp, h_in) = MockPort::with_options(
        "in",
        MockOptions {
            repeat: true,
            ..MockOptions::default()
        },
    );
    let (out, h_out) = MockPort::sink("out");
    h_in.inject_all(frames);
    let input: Arc<dyn Port> = Arc::new(inp);
    let output: Arc<dyn Port> = Arc::new(out);
    let members = vec![
        BridgePort::new("in", 1, 0, VlanMode::None, input.clone()),
        BridgePort::new("out", 2, 1, VlanMode::None, output.clone()),
    ];
    let mut pipeline = Pipeline::new();
    let resolve = |_: &str| None;
    for f in flows {
        let fm = parse_flow(f, &resolve).expect("flow");
        pipeline.add(fm.into_entry(0)).expect("add");
    }
    let mut macs = MacTable::new(300, 0);
    // The destination lives behind "out" so NORMAL unicasts instead of flooding.
    macs.learn(0, dst, 2, 0);
    let epoch = Arc::new(AtomicU64::new(1));
    let bridge = Arc::new(Bridge::new(
        0,
        "br0".into(),
        1,
        members,
        pipeline,
        macs,
        epoch.clone(),
    ));
    let bridge_ref = bridge.clone();
    let now = datapath::cycles::monotonic_ns();
    for m in meters {
        let (id, flags, bands) = parse_meter(m);
        let meter = Meter::new(id, flags, bands, now).expect("meter");
        bridge
            .edit_view(|v| {
                Arc::make_mut(&mut v.meters).insert(Arc::new(meter));
                Ok::<_, ()>(())
            })
            .expect("meter table");
    }
    let ports = Arc::new(datapath::ports::PortSet::new(
        vec![input.clone(), output],
        vec![(0, 1), (0, 2)],
        vec![bridge],
    ));
    let table = ports.load_full();
    let pool = PacketPool::new(4096, STD_FRAME).expect("pool");
    let mut worker = Worker::new(0, pool, table, Arc::new(PmdStats::default()));
    // Measure the tiers, not the new-flow budget (100k flows arrive within the warm-up).
    worker.set_upcall_rate(0);
    Setup {
        worker,
        input,
        epoch,
        batch: Batch::new(),
        out: h_out,
        bridge: bridge_ref,
    }
}

/// One `ovs-ofctl add-meter` argument (`meter=N,FLAGS...,band=type=T,rate=R,burst_size=B...`,
/// as in `policy.meters`) as (id, flags, bands).
fn parse_meter(line: &str) -> (u32, u16, Vec<MeterBand>) {
    let mut id = 0;
    let mut flags = 0;
    let mut bands = Vec::new();
    let band = |ty: &str, rate: u32, burst_size: u32, prec_level: u8| match ty {
        "drop" => MeterBand::Drop { rate, burst_size },
        "dscp_remark" => MeterBand::DscpRemark {
            rate,
            burst_size,
            prec_level,
        },
        other => panic!("band type {other} in '{line}'"),
    };
    // The band being read: type, rate, burst_size, prec_level.
    let mut cur: Option<(String, u32, u32, u8)> = None;
    let num = |v: &str| {
        v.parse::<u32>()
            .unwrap_or_else(|e| panic!("{v} in '{line}': {e}"))
    };
    for tok in line.split(',') {
        let tok = tok
            .strip_prefix("band=")
            .or(tok.strip_prefix("bands="))
            .unwrap_or(tok);
        match tok.split_once('=') {
            Some(("meter", v)) => id = num(v),
            Some(("type", v)) => {
                if let Some((t, r, b, p)) = cur.take() {
                    bands.push(band(&t, r, b, p));
                }
                cur = Some((v.to_string(), 0, 0, 0));
            }
            Some((k, v)) => {
                let c = cur
                    .as_mut()
                    .unwrap_or_else(|| panic!("{k} before type in '{line}'"));
                match k {
                    "rate" => c.1 = num(v),
                    "burst_size" => c.2 = num(v),
                    "prec_level" => c.3 = num(v) as u8,
                    _ => panic!("{k} in '{line}'"),
                }
            }
            None => {
                flags |= match tok {
                    "kbps" => OFPMF_KBPS,
                    "pktps" => OFPMF_PKTPS,
                    "burst" => OFPMF_BURST,
                    "stats" => OFPMF_STATS,
                    _ => panic!("flag {tok} in '{line}'"),
                }
            }
        }
    }
    if let Some((t, r, b, p)) = cur {
        bands.push(band(&t, r, b, p));
    }
    (id, flags, bands)
}

/// The lines of a pktgen rules file that are not comments or blank.
fn rule_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

const POLICY_FLOWS: &str = include_str!("../pktgen/policy.flows");
const POLICY_METERS: &str = include_str!("../pktgen/policy.meters");

/// Each feature of `policy.flows` and the tables it owns (as `policy.sh` has them).
const FEATURE_TABLES: [(&str, &[u8]); 4] = [
    ("bind", &[10, 11]),
    ("dhcpiso", &[12]),
    ("bcast", &[20]),
    ("police", &[21]),
];

/// The pass-through target of each feature table (`policy.sh`'s POLICY_NEXT).
fn next_table(t: u8) -> u8 {
    match t {
        10 => 11,
        11 => 12,
        12 => 20,
        20 => 21,
        21 => 30,
        _ => panic!("table {t} has no pass-through"),
    }
}

/// The flows of a policy case: `policy.flows` with the tables of every feature not in `on`
/// replaced by one pass-through flow each (what `policy.sh`'s `policy_flows` does).
fn policy_case_flows(on: &[&str]) -> Vec<String> {
    let mut keep = vec![0u8, 30, 40];
    let mut pass = Vec::new();
    for (f, tables) in FEATURE_TABLES {
        if on.contains(&f) {
            keep.extend_from_slice(tables);
        } else {
            pass.extend_from_slice(tables);
        }
    }
    let table_of = |l: &str| -> u8 {
        let t = l.strip_prefix("table=").and_then(|r| r.split(',').next());
        t.and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("flow without table=N first: {l}"))
    };
    let mut flows: Vec<String> = rule_lines(POLICY_FLOWS)
        .filter(|l| keep.contains(&table_of(l)))
        .map(str::to_string)
        .collect();
    flows.extend(
        pass.iter()
            .map(|&t| format!("table={t},priority=0,actions=goto_table:{}", next_table(t))),
    );
    flows
}

/// The PVP generator's frame on ofport 1 (see `policy.flows`): 60 bytes, like testpmd's 64
/// without the CRC.
fn pvp_frame() -> Vec<u8> {
    build::udp_ipv4_frame(
        PVP_SRC,
        PVP_DST,
        Ipv4Addr::new(198, 18, 0, 1),
        Ipv4Addr::new(198, 18, 0, 2),
        9,
        9,
        &[0; 18],
    )
}

const PVP_SRC: [u8; 6] = [0, 0, 0, 0, 0, 1];
const PVP_DST: [u8; 6] = [0, 0, 0, 0, 0, 2];

fn burst(s: &mut Setup) {
    let n = s.input.rx_burst(0, s.worker.pool_mut(), &mut s.batch);
    s.worker.process(0, &mut s.batch);
    s.worker.flush();
    assert_eq!(n, 32);
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("datapath_per_packet");
    g.throughput(Throughput::Elements(32));
    let normal = vec!["priority=0,actions=NORMAL".to_string()];

    let mut s = setup(&normal, 1);
    g.bench_function("normal_1_flow", |b| b.iter(|| burst(&mut s)));

    let mut s = setup(&normal, 1000);
    g.bench_function("normal_1000_flows", |b| b.iter(|| burst(&mut s)));

    let mut rules = normal.clone();
    rules.extend((0..2000u32).map(|i| {
        let ip = Ipv4Addr::from(0x0a00_0000u32 + i);
        format!("priority=100,ip,nw_dst={ip},actions=output:2")
    }));
    let mut s = setup(&rules, 1000);
    g.bench_function("rules_2000_nw_dst_1000_flows", |b| b.iter(|| burst(&mut s)));

    // Past the exact-match cache: EMC misses served by the megaflow tier. NORMAL reads only
    // MACs (one megaflow); the rules read nw_dst (one megaflow per destination).
    let mut s = setup(&normal, 100_000);
    g.bench_function("normal_100k_flows", |b| b.iter(|| burst(&mut s)));
    let mut s = setup(&rules, 100_000);
    g.bench_function("rules_2000_nw_dst_100k_flows", |b| b.iter(|| burst(&mut s)));

    let mut s = setup(&rules, 1000);
    g.bench_function("slow_path_2000_rules", |b| {
        b.iter(|| {
            s.epoch.fetch_add(1, Ordering::Relaxed);
            burst(&mut s)
        })
    });
    g.finish();
}

fn bench_policy(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy_per_packet");
    g.throughput(Throughput::Elements(32));
    let meters: Vec<String> = rule_lines(POLICY_METERS).map(str::to_string).collect();
    let cases: [(&str, Vec<String>); 7] = [
        ("normal", vec!["priority=0,actions=NORMAL".to_string()]),
        ("passthru", policy_case_flows(&[])),
        ("bind", policy_case_flows(&["bind"])),
        ("dhcpiso", policy_case_flows(&["dhcpiso"])),
        ("bcast", policy_case_flows(&["bcast"])),
        ("police", policy_case_flows(&["police"])),
        (
            "policy",
            policy_case_flows(&["bind", "dhcpiso", "bcast", "police"]),
        ),
    ];
    for (name, flows) in cases {
        let mut s = setup_with(&flows, &meters, vec![pvp_frame()], PVP_DST);
        // The case must forward every packet, and police it where it says so.
        burst(&mut s);
        burst(&mut s);
        assert_eq!(s.out.sunk(), 64, "{name}: every packet forwarded");
        let metered = s
            .bridge
            .view()
            .meters
            .get(6)
            .map_or(0, |m| m.counters().packets_in);
        let police = name == "police" || name == "policy";
        assert_eq!(metered, if police { 64 } else { 0 }, "{name}: meter 6");
        g.bench_function(name, |b| b.iter(|| burst(&mut s)));
    }
    g.finish();
}

criterion_group!(benches, bench, bench_policy);
criterion_main!(benches);
