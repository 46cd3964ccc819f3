//! Config tests of the OpenFlow side of a bridge (controllers, fail mode, TLS files and targets)
//! and of ingress policing, with the exact messages asserted.

use super::build::parse_with_cores;
use super::tests::{err, ok, one_port, CORES};

use datapath::config::*;

#[test]
fn controllers_and_fail_mode() {
    let c = ok("[[bridge]]\nname = \"a\"\n");
    assert!(c.bridges[0].controllers.is_empty());
    assert_eq!(c.bridges[0].fail_mode, FailMode::Standalone);

    let c = ok(
        "[[bridge]]\nname = \"a\"\ncontrollers = [\"tcp:127.0.0.1:6633\", \
                \"tcp:[::1]\"]\nfail_mode = \"secure\"\n",
    );
    let b = &c.bridges[0];
    assert_eq!(
        b.controllers,
        vec![
            OfpController::Tcp("127.0.0.1:6633".parse().unwrap()),
            OfpController::Tcp(format!("[::1]:{DEFAULT_CONTROLLER_PORT}").parse().unwrap()),
        ]
    );
    assert_eq!(b.fail_mode, FailMode::Secure);
    // Serialized in the config spelling (what `dvsctl switch config` would show).
    let v = serde_json::to_value(b).unwrap();
    assert_eq!(v["controllers"][1], "tcp:[::1]:6653");
    assert_eq!(v["fail_mode"], "secure");

    // A bad target names the file, its line and the element.
    let e = err(
        "[[bridge]]\nname = \"a\"\ncontrollers = [\n  \"tcp:127.0.0.1:6653\",\n  \
                 \"tcp:controller.example:6653\",\n]\n",
    );
    assert!(
        e.starts_with("switch.toml:5: bridge[0].controllers[1]: bad address"),
        "{e}"
    );
    let e = err("[[bridge]]\nname = \"a\"\ncontrollers = [\"ptcp:6653\"]\n");
    assert!(
        e.starts_with("switch.toml:3: bridge[0].controllers[0]: unsupported controller target"),
        "{e}"
    );
    let e = err("[[bridge]]\nname = \"a\"\ncontrollers = [\"tcp:1.2.3.4:99999\"]\n");
    assert!(e.contains("controllers[0]: bad port"), "{e}");
    let e =
        err("[[bridge]]\nname = \"a\"\ncontrollers = [\"tcp:1.2.3.4\", \"tcp:1.2.3.4:6653\"]\n");
    assert!(
        e.contains("bridge[0].controllers[1]: controller tcp:1.2.3.4:6653 is already listed"),
        "{e}"
    );
    let e = err("[[bridge]]\nname = \"a\"\n\nfail_mode = \"open\"\n");
    assert!(
        e.starts_with("switch.toml:4: bridge[0].fail_mode: unknown fail_mode \"open\""),
        "{e}"
    );
    let e = err("[[bridge]]\nname = \"a\"\ncontrollers = \"tcp:1.2.3.4\"\n");
    assert!(e.contains("switch.toml:3: bridge[0].controllers"), "{e}");
}

#[test]
fn ingress_policing_keys() {
    let p = |extra: &str| ok(&one_port(extra)).bridges[0].ports[0].policing;
    assert_eq!(p(""), None);
    assert_eq!(p("ingress_policing_rate = 0\n"), None);
    assert_eq!(
        p("ingress_policing_rate = 1000\n"),
        Some(Policing {
            rate_kbps: 1000,
            burst_kb: Policing::DEFAULT_BURST_KB
        })
    );
    assert_eq!(
        p("ingress_policing_rate = 1000\ningress_policing_burst = 64\n"),
        Some(Policing {
            rate_kbps: 1000,
            burst_kb: 64
        })
    );
    let e = err(&one_port("ingress_policing_rate = -1\n"));
    assert!(e.contains("ingress_policing_rate"), "{e}");
}

#[test]
fn ssl_files_and_tls_targets() {
    let Some(pki) = crate::ofp::test_pki::Pki::new("conffile") else {
        return;
    };
    let path = pki.path("switch.toml");
    let parse = |text: &str| parse_with_cores(text, &path, CORES).map_err(|e| e.to_string());
    let at = |line: usize| format!("{}:{line}", path.display());
    let keys = "[switch]\nssl_private_key = \"switch.key\"\nssl_certificate = \"switch.crt\"\n\
                ssl_ca_cert = \"ca.crt\"\n";
    // Relative paths are relative to the config file's directory. A pssl: listener may bind
    // any address without remote_openflow: it admits only certificates from the CA.
    let c = parse(&format!(
        "{keys}[[bridge]]\nname = \"br0\"\nofp_listen = [\"pssl:6653:0.0.0.0\", \"ptcp:6654\"]\n\
         controllers = [\"ssl:127.0.0.1\", \"tcp:127.0.0.1\"]\n"
    ))
    .unwrap();
    let files = SslFiles {
        private_key: pki.path("switch.key"),
        certificate: pki.path("switch.crt"),
        ca_cert: pki.path("ca.crt"),
    };
    assert_eq!(c.switch.ssl, Some(files.clone()));
    let b = &c.bridges[0];
    assert_eq!(
        b.ofp_listen,
        [
            OfpListen::Pssl("0.0.0.0:6653".parse().unwrap(), Some(files.clone())),
            OfpListen::Ptcp("127.0.0.1:6654".parse().unwrap()),
        ]
    );
    assert_eq!(
        b.controllers,
        [
            OfpController::Ssl("127.0.0.1:6653".parse().unwrap(), Some(files.clone())),
            OfpController::Tcp("127.0.0.1:6653".parse().unwrap()),
        ]
    );
    let v = serde_json::to_value(b).unwrap();
    assert_eq!(v["ofp_listen"][0], "pssl:6653:0.0.0.0");
    assert_eq!(v["controllers"][0], "ssl:127.0.0.1:6653");
    // The keys alone are fine (checked all the same).
    assert_eq!(parse(keys).unwrap().switch.ssl, Some(files));

    // A TLS target needs the files.
    assert_eq!(
        err("[[bridge]]\nname = \"br0\"\nofp_listen = [\"pssl:6653\"]\n"),
        "switch.toml:3: bridge[0].ofp_listen[0]: pssl:6653:127.0.0.1 needs the switch's TLS \
         files: set [switch] ssl_private_key, ssl_certificate and ssl_ca_cert"
    );
    let e =
        err("[[bridge]]\nname = \"br0\"\n\ncontrollers = [\"tcp:10.0.0.1\", \"ssl:10.0.0.1\"]\n");
    assert!(
        e.starts_with("switch.toml:4: bridge[0].controllers[1]: ssl:10.0.0.1:6653 needs the switch's TLS files"),
        "{e}"
    );
    // A plain listener off loopback still needs remote_openflow.
    let e = parse(&format!(
        "{keys}[[bridge]]\nname = \"br0\"\nofp_listen = [\"ptcp:6653:0.0.0.0\"]\n"
    ))
    .unwrap_err();
    assert!(
        e.contains("ofp_listen[0]") && e.contains("remote_openflow"),
        "{e}"
    );

    // All three or none, each error at its line and key.
    assert_eq!(
        parse("[switch]\nmtu = 1500\nssl_certificate = \"switch.crt\"\nssl_ca_cert = \"ca.crt\"\n")
            .unwrap_err(),
        format!(
            "{}: switch.ssl_certificate: ssl_private_key, ssl_certificate and ssl_ca_cert go \
             together: ssl_private_key is missing",
            at(3)
        )
    );
    let e = parse(&keys.replace("\"ca.crt\"", "\"\"")).unwrap_err();
    assert_eq!(
        e,
        format!("{}: switch.ssl_ca_cert: must not be empty", at(4))
    );
    // A file that is not what its key says, or a key and certificate that do not belong
    // together: refused at load (startup, --check, reload) with the key and the file.
    std::fs::write(pki.path("garbage.pem"), "hello\n").unwrap();
    let e = parse(&keys.replace("ca.crt", "garbage.pem")).unwrap_err();
    assert_eq!(
        e,
        format!(
            "{}: switch.ssl_ca_cert: {}: no certificate in it (expected PEM \"BEGIN \
             CERTIFICATE\" blocks)",
            at(4),
            pki.path("garbage.pem").display()
        )
    );
    let e = parse(&keys.replace("switch.key", "garbage.pem")).unwrap_err();
    assert!(
        e.starts_with(&format!("{}: switch.ssl_private_key: ", at(2)))
            && e.contains("no private key"),
        "{e}"
    );
    let e = parse(&keys.replace("switch.crt", "client.crt")).unwrap_err();
    assert!(
        e.starts_with(&format!("{}: switch.ssl_certificate: ", at(3)))
            && e.contains("does not match the private key"),
        "{e}"
    );
    let e = parse(&keys.replace("switch.key", "nope.key")).unwrap_err();
    assert!(
        e.starts_with(&format!("{}: switch.ssl_private_key: ", at(2))) && e.contains("cannot read"),
        "{e}"
    );
}
