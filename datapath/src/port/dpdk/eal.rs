//! The DPDK Environment Abstraction Layer: one `rte_eal_init` per process, and EAL lcore
//! identities for the switch's own PMD threads.
//!
//! `rte_eal_init` may run only once per process — even a failed call generally cannot be retried
//! (a memory-init failure leaves EAL half set up) — so [`init_eal`] records the outcome behind a
//! mutex: a second call with the same arguments returns the first result, a call with different
//! arguments is refused. Callers that may lack hugepages check [`hugepages_available`] first and
//! pass `--no-huge -m N` instead of hoping for a retry. EAL pins the calling thread to its main
//! lcore's CPU set; the switch's control thread calls this, and it must stay unpinned, so the
//! caller's affinity is restored afterwards (EAL only uses it for its own bookkeeping).
//!
//! Drivers: this EAL is a shared library, so at init it loads every driver plugin in
//! [`plugin_dir`] (DPDK's build-time `RTE_EAL_PMD_PATH`, `/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0`
//! on Debian 12). No `-d` argument is needed for the distribution's drivers; `-d <file|dir>` adds
//! out-of-tree ones.
//!
//! PMD threads are ordinary threads, not EAL lcores. They still work without an lcore id — the
//! mempool then skips its per-lcore cache and every mbuf alloc/free goes to the shared ring with
//! atomic operations — but registering gives them a cache. [`ensure_lcore`] (called by every
//! burst, one thread-local read when done) calls `rte_thread_register` once per thread and
//! `rte_thread_unregister` when the thread exits. If registration fails (all `RTE_MAX_LCORE`
//! slots taken) the thread keeps working uncached; the failure is not retried.

use super::DpdkError;
use dpdk_sys as sys;
use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::Mutex;

enum EalState {
    Uninit,
    Ready(Vec<String>),
    Failed(Vec<String>, String),
}

static EAL: Mutex<EalState> = Mutex::new(EalState::Uninit);

/// The text of a DPDK errno (`rte_strerror`, which also knows DPDK's own codes).
pub(crate) fn strerror(errno: c_int) -> String {
    let e = errno.abs();
    // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated string.
    let p = unsafe { sys::rte_strerror(e) };
    if p.is_null() {
        return format!("error {e}");
    }
    // SAFETY: non-null, NUL-terminated (see above), and copied out before any other DPDK call.
    let s = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
    format!("{s} (errno {e})")
}

/// `rte_errno` of this thread, as text.
pub(crate) fn last_error() -> String {
    // SAFETY: reads a thread-local int; no preconditions.
    strerror(unsafe { sys::dvs_rte_errno() })
}

/// Initialise EAL with `args` (without a program name; `dvs` is prepended as `argv[0]`).
///
/// Typical arguments: `--no-pci`, `--in-memory` (or `--file-prefix=NAME`), `-l 0`,
/// `-m 256`/`--socket-mem`, `--no-huge`, `--vdev=net_null0`, `--single-file-segments`,
/// `--no-telemetry`, `--log-level=N`. Once per process: a repeated call with the same arguments
/// returns the first outcome, one with different arguments fails with
/// [`DpdkError::EalAlreadyInitialised`].
pub fn init_eal(args: &[String]) -> Result<(), DpdkError> {
    let mut st = EAL.lock().unwrap_or_else(|e| e.into_inner());
    match &*st {
        EalState::Ready(a) if a.as_slice() == args => return Ok(()),
        EalState::Failed(a, msg) if a.as_slice() == args => {
            return Err(DpdkError::EalInit(msg.clone()))
        }
        EalState::Ready(a) | EalState::Failed(a, _) => {
            return Err(DpdkError::EalAlreadyInitialised(a.join(" ")))
        }
        EalState::Uninit => {}
    }
    let mut owned = Vec::with_capacity(args.len() + 1);
    owned.push(c"dvs".to_owned());
    for a in args {
        owned.push(CString::new(a.as_str()).map_err(|_| DpdkError::EalArgument(a.clone()))?);
    }
    // EAL may keep pointers into argv (and getopt permutes it), so the strings live forever.
    let owned: &'static mut [CString] = Vec::leak(owned);
    let argv: &'static mut [*mut c_char] = Vec::leak(
        owned
            .iter()
            .map(|s| s.as_ptr().cast_mut())
            .chain(std::iter::once(std::ptr::null_mut()))
            .collect(),
    );
    let saved = get_affinity();
    let argc = (argv.len() - 1) as c_int;
    // SAFETY: argv holds argc valid NUL-terminated strings followed by NULL, all leaked so they
    // outlive EAL; the EAL mutex is held, so no concurrent rte_eal_init.
    let rc = unsafe { sys::rte_eal_init(argc, argv.as_mut_ptr()) };
    if let Some(set) = saved {
        restore_affinity(&set);
    }
    if rc < 0 {
        let msg = last_error();
        *st = EalState::Failed(args.to_vec(), msg.clone());
        return Err(DpdkError::EalInit(msg));
    }
    *st = EalState::Ready(args.to_vec());
    Ok(())
}

/// True once [`init_eal`] has succeeded.
pub fn eal_initialised() -> bool {
    matches!(
        *EAL.lock().unwrap_or_else(|e| e.into_inner()),
        EalState::Ready(_)
    )
}

/// The directory EAL loads driver plugins from (`RTE_EAL_PMD_PATH`).
pub fn plugin_dir() -> &'static str {
    sys::PMD_DIR
}

/// True when at least `pages` 2 MiB hugepages are free, i.e. EAL can run with `--in-memory`
/// without `--no-huge` (without `--in-memory` it also needs a hugetlbfs mount).
pub fn hugepages_available(pages: u64) -> bool {
    let free = std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    free >= pages
}

fn get_affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: cpu_set_t is plain data; all-zero is an empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    (rc == 0).then_some(set)
}

fn restore_affinity(set: &libc::cpu_set_t) {
    // SAFETY: `set` is a valid cpu_set_t read by sched_getaffinity; pid 0 is this thread.
    // Failure only leaves the EAL pinning in place, which is harmless.
    let _ = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(set), set) };
}

/// This thread's EAL lcore registration (see the module docs).
struct Lcore {
    registered: bool,
}

impl Lcore {
    fn new() -> Lcore {
        // SAFETY: reads a thread-local; no preconditions.
        if unsafe { sys::dvs_lcore_id() } != sys::LCORE_ID_ANY {
            // Already an EAL lcore (the thread that ran rte_eal_init, or an EAL worker).
            return Lcore { registered: false };
        }
        // SAFETY: EAL is initialised (callers hold an open port); registers only this thread.
        let rc = unsafe { sys::rte_thread_register() };
        Lcore {
            registered: rc == 0,
        }
    }
}

impl Drop for Lcore {
    fn drop(&mut self) {
        if self.registered {
            // SAFETY: this thread registered itself in `new` and is exiting.
            unsafe { sys::rte_thread_unregister() };
        }
    }
}

thread_local! {
    static LCORE: Lcore = Lcore::new();
}

/// Give the calling thread an EAL lcore id (and so a mempool cache) if it has none; once per
/// thread, then a thread-local read.
#[inline]
pub(crate) fn ensure_lcore() {
    // `try_with` fails only during thread teardown, when running uncached is fine.
    let _ = LCORE.try_with(|_| ());
}

/// The calling thread's lcore id, if it has one (registered or EAL-created).
pub fn thread_lcore() -> Option<u32> {
    // SAFETY: reads a thread-local; no preconditions.
    let id = unsafe { sys::dvs_lcore_id() };
    (id != sys::LCORE_ID_ANY).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_dir_holds_the_virtual_drivers() {
        let dir = std::path::Path::new(plugin_dir());
        assert!(dir.is_absolute(), "{dir:?}");
        for drv in [
            "net_null",
            "net_ring",
            "net_tap",
            "net_af_packet",
            "net_vhost",
            "net_virtio",
            "mempool_ring",
        ] {
            let so = dir.join(format!("librte_{drv}.so"));
            assert!(so.exists(), "{} missing", so.display());
        }
    }

    #[test]
    fn strerror_names_dpdk_codes() {
        assert!(strerror(-libc::ENOMEM).contains("errno 12"));
        assert!(!strerror(libc::EINVAL).is_empty());
    }
}
