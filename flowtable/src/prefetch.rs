//! A read prefetch hint, shared by the lookup tiers and the datapath's burst stages: with
//! thousands of flows their tables outgrow L1, and a burst that asks for every line it will read
//! before reading any of them pays those misses together.

/// Ask for the cache line holding `p` (a hint: any address is fine, nothing is read).
#[inline(always)]
pub fn read(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and changes no architectural state, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
