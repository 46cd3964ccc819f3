//! A slow-reading and a non-reading OpenFlow client beside a healthy controller: the healthy one
//! still gets every PACKET_IN, flows still expire on time, and control-socket deletes are not held
//! up (each connection writes through its own bounded queue).

// Not every helper of the shared client is used here.
#[allow(dead_code)]
#[path = "ofctl/client.rs"]
mod client;
#[path = "ofctl/pio.rs"]
mod pio;
#[path = "ofctl/rig.rs"]
mod rig;

use client::flow_mod;
use openflow::{FlowModCommand, Message};
use pio::*;
use rig::*;
use std::time::{Duration, Instant};
use switchd::ofp::mgmt_path;
use switchd_api::rpc::RpcHandler;

#[test]
fn slow_and_stuck_readers_do_not_starve_a_healthy_controller_or_housekeeping() {
    let r = Rig::new(false);
    // 20,000 flows make a FLOW_STATS reply of a few megabytes.
    let flows: Vec<String> = (0..20_000)
        .map(|i| {
            format!(
                "priority=5,ip,nw_dst=10.9.{}.{},actions=drop",
                i / 256,
                i % 256
            )
        })
        .collect();
    r.ctl
        .call(
            "flow/add",
            serde_json::json!({"bridge": "br0", "flows": flows}),
        )
        .expect("flows");
    let stats_request = || {
        use openflow::multipart::flow::FlowStatsRequest;
        use openflow::multipart::{MultipartRequest, MultipartRequestBody};
        Message::MultipartRequest(MultipartRequest {
            flags: 0,
            body: MultipartRequestBody::Flow(FlowStatsRequest {
                table_id: 0xff,
                out_port: OFPP_ANY,
                out_group: 0xffff_ffff,
                cookie: 0,
                cookie_mask: 0,
                matches: vec![],
            }),
        })
    };
    // One client asks for everything and never reads; another reads 16 KB every 300 ms.
    let mut stuck = connect(&r);
    stuck.send(2, &stats_request());
    let slow_path = mgmt_path(&r.rundir, "br0");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow_stop = stop.clone();
    let slow = std::thread::spawn(move || {
        use std::io::Read;
        let mut s = std::os::unix::net::UnixStream::connect(&slow_path).expect("slow");
        let mut out = Vec::new();
        openflow::encode(1, &Message::Hello(openflow::Hello::ours()), &mut out);
        openflow::encode(2, &stats_request(), &mut out);
        std::io::Write::write_all(&mut s, &out).expect("send");
        let mut buf = vec![0u8; 16 << 10];
        while !slow_stop.load(std::sync::atomic::Ordering::Relaxed) {
            let _ = s.read(&mut buf);
            std::thread::sleep(Duration::from_millis(300));
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    // A healthy controller gets every packet-in while the others lag.
    let mut healthy = connect(&r);
    add_flow(
        &mut healthy,
        10,
        100,
        vec![in_port_match(1)],
        vec![to_controller(NO_BUFFER_LEN)],
    );
    let t0 = Instant::now();
    let a = r.sw.mock("a").expect("a");
    a.inject_all((0..20).map(|i| udp(2, 1000 + i, 100)));
    for _ in 0..20 {
        next_packet_in(&mut healthy);
    }
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    // Housekeeping keeps its schedule: a hard_timeout=1 flow is gone within about a second.
    let mut fm = flow_mod(FlowModCommand::Add, vec![in_port_match(3)], vec![]);
    fm.hard_timeout = 1;
    fm.priority = 300;
    send_sync(&mut healthy, 20, &Message::FlowMod(fm));
    let added = Instant::now();
    let b0 = r.sw.bridge("br0").expect("br0");
    let has = |b: &datapath::bridge::Bridge| {
        b.view()
            .pipeline
            .flows(Some(0))
            .iter()
            .any(|e| e.priority == 300)
    };
    assert!(has(&b0));
    while has(&b0) && added.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!has(&b0), "expired");
    assert!(
        added.elapsed() < Duration::from_millis(2000),
        "{:?}",
        added.elapsed()
    );
    // A delete from the control socket is not held up by the stuck reader either.
    let t0 = Instant::now();
    r.ctl
        .call(
            "flow/del",
            serde_json::json!({"bridge": "br0", "match": "ip,nw_dst=10.9.0.0/16"}),
        )
        .expect("del");
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = slow.join();
    drop(stuck);
}
