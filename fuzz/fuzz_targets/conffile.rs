//! Fuzz the switch config file: `switchd::conffile::parse` (TOML, then the whole validation and
//! defaulting pass) on arbitrary text, then `conffile::check` (the engine's flow checks, which
//! build each bridge's tables in memory) on whatever parses, and the rendering of every error
//! (which maps byte spans back to lines, so it must be safe on any text).
//!
//! The path names a directory that does not exist, so relative `flows_file` and TLS paths fail
//! to read instead of touching real files.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent/dvs-fuzz/switch.toml");
    match switchd::conffile::parse(text, path) {
        Ok(cfg) => {
            if let Err(e) = switchd::conffile::check(&cfg) {
                let _ = e.to_string();
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
