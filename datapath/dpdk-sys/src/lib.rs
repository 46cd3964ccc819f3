//! Raw bindings to the distribution's DPDK (`libdpdk` via pkg-config, linked dynamically), for
//! the dvs DPDK port and nothing else.
//!
//! Two parts: bindgen output over an allowlist of the EAL, ethdev, mbuf and mempool calls the port
//! makes (kept narrow so the crate builds quickly), and `dvs_*` wrappers from a small C shim for
//! DPDK's static-inline fast path (`rte_eth_rx_burst`, `rte_pktmbuf_alloc_bulk`, mbuf accessors,
//! `rte_lcore_id`, `rte_errno`), which bindgen cannot bind. `struct rte_mbuf` and
//! `struct rte_mempool` are opaque on purpose: Rust only ever holds pointers to them and reads
//! mbuf fields through the shim, so a DPDK layout change cannot silently break us.
//!
//! Drivers are shared-object plugins in [`PMD_DIR`] (`RTE_EAL_PMD_PATH` from DPDK's build config).
//! A dynamically linked EAL loads every plugin from that directory at `rte_eal_init`, so `-d` is
//! only needed for drivers installed elsewhere.

#![allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code
)]
#![allow(clippy::all, clippy::undocumented_unsafe_blocks, missing_docs)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

/// The driver plugin directory EAL loads by default (`RTE_EAL_PMD_PATH`), without the NUL.
pub const PMD_DIR: &str = match std::str::from_utf8(RTE_EAL_PMD_PATH) {
    Ok(s) => trim_nul(s),
    Err(_) => "",
};

const fn trim_nul(s: &str) -> &str {
    match s.as_bytes().split_last() {
        Some((0, rest)) => match std::str::from_utf8(rest) {
            Ok(r) => r,
            Err(_) => s,
        },
        _ => s,
    }
}

/// `LCORE_ID_ANY`: what `dvs_lcore_id()` returns on a thread that is not an EAL lcore.
pub const LCORE_ID_ANY: u32 = u32::MAX;
