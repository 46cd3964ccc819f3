//! The whole per-packet path of one PMD, measured per packet: receive a burst of 32 from a
//! replaying mock port (a 64-byte copy per packet, like AF_PACKET), parse, cache lookup, slow path
//! when needed, execute, and transmit to a sink port. Cases mirror the pktgen scenarios:
//! NORMAL with one flow, NORMAL with 1000 flows, 2000 OpenFlow rules on nw_dst, and the slow path
//! alone (cache invalidated before every burst).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use datapath::bridge::{Bridge, BridgePort};
use datapath::config::VlanMode;
use datapath::mempool::{Batch, PacketPool, STD_FRAME};
use datapath::pmd::PmdStats;
use datapath::port::mock::{MockOptions, MockPort};
use datapath::port::Port;
use datapath::process::Worker;
use flowtable::mactable::MacTable;
use flowtable::pipeline::Pipeline;
use flowtable::text::parse_flow;
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
}

fn setup(flows: &[String], n_flows: u32) -> Setup {
    let (inp, h_in) = MockPort::with_options(
        "in",
        MockOptions {
            repeat: true,
            ..MockOptions::default()
        },
    );
    let (out, _h_out) = MockPort::sink("out");
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
    macs.learn(0, DST, 2, 0);
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
    let ports = Arc::new(datapath::ports::PortSet::new(
        vec![input.clone(), output],
        vec![(0, 1), (0, 2)],
        vec![bridge],
    ));
    let table = ports.load_full();
    let pool = PacketPool::new(4096, STD_FRAME).expect("pool");
    let worker = Worker::new(0, pool, table, Arc::new(PmdStats::default()));
    Setup {
        worker,
        input,
        epoch,
        batch: Batch::new(),
    }
}

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

    let mut s = setup(&rules, 1000);
    g.bench_function("slow_path_2000_rules", |b| {
        b.iter(|| {
            s.epoch.fetch_add(1, Ordering::Relaxed);
            burst(&mut s)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
