//! `flood IFACE PPS [SECS]`: send PPS Ethernet frames per second on IFACE, each from a new random
//! source MAC, to the anchor address 02:fe:00:00:00:01 (after three anchor frames from and to that
//! address, so a learning switch knows it behind IFACE's port). SECS = 0 (the default) runs until
//! SIGINT/SIGTERM. Prints the frames sent when it stops.
//!
//! The pktgen harness's upcall-flood case uses it instead of trafgen, whose rate limiting spins a
//! whole core: this machine has two, and both are taken (generator and switch PMD). Frames go out
//! in batches of one millisecond's worth through `sendmmsg`, with a sleep between batches, so
//! the cost is the kernel's per-frame transmit and little else.

use std::time::{Duration, Instant};

const ANCHOR: [u8; 6] = [0x02, 0xfe, 0, 0, 0, 1];
const FRAME: usize = 60;

fn die(msg: &str) -> ! {
    eprintln!("flood: {msg}");
    std::process::exit(1)
}

fn open(iface: &str) -> libc::c_int {
    // SAFETY: plain socket(2) call.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW,
            i32::from((libc::ETH_P_ALL as u16).to_be()),
        )
    };
    if fd < 0 {
        die(&format!("socket: {}", std::io::Error::last_os_error()));
    }
    let name = std::ffi::CString::new(iface).unwrap_or_else(|_| die("bad interface name"));
    // SAFETY: `name` is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if idx == 0 {
        die(&format!("no interface {iface}"));
    }
    // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_ifindex = idx as i32;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: binding our socket to a valid sockaddr_ll of the size passed.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        die(&format!("bind: {}", std::io::Error::last_os_error()));
    }
    fd
}

/// Send every frame of `frames` (one sendmmsg call per 64); returns how many went.
fn send_all(fd: libc::c_int, frames: &mut [[u8; FRAME]]) -> usize {
    let mut sent = 0;
    for chunk in frames.chunks_mut(64) {
        let mut iov: Vec<libc::iovec> = chunk
            .iter_mut()
            .map(|f| libc::iovec {
                iov_base: f.as_mut_ptr().cast(),
                iov_len: FRAME,
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iov
            .iter_mut()
            .map(|v| {
                // SAFETY: mmsghdr is plain data; zeroed is a valid value.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_iov = v;
                m.msg_hdr.msg_iovlen = 1;
                m
            })
            .collect();
        // SAFETY: `msgs` holds `msgs.len()` headers whose iovecs point into `chunk`, alive for
        // the call.
        let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), msgs.len() as u32, 0) };
        if n > 0 {
            sent += n as usize;
        }
    }
    sent
}

fn frame(src: [u8; 6]) -> [u8; FRAME] {
    let mut f = [0u8; FRAME];
    f[..6].copy_from_slice(&ANCHOR);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    f
}

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        die("usage: flood IFACE PPS [SECS]");
    }
    let pps: u64 = args[2]
        .parse()
        .unwrap_or_else(|_| die("PPS must be a number"));
    let secs: u64 = args
        .get(3)
        .map(|s| s.parse().unwrap_or_else(|_| die("SECS must be a number")))
        .unwrap_or(0);
    let fd = open(&args[1]);
    // SAFETY: installing an async-signal-safe handler (one relaxed atomic store).
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    send_all(fd, &mut [frame(ANCHOR); 3]);
    std::thread::sleep(Duration::from_millis(100));
    let per_ms = (pps / 1000).max(1) as usize;
    let mut batch = vec![[0u8; FRAME]; per_ms];
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    let start = Instant::now();
    let mut sent = 0u64;
    let mut tick = 0u64;
    while !STOP.load(std::sync::atomic::Ordering::Relaxed)
        && (secs == 0 || start.elapsed() < Duration::from_secs(secs))
    {
        for f in batch.iter_mut() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let mut src = [0u8; 6];
            src[..].copy_from_slice(&rng.to_be_bytes()[..6]);
            src[0] = 0x02; // locally administered unicast
            *f = frame(src);
        }
        sent += send_all(fd, &mut batch) as u64;
        tick += 1;
        let due = start + Duration::from_millis(tick);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let dt = start.elapsed().as_secs_f64();
    println!(
        "flood: sent {sent} frames in {dt:.1} s ({:.0}/s)",
        sent as f64 / dt
    );
}
