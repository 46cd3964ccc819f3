//! Tests for what the config may not do to the switch: make it read a device, a FIFO or an
//! endless file (the config file itself and `flows_file`), put a bridge's management socket
//! outside the run directory through its name, or pass `--check` with flows that startup then
//! refuses ([`check`]).

use super::tests::{err, ok};
use super::*;
use std::path::PathBuf;

/// The error [`check`] gives for a config that loads.
fn check_err(text: &str) -> String {
    match check(&ok(text)) {
        Ok(()) => panic!("check accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// A scratch directory for one test, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("dvs-conf-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    /// A file `name` here with `text`; its path.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A sparse file `name` here of `len` zero bytes (costs no disk space); its path.
    fn sparse(&self, name: &str, len: u64) -> PathBuf {
        let p = self.0.join(name);
        std::fs::File::create(&p).unwrap().set_len(len).unwrap();
        p
    }

    /// A FIFO `name` here (nobody writes to it); its path.
    fn fifo(&self, name: &str) -> PathBuf {
        let p = self.0.join(name);
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_config_file_must_be_a_regular_file() {
    let s = Scratch::new("kind");
    let e = |p: &Path| load(p).unwrap_err().to_string();
    assert_eq!(
        e(Path::new("/dev/zero")),
        "/dev/zero: cannot read: not a regular file (a character device)"
    );
    assert_eq!(
        e(&s.0),
        format!(
            "{}: cannot read: not a regular file (a directory)",
            s.0.display()
        )
    );
    let fifo = s.fifo("switch.toml");
    assert_eq!(
        e(&fifo),
        format!(
            "{}: cannot read: not a regular file (a FIFO)",
            fifo.display()
        )
    );
}

#[test]
fn the_config_file_size_is_bounded() {
    let s = Scratch::new("size");
    let big = s.sparse("switch.toml", CONFIG_MAX_BYTES + 1);
    assert_eq!(
        load(&big).unwrap_err().to_string(),
        format!("{}: cannot read: file is larger than 4 MiB", big.display())
    );
    let bad = s.0.join("bad.toml");
    std::fs::write(&bad, b"[switch]\n\xff\n").unwrap();
    assert_eq!(
        load(&bad).unwrap_err().to_string(),
        format!("{}: cannot read: not UTF-8 text (byte 9)", bad.display())
    );
}

/// A config at `dir/switch.toml` with one bridge reading `flows_file = "<flows>"`; the error.
fn flows_file_error(s: &Scratch, flows: &Path) -> (PathBuf, String) {
    let text = format!(
        "[[bridge]]\nname = \"br0\"\nflows_file = \"{}\"\n",
        flows.display()
    );
    let cfg = s.file("switch.toml", &text);
    let e = load(&cfg).unwrap_err().to_string();
    (cfg, e)
}

#[test]
fn flows_file_must_be_a_regular_file() {
    let s = Scratch::new("flows-kind");
    let (cfg, e) = flows_file_error(&s, Path::new("/dev/zero"));
    assert_eq!(
        e,
        format!(
            "{}:3: bridge[0].flows_file: cannot read /dev/zero: not a regular file (a character device)",
            cfg.display()
        )
    );
    let fifo = s.fifo("flows.fifo");
    let (cfg, e) = flows_file_error(&s, &fifo);
    assert_eq!(
        e,
        format!(
            "{}:3: bridge[0].flows_file: cannot read {}: not a regular file (a FIFO)",
            cfg.display(),
            fifo.display()
        )
    );
    let (_, e) = flows_file_error(&s, &s.0);
    assert!(e.ends_with("not a regular file (a directory)"), "{e}");
}

#[test]
fn flows_file_size_is_bounded() {
    let s = Scratch::new("flows-size");
    let big = s.sparse("flows.txt", FLOWS_FILE_MAX_BYTES + 1);
    let (cfg, e) = flows_file_error(&s, &big);
    assert_eq!(
        e,
        format!(
            "{}:3: bridge[0].flows_file: cannot read {}: file is larger than 64 MiB",
            cfg.display(),
            big.display()
        )
    );
}

#[test]
fn bridge_names_stay_in_the_run_directory() {
    let named = |n: &str| err(&format!("[[bridge]]\nname = \"{n}\"\n"));
    assert_eq!(
        named("../escaped"),
        "switch.toml:2: bridge[0].name: bridge name \"../escaped\" contains '/' \
         (allowed: letters, digits, '_', '.', '-')"
    );
    assert_eq!(
        named(".."),
        "switch.toml:2: bridge[0].name: bridge name \"..\" must not start with '.' or '-'"
    );
    assert!(named(".").ends_with("must not start with '.' or '-'"));
    assert!(named("-br").ends_with("must not start with '.' or '-'"));
    assert!(named("/tmp/x").contains("contains '/'"));
    assert!(named(&"b".repeat(65)).ends_with("is longer than 64 bytes"));
    assert_eq!(
        ok("[[bridge]]\nname = \"br-int.1_x\"\n").bridges[0].name,
        "br-int.1_x"
    );
    // The management socket `<rundir>/<bridge>.mgmt` must fit a socket address.
    let rundir = format!("/run/{}", "d".repeat(50));
    let text = format!(
        "[switch]\nrundir = \"{rundir}\"\n[[bridge]]\nname = \"{}\"\n",
        "b".repeat(50)
    );
    assert_eq!(
        err(&text),
        format!(
            "switch.toml:4: bridge[0].name: management socket path {rundir}/{}.mgmt is longer \
             than 107 bytes",
            "b".repeat(50)
        )
    );
}

#[test]
fn port_and_interface_names_are_not_paths() {
    let port = |n: &str, kind: &str| {
        err(&format!(
            "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"{n}\"\nkind = \"{kind}\"\n"
        ))
    };
    assert_eq!(
        port("../x", "mock"),
        "switch.toml:4: bridge[0].port[0].name: port name \"../x\" contains '/' or is \".\" or \"..\""
    );
    assert!(port("..", "mock").contains("is \".\" or \"..\""));
    assert_eq!(
        port("p\\u0007", "mock"),
        "switch.toml:4: bridge[0].port[0].name: port name \"p\\u{7}\" contains whitespace or \
         a control character"
    );
    assert!(port(&"p".repeat(65), "mock").ends_with("is longer than 64 bytes"));
    let e = err(
        "[[bridge]]\nname = \"br0\"\n[[bridge.port]]\nname = \"p\"\nkind = \"tap\"\ninterface = \"..\"\n",
    );
    assert_eq!(
        e,
        "switch.toml:6: bridge[0].port[0].interface: interface name \"..\" is not a valid name"
    );
}

/// A one-bridge config with ports `p1` (ofport 1) and `p2`, and `flows`.
fn with_flows(bridge_extra: &str, flows: &[&str]) -> String {
    let list: Vec<String> = flows.iter().map(|f| format!("  \"{f}\",\n")).collect();
    format!(
        "[[bridge]]\nname = \"br0\"\n{bridge_extra}flows = [\n{}]\n\
         [[bridge.port]]\nname = \"p1\"\nkind = \"mock\"\n\
         [[bridge.port]]\nname = \"p2\"\nkind = \"mock\"\n",
        list.concat()
    )
}

#[test]
fn check_accepts_what_the_engine_builds() {
    let good = with_flows(
        "",
        &[
            "table=0,priority=100,in_port=p1,actions=output:p2",
            "table=0,priority=90,ip,nw_dst=10.0.0.5,actions=goto_table:1",
            "table=1,priority=0,actions=NORMAL",
        ],
    );
    assert_eq!(check(&ok(&good)).map_err(|e| e.to_string()), Ok(()));
    let secure = with_flows("fail_mode = \"secure\"\n", &["priority=1,actions=drop"]);
    assert_eq!(check(&ok(&secure)).map_err(|e| e.to_string()), Ok(()));
}

#[test]
fn check_refuses_flows_startup_refuses() {
    // Each bad flow is the second of the list (line 5 of the file).
    let second = |bad: &str| check_err(&with_flows("", &["priority=1,actions=drop", bad]));
    let e = second("priority=99999,actions=drop");
    assert!(e.starts_with("switch.toml:5: bridge[0].flows[1]: "), "{e}");
    assert!(e.contains("99999"), "{e}");
    let e = second("in_port=nosuch,actions=drop");
    assert!(e.starts_with("switch.toml:5: bridge[0].flows[1]: "), "{e}");
    assert!(e.contains("nosuch"), "{e}");
    let e = second("actions=output:nosuch");
    assert!(e.contains("nosuch"), "{e}");
    let e = second("priority=5,actions=group:7");
    assert_eq!(
        e,
        "switch.toml:5: bridge[0].flows[1]: group 7 does not exist"
    );
    let e = second("table=1,actions=goto_table:1");
    assert!(e.starts_with("switch.toml:5: bridge[0].flows[1]: "), "{e}");
}

#[test]
fn check_names_the_line_of_a_flows_file() {
    let s = Scratch::new("check-flows-file");
    s.file(
        "flows.txt",
        "# comment\npriority=1,actions=drop\npriority=70000,actions=drop\n",
    );
    let cfg = s.file(
        "switch.toml",
        "[[bridge]]\nname = \"br0\"\nflows_file = \"flows.txt\"\n",
    );
    let c = load(&cfg).expect("the file loads: flows are checked by check()");
    let e = check(&c).unwrap_err().to_string();
    let want = format!(
        "{}:3: bridge[0].flows_file: ",
        s.0.join("flows.txt").display()
    );
    assert!(e.starts_with(&want), "{e}");
    assert_eq!(load_checked(&cfg).unwrap_err().to_string(), e);
}
