//! A throwaway PKI for the TLS tests, made with the `openssl` command (Debian's
//! `openvswitch-common` depends on it, so it is there wherever `ovs-ofctl` is): a CA with a
//! switch and a client certificate, and a second CA with a "rogue" certificate that the first
//! CA's holders must refuse. EC P-256 keys, valid for 30 days, certificates usable for both TLS
//! server and client authentication (the switch is a server on `pssl:` and a client on `ssl:`).
//!
//! Shared by the unit tests (`ofp::test_pki`) and the end-to-end ones (`tests/of_tls.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The files of one test PKI, in a directory of their own.
pub struct Pki {
    /// Where the files are: `ca.crt`, `switch.key`, `switch.crt`, `client.key`, `client.crt`,
    /// `other-ca.crt`, `rogue.key`, `rogue.crt` (and the CAs' keys).
    pub dir: PathBuf,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Extensions of a leaf certificate.
const LEAF_EXT: &str = "basicConstraints=CA:FALSE\n\
                        keyUsage=critical,digitalSignature\n\
                        extendedKeyUsage=serverAuth,clientAuth\n\
                        subjectAltName=IP:127.0.0.1\n";

/// Run `openssl` in `dir` with the whitespace-separated arguments `args`.
fn openssl(dir: &Path, args: &str) -> Result<(), String> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args.split_whitespace())
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {args} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Pki {
    /// Make the PKI in a new temporary directory named after `tag`. `None`, with the reason
    /// printed, when the `openssl` command is not installed (the caller's test then passes
    /// without running, as the other tests do without their tools).
    pub fn new(tag: &str) -> Option<Pki> {
        if Command::new("openssl").arg("version").output().is_err() {
            eprintln!("skipped: the openssl command is not installed (apt-get install openssl)");
            return None;
        }
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("dvs-pki-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pki dir");
        std::fs::write(dir.join("leaf.ext"), LEAF_EXT).expect("leaf.ext");
        let pki = Pki { dir };
        pki.ca("ca").expect("CA");
        pki.leaf("switch", "ca", 1).expect("switch certificate");
        pki.leaf("client", "ca", 2).expect("client certificate");
        pki.ca("other-ca").expect("second CA");
        pki.leaf("rogue", "other-ca", 3).expect("rogue certificate");
        Some(pki)
    }

    /// The path of `file` in the PKI's directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The path of `file` as a string.
    pub fn arg(&self, file: &str) -> String {
        self.path(file).display().to_string()
    }

    /// A self-signed CA: `<name>.key`, `<name>.crt`.
    fn ca(&self, name: &str) -> Result<(), String> {
        openssl(
            &self.dir,
            &format!(
                "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                 -keyout {name}.key -out {name}.crt -days 30 -subj /CN=dvs-test-{name} \
                 -addext basicConstraints=critical,CA:TRUE \
                 -addext keyUsage=critical,keyCertSign,cRLSign"
            ),
        )
    }

    /// A key and a certificate signed by CA `ca`: `<name>.key`, `<name>.crt`.
    fn leaf(&self, name: &str, ca: &str, serial: u32) -> Result<(), String> {
        openssl(
            &self.dir,
            &format!(
                "req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
                 -keyout {name}.key -out {name}.csr -subj /CN=dvs-test-{name}"
            ),
        )?;
        openssl(
            &self.dir,
            &format!(
                "x509 -req -in {name}.csr -CA {ca}.crt -CAkey {ca}.key -set_serial {serial} \
                 -days 30 -extfile leaf.ext -out {name}.crt"
            ),
        )
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
