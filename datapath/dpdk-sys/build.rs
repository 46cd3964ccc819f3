//! Build script: find libdpdk with pkg-config, compile the C shim against the same flags, and run
//! bindgen over `csrc/wrapper.h` with a narrow allowlist (only what the dvs port calls), so the
//! generated file stays small and quick to compile.

use std::env;
use std::path::PathBuf;

fn main() {
    let lib = pkg_config::Config::new()
        .atleast_version("21.11")
        .probe("libdpdk")
        .expect("libdpdk not found by pkg-config (install libdpdk-dev)");

    // pkg-config's cflags carry more than include paths (`-include rte_config.h`, `-march=...`),
    // so pass them verbatim to both the C compiler and clang.
    let cflags = pkg_config::get_variable("libdpdk", "cflags").ok();
    let raw_cflags: Vec<String> = match cflags {
        Some(c) if !c.is_empty() => c.split_whitespace().map(String::from).collect(),
        _ => std::process::Command::new("pkg-config")
            .args(["--cflags", "libdpdk"])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
    };

    let mut cc = cc::Build::new();
    cc.file("csrc/shim.c")
        .include("csrc")
        .opt_level(2)
        .warnings(true);
    for f in &raw_cflags {
        cc.flag(f);
    }
    for p in &lib.include_paths {
        cc.include(p);
    }
    cc.compile("dvs_dpdk_shim");

    let mut b = bindgen::Builder::default()
        .header("csrc/wrapper.h")
        .clang_args(&raw_cflags)
        .clang_args(
            lib.include_paths
                .iter()
                .map(|p| format!("-I{}", p.display())),
        )
        .clang_arg("-Icsrc")
        .use_core()
        .layout_tests(false)
        .derive_default(true)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .generate_comments(false)
        // Layout-sensitive structs the Rust side never looks inside.
        .opaque_type("rte_mbuf")
        .opaque_type("rte_mempool")
        .opaque_type("rte_eth_dev")
        .opaque_type("rte_device")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for f in [
        "rte_eal_init",
        "rte_eal_cleanup",
        "rte_strerror",
        "rte_socket_id",
        "rte_thread_register",
        "rte_thread_unregister",
        "rte_dev_probe",
        "rte_dev_remove",
        "rte_eth_dev_get_port_by_name",
        "rte_eth_dev_info_get",
        "rte_eth_dev_socket_id",
        "rte_eth_dev_adjust_nb_rx_tx_desc",
        "rte_eth_dev_configure",
        "rte_eth_rx_queue_setup",
        "rte_eth_tx_queue_setup",
        "rte_eth_dev_start",
        "rte_eth_dev_stop",
        "rte_eth_dev_close",
        "rte_eth_dev_set_mtu",
        "rte_eth_promiscuous_enable",
        "rte_eth_link_get_nowait",
        "rte_eth_macaddr_get",
        "rte_eth_stats_get",
        "rte_eth_stats_reset",
        "rte_eth_xstats_get",
        "rte_eth_xstats_get_names",
        "rte_pktmbuf_pool_create",
        "rte_pktmbuf_free_bulk",
        "rte_mempool_free",
        "rte_mempool_avail_count",
        "rte_mempool_in_use_count",
        "dvs_.*",
    ] {
        b = b.allowlist_function(f);
    }
    for v in [
        "RTE_EAL_PMD_PATH",
        "RTE_VER_.*",
        "RTE_MAX_LCORE",
        "RTE_PKTMBUF_HEADROOM",
        "RTE_MBUF_DEFAULT_DATAROOM",
        "RTE_MEMPOOL_CACHE_MAX_SIZE",
        "RTE_ETH_LINK_UP",
        "RTE_ETH_LINK_DOWN",
        "RTE_ETH_MQ_RX_.*",
        "RTE_ETH_RSS_IP",
        "RTE_ETH_RSS_TCP",
        "RTE_ETH_RSS_UDP",
        "RTE_ETH_NAME_MAX_LEN",
        "RTE_ETH_XSTATS_NAME_SIZE",
        "RTE_ETHER_HDR_LEN",
        "RTE_ETHER_CRC_LEN",
        "SOCKET_ID_ANY",
    ] {
        b = b.allowlist_var(v);
    }
    let bindings = b.generate().expect("bindgen failed on csrc/wrapper.h");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("cannot write bindings.rs");

    println!("cargo:rerun-if-changed=csrc/wrapper.h");
    println!("cargo:rerun-if-changed=csrc/shim.h");
    println!("cargo:rerun-if-changed=csrc/shim.c");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
}
