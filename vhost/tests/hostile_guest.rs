//! The vhost-user backend against a hostile guest.
//!
//! Each test starts a `VhostNetDevice` in-process on a socket in a temp dir,
//! attaches the test frontend from `support` (a real vhost-user frontend with
//! memfd guest memory and split virtqueues), and polls the device from the
//! test thread with `rx_burst`/`tx_burst` the way a PMD thread would. Good
//! traffic is compared byte for byte. Every malformed descriptor chain must
//! be counted in `stats().bad_descriptors`, handed back in the used ring with
//! length 0 where that is possible, and must not disturb the good packet
//! posted right after it. Control-plane abuse (garbage messages, rings or
//! queue sizes that make no sense, disconnects) must cost at most the
//! connection, never the device.

mod support;

use std::os::unix::net::UnixListener;
use std::time::Duration;

use support::attacks::{d, raw_chain, rx_cases, tx_cases, write_table, Case, Expect};
use support::device::*;
use support::frontend::{Options, TestFrontend, NET_HDR_LEN, SCRATCH};
use support::virtq::{Used, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};
use support::{frame, raw_msg, send_garbage_expect_close, wait_until, TempDir};
use vhost::{Role, VhostConfig, VhostNetDevice};

#[test]
fn good_traffic_both_ways_mergeable_two_regions() {
    let (b, mut fe) = connected(Options::default());
    assert!(fe.mrg_rxbuf(), "backend should offer MRG_RXBUF");

    // Guest -> switch: sizes from minimum to MTU, split in every interesting
    // place, including through the middle of the virtio-net header.
    let cases: &[(usize, &[usize])] = &[
        (60, &[]),
        (60, &[NET_HDR_LEN]),
        (1514, &[NET_HDR_LEN]),
        (1514, &[5]),
        (200, &[5, 13, 100]),
        (1514, &[NET_HDR_LEN, 14, 34, 700, 1300]),
        (64, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]),
    ];
    for (seed, &(len, cuts)) in cases.iter().enumerate() {
        let f = frame(len, seed as u8);
        let head = fe.send(&f, cuts);
        let got = receive(&b.dev, 1, WAIT);
        assert_eq!(got, vec![f], "case {seed}: len {len} cuts {cuts:?}");
        let used = used_entries(&mut fe, true, 1);
        assert_eq!(used.len(), 1, "case {seed}: TX chain not returned");
        assert_eq!(used[0].id, u32::from(head), "case {seed}");
    }
    assert_eq!(bad(&b.dev), 0);

    // A burst: several packets posted before one poll come out in order.
    let burst: Vec<Vec<u8>> = (0..20).map(|i| frame(64 + i * 50, 100 + i as u8)).collect();
    for f in &burst {
        fe.send(f, &[NET_HDR_LEN]);
    }
    assert_eq!(receive(&b.dev, burst.len(), WAIT), burst);
    assert_eq!(used_entries(&mut fe, true, burst.len()).len(), burst.len());

    // Switch -> guest with 512-byte mergeable buffers: a full-size frame
    // needs three of them and says so in num_buffers.
    fe.post_rx(16, &[512]);
    let frames = [frame(60, 1), frame(1514, 2), frame(500, 3), frame(501, 4)];
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    assert_eq!(b.dev.tx_burst(QP, &refs), frames.len());
    for (k, f) in frames.iter().enumerate() {
        let mut p = None;
        assert!(wait_until(WAIT, || {
            p = fe.recv();
            p.is_some()
        }));
        let p = p.expect("packet");
        assert_eq!(&p.frame, f, "RX frame {k}");
        let need = (f.len() + NET_HDR_LEN).div_ceil(512);
        assert_eq!(
            usize::from(p.num_buffers()),
            need,
            "RX frame {k} num_buffers"
        );
        assert_eq!(p.used.len(), need);
        assert_eq!(p.hdr[..10], [0u8; 10], "no offloads were negotiated");
        let total: u32 = p.used.iter().map(|u| u.len).sum();
        assert_eq!(total as usize, f.len() + NET_HDR_LEN);
    }
    assert!(fe.recv().is_none(), "no extra RX packets");
    assert_eq!(bad(&b.dev), 0);
}

#[test]
fn good_traffic_without_mrg_rxbuf_one_region() {
    let opts = Options {
        mrg_rxbuf: false,
        two_regions: false,
        ..Options::default()
    };
    let (b, mut fe) = connected(opts);
    assert!(!fe.mrg_rxbuf());
    for (seed, len) in [60usize, 1000, 1514].into_iter().enumerate() {
        let f = frame(len, seed as u8);
        fe.send(&f, &[NET_HDR_LEN, 400]);
        assert_eq!(receive(&b.dev, 1, WAIT), vec![f]);
    }
    // Linux-style big-packet chains: header in its own descriptor, then data.
    fe.post_rx(2, &[NET_HDR_LEN as u32, 1000, 1000]);
    let frames = [frame(1514, 9), frame(60, 10)];
    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
    assert_eq!(b.dev.tx_burst(QP, &refs), 2);
    for f in &frames {
        let mut p = None;
        assert!(wait_until(WAIT, || {
            p = fe.recv();
            p.is_some()
        }));
        let p = p.expect("packet");
        assert_eq!(&p.frame, f);
        assert_eq!(p.used.len(), 1, "one chain per packet without MRG_RXBUF");
        assert_eq!(p.used[0].len as usize, f.len() + NET_HDR_LEN);
    }
    // A chain too small for the frame: the frame must not be delivered
    // truncated as if it were whole (returning the chain with len 0, or
    // leaving it posted, are both fine).
    fe.post_rx(1, &[100]);
    let big = frame(1514, 11);
    let _ = b.dev.tx_burst(QP, &[&big]);
    std::thread::sleep(Duration::from_millis(20));
    if let Some(p) = fe.recv() {
        assert_eq!(
            p.used[0].len, 0,
            "frame delivered truncated into a 100-byte chain: {p:?}"
        );
    }
    assert_eq!(bad(&b.dev), 0);
}

/// Runs one TX case on a fresh device: hostile chain, then a good packet.
fn run_tx_case(opts: Options, c: &Case, seed: u8) -> Result<(), String> {
    let (b, mut fe) = connected(opts);
    let before = bad(&b.dev);
    let drops_before = guest_drops(&b.dev);
    let head = (c.post)(&mut fe);
    let good = frame(100, seed);
    let good_head = fe.send(&good, &[NET_HDR_LEN]);
    let mut got = receive(&b.dev, 1, WAIT);
    // Let the device finish whatever it does with the bad chain.
    got.extend(receive(&b.dev, 1, Duration::from_millis(30)));
    if got != vec![good.clone()] {
        return Err(format!(
            "expected only the good {}-byte frame, got {} frames with lengths {:?}",
            good.len(),
            got.len(),
            got.iter().map(Vec::len).collect::<Vec<_>>()
        ));
    }
    let used = used_entries(&mut fe, true, if head.is_some() { 2 } else { 1 });
    check_used(c, head, good_head, &used, None)?;
    let after = bad(&b.dev);
    if c.expect == Expect::Bad && after != before + 1 {
        return Err(format!(
            "bad_descriptors went {before} -> {after}, expected +1"
        ));
    }
    let drops_after = guest_drops(&b.dev);
    if c.expect == Expect::Dropped && drops_after != drops_before + 1 {
        return Err(format!(
            "drop counters went {drops_before} -> {drops_after}, expected +1"
        ));
    }
    if !b.dev.link_up() {
        return Err("link went down".into());
    }
    Ok(())
}

/// Runs one RX case on a fresh device: hostile buffer, then a good buffer,
/// then the device transmits until a frame lands.
fn run_rx_case(opts: Options, c: &Case, seed: u8) -> Result<(), String> {
    let (b, mut fe) = connected(opts);
    let before = bad(&b.dev);
    let head = (c.post)(&mut fe);
    let good_head = fe.post_rx(1, &[2048])[0];
    let f = frame(100, seed);
    let mut used = Vec::new();
    let mut delivered = None;
    let mut attempts = 0;
    wait_until(WAIT, || {
        attempts += 1;
        let _ = b.dev.tx_burst(QP, &[&f]);
        while let Some(p) = fe.recv() {
            if p.used[0].len == 0 {
                used.push(p.used[0]);
            } else {
                used.extend(p.used.iter().copied());
                delivered = Some(p);
            }
        }
        delivered.is_some()
    });
    let p = delivered.ok_or_else(|| {
        format!("no frame delivered after {attempts} tx_burst calls; used {used:?}")
    })?;
    if p.frame != f {
        return Err(format!(
            "delivered frame differs: {} bytes vs {}",
            p.frame.len(),
            f.len()
        ));
    }
    check_used(c, head, good_head, &used, Some(f.len()))?;
    let after = bad(&b.dev);
    if c.expect == Expect::Bad && after != before + 1 {
        return Err(format!(
            "bad_descriptors went {before} -> {after}, expected +1 ({attempts} tx_burst calls)"
        ));
    }
    Ok(())
}

/// The bad head (if any) must come back first with len 0, then the good one.
fn check_used(
    c: &Case,
    head: Option<u16>,
    good_head: u16,
    used: &[Used],
    rx_len: Option<usize>,
) -> Result<(), String> {
    let good_len = |u: &Used| rx_len.is_none_or(|l| u.len as usize == l + NET_HDR_LEN);
    match head {
        Some(h) => {
            let want_bad = Used {
                id: u32::from(h),
                len: 0,
            };
            if used.len() != 2
                || used[0] != want_bad
                || used[1].id != u32::from(good_head)
                || !good_len(&used[1])
            {
                return Err(format!(
                    "used ring {used:?}: expected [{want_bad:?}, good head {good_head}] ({:?})",
                    c.expect
                ));
            }
        }
        None => {
            if used.len() != 1 || used[0].id != u32::from(good_head) || !good_len(&used[0]) {
                return Err(format!(
                    "used ring {used:?}: expected only the good head {good_head}"
                ));
            }
        }
    }
    Ok(())
}

fn run_cases(cases: Vec<Case>, opts: Options, tx: bool) {
    let mut failures = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if tx {
                run_tx_case(opts, c, k as u8)
            } else {
                run_rx_case(opts, c, k as u8)
            }
        }));
        let outcome = match r {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e,
            Err(p) => format!(
                "panicked: {}",
                p.downcast_ref::<String>()
                    .map(String::as_str)
                    .or(p.downcast_ref::<&str>().copied())
                    .unwrap_or("?")
            ),
        };
        failures.push(format!(
            "{} case {:?}: {outcome}",
            if tx { "TX" } else { "RX" },
            c.name
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn malformed_tx_chains_are_counted_returned_and_harmless() {
    run_cases(tx_cases(), Options::default(), true);
}

#[test]
fn malformed_tx_chains_without_indirect_negotiated() {
    let opts = Options {
        indirect: false,
        ..Options::default()
    };
    run_cases(tx_cases(), opts, true);
}

#[test]
fn malformed_rx_chains_are_counted_returned_and_harmless() {
    run_cases(rx_cases(), Options::default(), false);
}

#[test]
fn malformed_rx_chains_without_mrg_rxbuf() {
    let opts = Options {
        mrg_rxbuf: false,
        indirect: false,
        ..Options::default()
    };
    run_cases(rx_cases(), opts, false);
}

#[test]
fn indirect_descriptors_work_or_are_not_offered() {
    let (b, mut fe) = connected(Options::default());
    if fe.offered & support::frontend::F_INDIRECT_DESC == 0 {
        assert!(
            !fe.indirect(),
            "INDIRECT_DESC negotiated without being offered"
        );
        return;
    }
    assert!(fe.indirect());
    // TX: header and frame in a two-entry indirect table.
    let f = frame(300, 0x42);
    let buf = fe.tx.slot(200);
    let mut bytes = vec![0u8; NET_HDR_LEN];
    bytes.extend_from_slice(&f);
    fe.mem.write(buf, &bytes);
    write_table(
        &fe,
        SCRATCH,
        &[d(buf, 12, VRING_DESC_F_NEXT, 1), d(buf + 12, 300, 0, 0)],
    );
    let head = raw_chain(&mut fe, true, 1, |_, _| {
        vec![d(SCRATCH, 32, VRING_DESC_F_INDIRECT, 0)]
    });
    assert_eq!(receive(&b.dev, 1, WAIT), vec![f]);
    assert_eq!(
        used_entries(&mut fe, true, 1).first().map(|u| u.id),
        head.map(u32::from)
    );
    // RX: one indirect entry of 2048 writable bytes.
    let rbuf = fe.rx.slot(200);
    write_table(
        &fe,
        SCRATCH + 0x100,
        &[d(rbuf, 2048, VRING_DESC_F_WRITE, 0)],
    );
    let rhead = raw_chain(&mut fe, false, 1, |_, _| {
        vec![d(SCRATCH + 0x100, 16, VRING_DESC_F_INDIRECT, 0)]
    });
    let g = frame(500, 0x43);
    assert_eq!(b.dev.tx_burst(QP, &[&g]), 1);
    let used = used_entries(&mut fe, false, 1);
    assert_eq!(
        used,
        vec![Used {
            id: u32::from(rhead.expect("head")),
            len: (g.len() + NET_HDR_LEN) as u32
        }]
    );
    let mut out = vec![0u8; g.len()];
    fe.mem.read(rbuf + NET_HDR_LEN as u64, &mut out);
    assert_eq!(out, g);
    assert_eq!(bad(&b.dev), 0);
}

#[test]
fn avail_index_jumping_past_the_ring() {
    let (b, mut fe) = connected(Options::default());
    let size = fe.tx.size();

    // TX: publish an index a whole ring (and then some) ahead.
    let before = bad(&b.dev);
    fe.tx
        .set_avail_idx_raw(&fe.mem, fe.tx.avail_idx().wrapping_add(size + 5));
    fe.kick_tx();
    let got = receive(&b.dev, 1, Duration::from_millis(100));
    assert!(
        got.is_empty(),
        "device took {} frames from a bogus avail index",
        got.len()
    );
    assert!(bad(&b.dev) > before, "bogus TX avail index not counted");
    assert_eq!(
        fe.tx.pending_used(&fe.mem),
        0,
        "device returned buffers it was never given"
    );
    // The guest comes to its senses: the honest index and a good packet.
    fe.tx.restore_avail_idx(&fe.mem);
    let f = frame(128, 7);
    fe.send(&f, &[]);
    assert_eq!(
        receive(&b.dev, 1, WAIT),
        vec![f],
        "TX did not recover after the avail index was restored"
    );

    // RX: same on the receive ring.
    let before = bad(&b.dev);
    fe.rx
        .set_avail_idx_raw(&fe.mem, fe.rx.avail_idx().wrapping_add(size + 5));
    let g = frame(128, 8);
    for _ in 0..10 {
        let _ = b.dev.tx_burst(QP, &[&g]);
    }
    assert!(bad(&b.dev) > before, "bogus RX avail index not counted");
    assert_eq!(
        fe.rx.pending_used(&fe.mem),
        0,
        "device used RX buffers it was never given"
    );
    fe.rx.restore_avail_idx(&fe.mem);
    fe.post_rx(1, &[2048]);
    let mut p = None;
    assert!(
        wait_until(WAIT, || {
            let _ = b.dev.tx_burst(QP, &[&g]);
            p = fe.recv();
            p.is_some()
        }),
        "RX did not recover after the avail index was restored"
    );
    assert_eq!(p.expect("packet").frame, g);
}

#[test]
fn server_role_disconnect_and_reconnect() {
    let (b, mut fe) = connected(Options::default());
    ping_both_ways(&b.dev, &mut fe, 1);
    one_bad_descriptor(&b.dev, &mut fe);
    let stats_before = bad(&b.dev);
    let packets_before = b.dev.stats().rx_packets;
    assert_eq!(packets_before, 1);

    drop(fe);
    assert!(
        wait_until(WAIT, || !b.dev.link_up()),
        "link stayed up after the frontend left"
    );
    // Polling a device with no guest is harmless and yields nothing.
    assert!(receive(&b.dev, 1, Duration::from_millis(20)).is_empty());
    assert_eq!(
        b.dev.tx_burst(QP, &[&frame(60, 0)]),
        0,
        "tx_burst on a link-down device"
    );

    let mut fe = TestFrontend::connect(&b.sock, Options::default()).expect("second frontend");
    assert!(
        wait_until(WAIT, || b.dev.link_up()),
        "link did not come back"
    );
    assert_eq!(
        bad(&b.dev),
        stats_before,
        "counters must survive a reconnect"
    );
    assert_eq!(b.dev.stats().rx_packets, packets_before);
    assert!(b.dev.stats().connections >= 2);
    ping_both_ways(&b.dev, &mut fe, 3);

    // A third frontend with different features (no MRG_RXBUF, one region).
    drop(fe);
    assert!(wait_until(WAIT, || !b.dev.link_up()));
    let opts = Options {
        mrg_rxbuf: false,
        two_regions: false,
        ..Options::default()
    };
    let mut fe = TestFrontend::connect(&b.sock, opts).expect("third frontend");
    assert!(wait_until(WAIT, || b.dev.link_up()));
    ping_both_ways(&b.dev, &mut fe, 5);
}

#[test]
fn client_role_traffic_and_reconnect() {
    let dir = TempDir::new("client");
    let path = dir.join("guest.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let b = Bench {
        dev: VhostNetDevice::start(
            "vhu-client",
            VhostConfig {
                socket: path.clone(),
                role: Role::Client,
                queue_pairs: 1,
                mtu: 1500,
            },
        )
        .expect("start client device"),
        sock: path.clone(),
        dir,
    };
    let mut fe = TestFrontend::accept(&listener, Options::default()).expect("backend connects");
    assert!(wait_until(WAIT, || b.dev.link_up()));
    ping_both_ways(&b.dev, &mut fe, 1);
    one_bad_descriptor(&b.dev, &mut fe);

    // The VM goes away; the backend must notice and dial again.
    drop(fe);
    assert!(
        wait_until(WAIT, || !b.dev.link_up()),
        "link stayed up after the frontend left"
    );
    let mut fe = TestFrontend::accept(&listener, Options::default()).expect("backend reconnects");
    assert!(
        wait_until(WAIT, || b.dev.link_up()),
        "link did not come back"
    );
    assert_eq!(bad(&b.dev), 1, "counters must survive a reconnect");
    ping_both_ways(&b.dev, &mut fe, 3);
    assert!(b.dir.path().exists());
}

/// vhost-user request codes used by the raw-message cases.
const REQ_SET_FEATURES: u32 = 2;
const REQ_SET_OWNER: u32 = 3;
const REQ_SET_MEM_TABLE: u32 = 5;
const REQ_SET_VRING_NUM: u32 = 8;
const REQ_SET_VRING_ENABLE: u32 = 18;
const REQ_SEND_RARP: u32 = 19;
const REQ_SET_STATUS: u32 = 39;
const REQ_GET_STATUS: u32 = 40;
const VERSION_1: u32 = 1;

#[test]
fn rings_enabled_before_set_features_as_qemu_does_carry_traffic() {
    // QEMU enables its rings when the guest driver negotiates, before it sends SET_FEATURES.
    // Those enables must count: dropping or refusing them left QEMU guests without a link.
    let b = start(Role::Server);
    let opts = Options {
        enable_before_features: true,
        ..Options::default()
    };
    let mut fe = TestFrontend::connect(&b.sock, opts).expect("frontend");
    assert!(wait_until(WAIT, || b.dev.link_up()), "no link");
    assert_eq!(b.dev.active_queue_pairs(), 1);
    assert!(b.dev.vrings().iter().all(|r| r.enabled && r.live));
    ping_both_ways(&b.dev, &mut fe, 4);
}

#[test]
fn garbage_messages_get_disconnected_and_the_backend_keeps_accepting() {
    let b = start(Role::Server);
    let mut big_size = raw_msg(REQ_SET_OWNER, VERSION_1, &[]);
    big_size[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut mem_table = Vec::new();
    mem_table.extend_from_slice(&8u32.to_le_bytes()); // 8 regions ...
    mem_table.extend_from_slice(&0u32.to_le_bytes());
    mem_table.extend(std::iter::repeat_n(0x5a, 8 * 32)); // ... but no fds
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "random bytes",
            (0..64u32)
                .map(|i| (i.wrapping_mul(97) ^ 0xa5) as u8)
                .collect(),
        ),
        ("unknown request code", raw_msg(0xdead, VERSION_1, &[])),
        ("wrong protocol version", raw_msg(REQ_SET_OWNER, 0x2, &[])),
        (
            "reply flag on a request",
            raw_msg(REQ_SET_OWNER, VERSION_1 | 0x4, &[]),
        ),
        ("size field of 4 GiB", big_size),
        (
            "body shorter than the request needs",
            raw_msg(REQ_SET_FEATURES, VERSION_1, &[1, 2, 3]),
        ),
        (
            "SET_MEM_TABLE without file descriptors",
            raw_msg(REQ_SET_MEM_TABLE, VERSION_1, &mem_table),
        ),
        // The requests answered before the library (prefilter): bad framing, bad values,
        // or a feature that was never negotiated.
        (
            "SET_VRING_ENABLE of a ring that was not offered",
            raw_msg(REQ_SET_VRING_ENABLE, VERSION_1, &[200, 0, 0, 0, 1, 0, 0, 0]),
        ),
        (
            "SET_VRING_ENABLE with num 7",
            raw_msg(REQ_SET_VRING_ENABLE, VERSION_1, &[0, 0, 0, 0, 7, 0, 0, 0]),
        ),
        (
            "SET_VRING_ENABLE with a short body",
            raw_msg(REQ_SET_VRING_ENABLE, VERSION_1, &[0, 0, 0, 0]),
        ),
        (
            "SEND_RARP without the RARP protocol feature",
            raw_msg(REQ_SEND_RARP, VERSION_1, &[2, 0, 0, 0, 0, 1, 0, 0]),
        ),
        (
            "SET_STATUS without the STATUS protocol feature",
            raw_msg(REQ_SET_STATUS, VERSION_1, &[4, 0, 0, 0, 0, 0, 0, 0]),
        ),
        (
            "GET_STATUS with a 64-byte body",
            raw_msg(REQ_GET_STATUS, VERSION_1, &[0; 64]),
        ),
    ];
    let mut kept_open = Vec::new();
    for (name, bytes) in &cases {
        if !send_garbage_expect_close(&b.sock, bytes, Duration::from_secs(2)) {
            kept_open.push(*name);
        }
        assert!(!b.dev.link_up(), "{name}: link up without a real frontend");
    }
    // Valid framing, hostile values: vring index far beyond the device's
    // queues. Connection may survive (error reply) but the device must.
    let mut body = Vec::new();
    body.extend_from_slice(&200u32.to_le_bytes());
    body.extend_from_slice(&256u32.to_le_bytes());
    let _ = send_garbage_expect_close(
        &b.sock,
        &raw_msg(REQ_SET_VRING_NUM, VERSION_1, &body),
        Duration::from_millis(300),
    );

    assert!(
        kept_open.is_empty(),
        "backend kept these garbage connections open: {kept_open:?}"
    );
    let mut fe =
        TestFrontend::connect(&b.sock, Options::default()).expect("real frontend after garbage");
    assert!(wait_until(WAIT, || b.dev.link_up()));
    ping_both_ways(&b.dev, &mut fe, 9);
}

#[test]
fn hostile_vring_setup_is_refused_without_harm() {
    use support::frontend::BadRing;
    let b = start(Role::Server);
    let cases = [
        BadRing::DescUnmapped,
        BadRing::DescCrossesRegionEnd,
        BadRing::UsedUnmapped,
        BadRing::AvailCrossesRegionEnd,
        BadRing::Size(0),
        BadRing::Size(100),
        BadRing::Size(65535),
    ];
    for (k, bad_ring) in cases.into_iter().enumerate() {
        let opts = Options {
            bad_ring: Some(bad_ring),
            ..Options::default()
        };
        let setup_before = b.dev.stats().ring_setup_errors;
        // Setup may fail (NACK or hang-up): both are fine.
        match TestFrontend::connect(&b.sock, opts) {
            Err(e) => eprintln!("{bad_ring:?}: refused: {e}"),
            Ok(mut fe) => {
                eprintln!("{bad_ring:?}: accepted by the control plane");
                let setup_errors = b.dev.stats().ring_setup_errors;
                assert!(
                    !b.dev.link_up(),
                    "{bad_ring:?}: link up on an invalid TX ring"
                );
                assert!(
                    setup_errors > setup_before,
                    "{bad_ring:?}: invalid ring not counted in ring_setup_errors"
                );
                // Whatever the device did, polling must not touch memory
                // outside the guest's regions, nor take frames from a ring
                // it could not validate.
                fe.send(&frame(80, k as u8), &[]);
                fe.post_rx(1, &[2048]);
                let got = receive(&b.dev, 1, Duration::from_millis(50));
                assert!(
                    got.is_empty(),
                    "{bad_ring:?}: frames taken from an invalid TX ring"
                );
                let _ = b.dev.tx_burst(QP, &[&frame(80, 1)]);
            }
        }
        assert!(
            wait_until(WAIT, || !b.dev.link_up()),
            "{bad_ring:?}: link up after the frontend left"
        );
    }
    // The device still serves an honest guest.
    let mut fe = TestFrontend::connect(&b.sock, Options::default()).expect("honest frontend");
    assert!(wait_until(WAIT, || b.dev.link_up()));
    ping_both_ways(&b.dev, &mut fe, 11);
}

#[test]
fn memory_table_pulled_from_under_running_rings() {
    use rvhost::vhost_user::message::VhostUserHeaderFlag;
    use rvhost::{VhostBackend, VhostUserMemoryRegionInfo};
    let (b, mut fe) = connected(Options::default());
    ping_both_ways(&b.dev, &mut fe, 1);
    // New table: only region B. The rings (in region A) are now untranslatable.
    let r = &fe.mem.regions[1];
    let only_b = [VhostUserMemoryRegionInfo {
        guest_phys_addr: r.gpa,
        memory_size: r.len as u64,
        userspace_addr: r.host_addr(),
        mmap_offset: 0,
        mmap_handle: std::os::fd::AsRawFd::as_raw_fd(&r.file),
    }];
    let res = fe.control().set_mem_table(&only_b);
    eprintln!("SET_MEM_TABLE without the ring region: {res:?}");
    fe.control().set_hdr_flags(VhostUserHeaderFlag::empty());
    fe.send(&frame(80, 2), &[]);
    fe.post_rx(1, &[2048]);
    // Polling must neither crash nor move frames through unmapped rings.
    let got = receive(&b.dev, 1, Duration::from_millis(50));
    let sent = b.dev.tx_burst(QP, &[&frame(80, 3)]);
    eprintln!(
        "after: rx {} tx {sent} link {} last_error {:?}",
        got.len(),
        b.dev.link_up(),
        b.dev.last_error()
    );
    assert!(
        got.is_empty() && sent == 0,
        "frames moved through rings outside guest memory"
    );
    drop(fe);
    assert!(wait_until(WAIT, || !b.dev.link_up()));
    let mut fe = TestFrontend::connect(&b.sock, Options::default()).expect("honest frontend");
    assert!(wait_until(WAIT, || b.dev.link_up()));
    ping_both_ways(&b.dev, &mut fe, 5);
}

/// One empty poll of the guest's TX queue, as a PMD loop makes.
fn poll_once(dev: &VhostNetDevice) -> usize {
    let mut store = [[0u8; 2048]; 4];
    let mut bufs: Vec<&mut [u8]> = store.iter_mut().map(|b| &mut b[..]).collect();
    let mut lens = [0usize; 4];
    dev.rx_burst(QP, &mut bufs, &mut lens)
}

#[test]
fn a_polling_guest_that_reenables_interrupts_is_not_left_waiting() {
    let (b, mut fe) = connected(Options::default());
    fe.post_rx(4, &[2048]);
    fe.set_rx_avail_flags(1);
    let notes = b.dev.stats().guest_notifications;
    let f = frame(64, 7);
    assert_eq!(b.dev.tx_burst(QP, &[&f]), 1);
    assert_eq!(
        fe.take_rx_interrupts(),
        0,
        "a polling guest is not interrupted"
    );
    // The guest turns interrupts back on (as a NAPI driver does when its ring looks dry) just
    // as the frame lands: the burst's unfenced check may have missed that. The next poll of
    // the device, with the guest's TX idle, makes the fenced check and interrupts it.
    fe.set_rx_avail_flags(0);
    assert_eq!(poll_once(&b.dev), 0);
    assert_eq!(fe.take_rx_interrupts(), 1);
    assert_eq!(b.dev.stats().guest_notifications, notes + 1);
    assert_eq!(poll_once(&b.dev), 0);
    assert_eq!(fe.take_rx_interrupts(), 0, "nothing new to signal");
    // A guest that wants interrupts gets one with the burst itself.
    assert_eq!(b.dev.tx_burst(QP, &[&f]), 1);
    assert_eq!(fe.take_rx_interrupts(), 1);
    for _ in 0..2 {
        assert_eq!(fe.recv().map(|p| p.frame), Some(f.clone()));
    }
    assert!(fe.recv().is_none());
}

#[test]
fn a_device_re_created_on_the_same_socket_keeps_the_path_when_the_old_one_stops() {
    // A reload that changes a vhost port's settings opens the new device before it stops the
    // old one. The old one must not remove the socket the new one now listens on.
    let b = start(Role::Server);
    let cfg = b.dev.config().clone();
    let newer = VhostNetDevice::start("vhu-new", cfg).expect("second device on the same path");
    b.dev.stop();
    assert!(
        b.sock.exists(),
        "the old device removed the new one's socket"
    );
    let mut fe = TestFrontend::connect(&b.sock, Options::default()).expect("frontend");
    assert!(
        wait_until(WAIT, || newer.link_up()),
        "no link on the new device"
    );
    ping_both_ways(&newer, &mut fe, 3);
    drop(fe);
    newer.stop();
    assert!(!b.sock.exists(), "the last device leaves no socket behind");
}
