//! Harness around the backend under test: start a `VhostNetDevice` in a
//! temp dir, attach a [`TestFrontend`], and poll the device the way a PMD
//! thread would (`rx_burst` into fixed 2048-byte buffers, `tx_burst`).
//! Kept apart from the frontend modules, which know nothing of the backend.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use vhost::{Role, VhostConfig, VhostNetDevice};

use super::attacks::{d, raw_chain};
use super::frontend::{Options, TestFrontend, NET_HDR_LEN, UNMAPPED_GPA};
use super::virtq::Used;
use super::{frame, wait_until, TempDir};

pub const QP: u16 = 0;
pub const MAC: [u8; 6] = [0x02, 0xd5, 0x00, 0x00, 0x00, 0x01];
pub const WAIT: Duration = Duration::from_secs(3);

pub struct Bench {
    pub dir: TempDir,
    pub sock: PathBuf,
    pub dev: Arc<VhostNetDevice>,
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.dev.stop();
    }
}

pub fn start(role: Role) -> Bench {
    let dir = TempDir::new("hostile");
    let sock = dir.join("vhu.sock");
    let dev = VhostNetDevice::start(
        "vhu-test",
        VhostConfig {
            socket: sock.clone(),
            role,
            queue_pairs: 1,
            mtu: 1500,
        },
    )
    .expect("start vhost device");
    Bench { dir, sock, dev }
}

/// Server-role device with a connected frontend whose link is up.
pub fn connected(opts: Options) -> (Bench, TestFrontend) {
    let b = start(Role::Server);
    let fe = TestFrontend::connect(&b.sock, opts).expect("frontend setup");
    assert!(wait_until(WAIT, || b.dev.link_up()), "link never came up");
    (b, fe)
}

/// Polls `rx_burst` until `want` frames arrived or the wait ran out.
pub fn receive(dev: &VhostNetDevice, want: usize, wait: Duration) -> Vec<Vec<u8>> {
    let mut store = vec![vec![0u8; 2048]; 32];
    let mut lens = [0usize; 32];
    let mut got = Vec::new();
    wait_until(wait, || {
        let mut bufs: Vec<&mut [u8]> = store.iter_mut().map(|b| b.as_mut_slice()).collect();
        let n = dev.rx_burst(QP, &mut bufs, &mut lens);
        for (k, &len) in lens.iter().enumerate().take(n) {
            assert!(
                len <= 2048,
                "rx_burst reported {len} bytes for a 2048-byte buffer"
            );
            got.push(store[k][..len].to_vec());
        }
        got.len() >= want
    });
    got
}

/// Drains the used ring of a queue (TX when `tx`), waiting until `want`
/// entries came back.
pub fn used_entries(fe: &mut TestFrontend, tx: bool, want: usize) -> Vec<Used> {
    let mut out = Vec::new();
    wait_until(Duration::from_secs(1), || {
        loop {
            let q = if tx { &mut fe.tx } else { &mut fe.rx };
            match q.pop_used(&fe.mem) {
                Some(u) => out.push(u),
                None => break,
            }
        }
        out.len() >= want
    });
    out
}

pub fn bad(dev: &VhostNetDevice) -> u64 {
    dev.stats().bad_descriptors
}

/// Every counter a guest frame can be dropped under.
pub fn guest_drops(dev: &VhostNetDevice) -> u64 {
    let s = dev.stats();
    s.bad_descriptors + s.bad_headers + s.rx_oversize + s.rx_runts
}

/// Sends one frame each way and checks both arrive intact.
pub fn ping_both_ways(dev: &VhostNetDevice, fe: &mut TestFrontend, seed: u8) {
    let f = frame(90, seed);
    fe.send(&f, &[NET_HDR_LEN]);
    assert_eq!(receive(dev, 1, WAIT), vec![f], "guest -> switch");
    fe.post_rx(1, &[2048]);
    let g = frame(91, seed.wrapping_add(1));
    let mut p = None;
    assert!(
        wait_until(WAIT, || {
            if p.is_none() {
                let _ = dev.tx_burst(QP, &[&g]);
            }
            p = p.take().or_else(|| fe.recv());
            p.is_some()
        }),
        "switch -> guest"
    );
    assert_eq!(p.expect("packet").frame, g);
}

/// Makes the device count one bad descriptor (an out-of-memory TX chain).
pub fn one_bad_descriptor(dev: &VhostNetDevice, fe: &mut TestFrontend) {
    let before = bad(dev);
    raw_chain(fe, true, 1, |_, _| vec![d(UNMAPPED_GPA, 100, 0, 0)]);
    receive(dev, 1, Duration::from_millis(50));
    assert_eq!(bad(dev), before + 1);
}
