//! Generates the libxdp/libbpf bindings with bindgen against the system headers found through
//! pkg-config, and emits the link lines for both libraries.
//!
//! The allowlist is deliberately tight: the AF_XDP socket and UMEM calls, the libxdp program
//! load/attach/detach calls, the two libbpf map calls the port needs, and the `XDP_*` / `XSK_*`
//! constants and uapi structs they use. Everything else in those headers stays unbound so a newer
//! distribution header cannot silently change our surface. The static-inline ring helpers of
//! `xsk.h` have no symbol to bind; `src/ring.rs` implements them in Rust.

use std::env;
use std::path::PathBuf;

const FUNCTIONS: &[&str] = &[
    "xsk_umem__create",
    "xsk_umem__delete",
    "xsk_umem__fd",
    "xsk_socket__create",
    "xsk_socket__delete",
    "xsk_socket__fd",
    "xsk_socket__update_xskmap",
    "xdp_program__find_file",
    "xdp_program__attach",
    "xdp_program__detach",
    "xdp_program__close",
    "xdp_program__bpf_obj",
    "xdp_program__is_attached",
    "xdp_program__name",
    "libxdp_get_error",
    "libxdp_strerror",
    "bpf_object__find_map_by_name",
    "bpf_map__fd",
    "bpf_map__max_entries",
    "bpf_map__set_max_entries",
];

const TYPES: &[&str] = &[
    "xsk_ring_prod",
    "xsk_ring_cons",
    "xsk_umem_config",
    "xsk_socket_config",
    "xdp_desc",
    "xdp_options",
    "xdp_statistics",
    "xdp_attach_mode",
    "xdp_umem_reg",
    "sockaddr_xdp",
];

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=build.rs");

    let mut include_paths = Vec::new();
    for lib in ["libxdp", "libbpf"] {
        match pkg_config::Config::new().probe(lib) {
            Ok(l) => include_paths.extend(l.include_paths),
            Err(e) => panic!(
                "xdp-sys: pkg-config cannot find {lib} (install libxdp-dev, libbpf-dev): {e}"
            ),
        }
    }

    let mut b = bindgen::Builder::default()
        .header("wrapper.h")
        .use_core()
        .derive_default(true)
        .layout_tests(true)
        .prepend_enum_name(false)
        .default_enum_style(bindgen::EnumVariation::Consts)
        .allowlist_var("XDP_.*")
        .allowlist_var("XSK_.*")
        .allowlist_var("SOL_XDP")
        // Opaque handles: never look inside.
        .opaque_type("xsk_umem")
        .opaque_type("xsk_socket")
        .opaque_type("xdp_program")
        .opaque_type("bpf_object")
        .opaque_type("bpf_map")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for f in FUNCTIONS {
        b = b.allowlist_function(f);
    }
    for t in TYPES {
        b = b.allowlist_type(t);
    }
    for p in &include_paths {
        b = b.clang_arg(format!("-I{}", p.display()));
    }
    let bindings = b
        .generate()
        .unwrap_or_else(|e| panic!("xdp-sys: bindgen failed on wrapper.h: {e}"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("xdp-sys: cannot write bindings.rs");
}
