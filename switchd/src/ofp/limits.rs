//! Limits that keep many or hostile OpenFlow clients from taking the switch's descriptors, and
//! its log, with them.
//!
//! - Each listener serves at most [`MAX_CONNECTIONS`] connections at once; more are accepted
//!   and closed at once (counted in the hub's `connections_refused`). A connection costs three
//!   descriptors and two threads (reader, writer), so threads and descriptors stay bounded:
//!   with the management socket and one `ptcp:` listener a bridge holds at most 2 x 256
//!   connections, about 1,500 descriptors, and the process limit is raised at start
//!   ([`raise_nofile`]) well above that where the hard limit allows.
//! - When the process runs out of descriptors anyway (EMFILE), the accept loop frees a spare
//!   descriptor kept for this, accepts the waiting connection and closes it, and takes the spare
//!   again, instead of seeing the same error 20 times a second.
//! - Repeated log lines go through [`RateLog`]: at most one per 10 s, with the number of lines
//!   left out since.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most connections one listener serves at once.
pub const MAX_CONNECTIONS: usize = 256;

/// How often a rate-limited line may be printed.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// A log line printed at most once per [`LOG_EVERY`].
#[derive(Default)]
pub struct RateLog {
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl RateLog {
    /// Print `line` (prefixed `dvs-switchd: `) unless one was printed less than 10 s ago; say
    /// how many were left out in between.
    pub fn log(&self, line: impl FnOnce() -> String) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < LOG_EVERY) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        *last = Some(now);
        let n = self.suppressed.swap(0, Ordering::Relaxed);
        if n > 0 {
            eprintln!("dvs-switchd: {} ({n} similar lines left out)", line());
        } else {
            eprintln!("dvs-switchd: {}", line());
        }
    }
}

/// A descriptor held in reserve for the moment the process has none left.
pub struct Reserve(Mutex<Option<File>>);

impl Reserve {
    /// Take one descriptor now.
    pub fn new() -> Reserve {
        Reserve(Mutex::new(File::open("/dev/null").ok()))
    }

    /// Run `f` with the reserve freed (one descriptor available), then take it back.
    pub fn with_spare<R>(&self, f: impl FnOnce() -> R) -> R {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        drop(g.take());
        let r = f();
        *g = File::open("/dev/null").ok();
        r
    }
}

impl Default for Reserve {
    fn default() -> Self {
        Reserve::new()
    }
}

/// True when `e` says the process or the system is out of descriptors.
pub fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// Raise the soft limit on open files to the hard limit (at most `want`); returns (before,
/// after) when it changed.
pub fn raise_nofile(want: u64) -> Option<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return None;
    }
    let before = r.rlim_cur;
    let target = want.min(r.rlim_max);
    if target <= before {
        return None;
    }
    r.rlim_cur = target;
    // SAFETY: `r` holds a soft limit no higher than the hard one.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } != 0 {
        return None;
    }
    Some((before, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_log_prints_once_per_period() {
        let l = RateLog::default();
        let mut printed = 0;
        for _ in 0..5 {
            l.log(|| {
                printed += 1;
                "x".into()
            });
        }
        assert_eq!(printed, 1);
        assert_eq!(l.suppressed.load(Ordering::Relaxed), 4);
    }

    #[test]
    fn the_reserve_gives_one_descriptor_back() {
        let r = Reserve::new();
        assert!(r.0.lock().unwrap().is_some());
        let inside = r.with_spare(|| r.0.try_lock().is_err());
        assert!(inside, "held while the closure runs");
        assert!(r.0.lock().unwrap().is_some(), "taken again");
    }
}
