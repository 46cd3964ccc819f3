//! Frames built by scapy (Debian's `python3-scapy`), for attack tests: the test writes the frame
//! as a scapy expression (`Ether(src=..)/IP(src=..)/UDP(sport=67)`), scapy serializes it
//! (checksums and lengths filled in as a real stack would) and the bytes come back to be sent
//! with [`crate::rawsock::RawSock`], so sending and capturing stay in Rust.
//!
//! Debian's scapy lives in the system Python (`/usr/bin/python3`), not in whatever `python3` comes
//! first on the PATH.

use std::process::Command;

/// The interpreter that has scapy.
pub const PYTHON: &str = "/usr/bin/python3";

/// Whether scapy can be imported (prints why a test skips when not).
pub fn available(test: &str) -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import scapy.all"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "skipping {test}: needs scapy ({PYTHON} with python3-scapy; setup.sh installs it)"
        );
    }
    ok
}

/// The bytes of the scapy packet expression `expr` (panics with scapy's error if it is wrong).
pub fn build(expr: &str) -> Vec<u8> {
    let script =
        format!("import sys\nfrom scapy.all import *\nsys.stdout.write(bytes({expr}).hex())\n");
    let out = Command::new(PYTHON)
        .args(["-c", &script])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "scapy could not build {expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hex = String::from_utf8_lossy(&out.stdout);
    (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex from scapy"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_an_arp_reply() {
        if !super::available("builds_an_arp_reply") {
            return;
        }
        let f = super::build(
            "Ether(src='02:00:00:00:00:01',dst='ff:ff:ff:ff:ff:ff')/ARP(op=2,psrc='10.0.0.9')",
        );
        assert_eq!(&f[12..14], &[0x08, 0x06]);
        assert_eq!(&f[28..32], &[10, 0, 0, 9], "ARP sender IP");
    }
}
