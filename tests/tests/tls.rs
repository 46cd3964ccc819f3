//! OpenFlow over TLS against the real `dvs-switchd` (run `cargo build --workspace --bins`
//! first): `--check` names a bad TLS file by its key and line; a running switch serves
//! `ovs-ofctl` over `ssl:` on its `pssl:` listener only to holders of a certificate from the
//! configured CA; and `dvsctl switch reload` with other TLS files restarts the listener with
//! them (the old CA's clients are refused from then on); and with `--db`, a `pssl:` Controller
//! row waits for the `SSL` row (`ovs-vsctl set-ssl`). Certificates are made for the test by the
//! `openssl` command (`switchd/tests/of_tls/pki.rs`). Only the database test needs root (its
//! bridge's internal interface is a TAP device); without `openssl`, `ovs-ofctl` or
//! `ovsdb-server` the tests print why and pass.

#[path = "../../switchd/tests/of_tls/pki.rs"]
mod pki;

use pki::Pki;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;
use tests::ovsdb::{self, OvsDb};
use tests::{require_root, unique_tag, Switchd};

fn have_ofctl() -> bool {
    let ok = Command::new("ovs-ofctl").arg("--version").output().is_ok();
    if !ok {
        eprintln!("skipped: ovs-ofctl is not installed (apt-get install openvswitch-common)");
    }
    ok
}

/// The `[switch]` TLS keys for identity `name` (`<name>.key`, `<name>.crt`) and CA `ca`.
fn ssl_keys(pki: &Pki, name: &str, ca: &str) -> String {
    format!(
        "ssl_private_key = \"{}\"\nssl_certificate = \"{}\"\nssl_ca_cert = \"{}\"\n",
        pki.arg(&format!("{name}.key")),
        pki.arg(&format!("{name}.crt")),
        pki.arg(&format!("{ca}.crt"))
    )
}

/// A one-bridge config listening on `pssl:<port>` with the TLS keys `keys`.
fn config(keys: &str, port: u16) -> String {
    format!(
        "[switch]\npmd_cores = [0]\npool_frames = 256\n{keys}\n\
         [[bridge]]\nname = \"br0\"\ndatapath_id = \"0x5\"\nofp_listen = [\"pssl:{port}\"]\n\n\
         [[bridge.port]]\nname = \"p1\"\nkind = \"mock\"\n"
    )
}

/// `ovs-ofctl -O OpenFlow13 <cmd> ssl:127.0.0.1:<port> <args>` as identity `name` trusting
/// CA `ca`: (success, stdout + stderr).
fn ofctl(pki: &Pki, name: &str, ca: &str, port: u16, cmd: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", "--timeout=10"])
        .arg(format!("--private-key={}", pki.arg(&format!("{name}.key"))))
        .arg(format!("--certificate={}", pki.arg(&format!("{name}.crt"))))
        .arg(format!("--ca-cert={}", pki.arg(&format!("{ca}.crt"))))
        .arg(cmd)
        .arg(format!("ssl:127.0.0.1:{port}"))
        .args(args)
        .output()
        .expect("run ovs-ofctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A TCP port on loopback that nothing listens on right now.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn check_names_the_tls_setting_at_fault() {
    let Some(pki) = Pki::new("check") else {
        return;
    };
    let cfg = pki.path("switch.toml");
    let check = |text: &str| {
        std::fs::write(&cfg, text).expect("write config");
        let out = Command::new(tests::bin("dvs-switchd"))
            .args(["--check", "--config"])
            .arg(&cfg)
            .output()
            .expect("run dvs-switchd --check");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let good = config(&ssl_keys(&pki, "switch", "ca"), 6653);
    let (code, err) = check(&good);
    assert_eq!(code, Some(0), "{err}");
    // The CA file holds a key: refused, naming the key, its line and the file.
    let (code, err) = check(&good.replace("ca.crt", "ca.key"));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:6: switch.ssl_ca_cert: ", cfg.display()))
            && err.contains("no certificate"),
        "{err}"
    );
    // A pssl: listener without the files.
    let (code, err) = check(&config("", 6653));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("bridge[0].ofp_listen[0]: pssl:6653:127.0.0.1 needs the switch's TLS files"),
        "{err}"
    );
}

#[test]
fn the_daemon_serves_ovs_ofctl_over_ssl_and_reloads_its_tls_files() {
    let Some(pki) = Pki::new("daemon") else {
        return;
    };
    if !have_ofctl() {
        return;
    }
    let port = free_port();
    let mut sw = Switchd::start(&config(&ssl_keys(&pki, "switch", "ca"), port));
    let (ok, out) = ofctl(
        &pki,
        "client",
        "ca",
        port,
        "add-flow",
        &["priority=7,actions=drop"],
    );
    assert!(ok, "{out}");
    let (ok, out) = ofctl(&pki, "client", "ca", port, "dump-flows", &[]);
    assert!(ok && out.contains("priority=7 actions=drop"), "{out}");
    // A certificate from another CA is refused.
    let (ok, out) = ofctl(&pki, "rogue", "other-ca", port, "dump-flows", &[]);
    assert!(!ok, "{out}");

    // New TLS files (the other CA's world): the listener restarts with them.
    std::fs::write(
        sw.config_path(),
        config(&ssl_keys(&pki, "rogue", "other-ca"), port).replacen(
            "[switch]",
            &format!("[switch]\nrundir = \"{}\"", sw.dir.join("run").display()),
            1,
        ),
    )
    .expect("rewrite config");
    let (ok, out) = sw.dvsctl(&["switch", "reload"]);
    assert!(ok && out.contains("ofp_listen"), "{out}");
    let back = tests::wait_until(Duration::from_secs(5), || {
        ofctl(&pki, "rogue", "other-ca", port, "dump-flows", &[]).0
    });
    assert!(back, "{}", sw.log());
    let (ok, out) = ofctl(&pki, "rogue", "other-ca", port, "dump-flows", &[]);
    assert!(
        ok && out.contains("priority=7 actions=drop"),
        "flows stay: {out}"
    );
    let (ok, out) = ofctl(&pki, "client", "ca", port, "dump-flows", &[]);
    assert!(!ok, "the old CA's client is still admitted: {out}");
    assert!(sw.stop(), "{}", sw.log());
}

#[test]
fn the_database_ssl_table_serves_pssl_controllers() {
    let test = "the_database_ssl_table_serves_pssl_controllers";
    if !require_root(test) || !ovsdb::available(test) || !have_ofctl() {
        return;
    }
    let Some(pki) = Pki::new("db") else {
        return;
    };
    let db = OvsDb::start();
    let section = format!(
        "[switch]\npmd_cores = [{}]\npool_frames = 256\n",
        tests::lab::pmd_core()
    );
    let sw = Switchd::start_db(&section, &db.addr(), &db.dir);
    let br = format!("dvt{}", unique_tag());
    db.must(&[
        "add-br",
        &br,
        "--",
        "set",
        "bridge",
        &br,
        "datapath_type=netdev",
    ]);
    let port = free_port();
    // No SSL row yet: the target waits, with a warning saying what is missing.
    db.must(&["set-controller", &br, &format!("pssl:{port}:127.0.0.1")]);
    assert!(
        tests::wait_until(Duration::from_secs(5), || sw
            .log()
            .contains("ovs-vsctl set-ssl")),
        "{}",
        sw.log()
    );
    let (ok, out) = ofctl(&pki, "client", "ca", port, "show", &[]);
    assert!(!ok, "listening without TLS files: {out}");
    db.must(&[
        "set-ssl",
        &pki.arg("switch.key"),
        &pki.arg("switch.crt"),
        &pki.arg("ca.crt"),
    ]);
    let up = tests::wait_until(Duration::from_secs(5), || {
        ofctl(&pki, "client", "ca", port, "show", &[]).0
    });
    assert!(up, "{}", sw.log());
    let (ok, out) = ofctl(&pki, "rogue", "other-ca", port, "show", &[]);
    assert!(!ok, "{out}");
}
