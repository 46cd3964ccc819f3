//! Benchmarks live in `benches/` (criterion) and `scripts/` (end-to-end); this library holds what the probes in `src/bin` share.

/// Pinning and cycle counting for the core-to-core probes (`c2c`, `xfer`).
pub mod cpu {
    #[cfg(not(target_arch = "x86_64"))]
    use std::time::Instant;

    /// Pin the calling thread to `cpu`.
    pub fn pin(cpu: usize) -> std::io::Result<()> {
        // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and sched_setaffinity only
        // read and write that local set.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// The time-stamp counter (a monotonic nanosecond count where there is none).
    pub fn tsc() -> u64 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: RDTSC has no preconditions.
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            use std::sync::OnceLock;
            static T0: OnceLock<Instant> = OnceLock::new();
            T0.get_or_init(Instant::now).elapsed().as_nanos() as u64
        }
    }
}
