//! `dvs-switchd --config switch.toml` or `dvs-switchd --db unix:/run/openvswitch/db.sock`: the
//! user-mode switch daemon.
//!
//! With `--config` it loads and validates the file, builds every port and table (nothing starts
//! if anything is wrong; `--check` makes every one of those checks but opening ports, flows
//! included, and exits), starts the PMD threads (and the switch's housekeeping), the control
//! socket and the OpenFlow listeners (`<rundir>/<bridge>.mgmt`, `ofp_listen`), and runs until
//! SIGTERM, SIGINT or `dvsctl switch shutdown`. SIGHUP re-reads the file and applies what
//! changed, as `dvsctl switch reload` does.
//!
//! With `--db` the bridges and ports come from the Open_vSwitch database instead (see
//! `switchd::dbfront`); `--config` may still give the `[switch]` section (it must then have no
//! bridges). The run directory defaults to the database socket's directory, so management
//! sockets sit where `ovs-ofctl br0` looks (`/run/openvswitch/br0.mgmt`). The database's
//! `other_config:pmd-cpu-mask`, `dpdk-init` and `dpdk-extra` are read once at start.

use clap::Parser;
use datapath::config::{self, SwitchConfig};
use datapath::switch::Switch;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switchd::conffile;
use switchd::control::Control;
use switchd::dbfront::model::Context;
use switchd::dbfront::DbFront;
use switchd::ofp::OfpServer;
use switchd_api::rpc::RpcServer;

#[derive(Parser)]
#[command(name = "dvs-switchd", version, about = "dvs user-mode virtual switch")]
struct Args {
    /// Configuration file (TOML); with --db, only its [switch] section.
    #[arg(long, short, required_unless_present = "db")]
    config: Option<PathBuf>,
    /// Take bridges and ports from this Open_vSwitch database (unix:PATH or tcp:HOST:PORT).
    #[arg(long)]
    db: Option<String>,
    /// Only validate the configuration and exit.
    #[arg(long)]
    check: bool,
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);
static HANGUP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGHUP {
        HANGUP.store(true, Ordering::Relaxed);
    } else {
        SIGNALLED.store(true, Ordering::Relaxed);
    }
}

/// SIGHUP: re-read the configuration file and apply the difference; the outcome goes to the log.
fn reload(sw: &Switch) {
    if let Some(db) = sw.database() {
        eprintln!("dvs-switchd: reload: bridges and ports come from the database {db}; ignored");
        return;
    }
    let desired = match conffile::load_checked(&sw.config.path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dvs-switchd: reload: {e}; nothing was changed");
            return;
        }
    };
    match datapath::reconfig::apply(sw, desired) {
        Ok(c) if c.is_empty() => eprintln!("dvs-switchd: reload: nothing changed"),
        Ok(c) => {
            for change in &c {
                eprintln!("dvs-switchd: reload: {}", change.describe());
            }
        }
        Err(e) => eprintln!("dvs-switchd: reload: {e}"),
    }
}

fn install_signals() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe; the sigaction
        // struct is fully initialised before use.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn main() -> ExitCode {
    // glibc gives threads their own malloc arenas, and every OpenFlow or control connection is a
    // new thread: a controller that reprograms 100k flows over fresh connections left each
    // generation in another arena (RSS 233 MB growing to 616 MB after four cycles; with two
    // arenas it stays within 20%). The PMDs allocate nothing on the packet path.
    // SAFETY: mallopt only tunes the allocator; no other thread exists yet.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, 2) };
    let args = Args::parse();
    let cfg = match (&args.config, &args.db) {
        (Some(path), db) => match conffile::load(path) {
            Ok(c) if db.is_some() && !c.bridges.is_empty() => {
                eprintln!(
                    "dvs-switchd: {}: with --db, bridges come from the database: the file may \
                     only have a [switch] section",
                    path.display()
                );
                return ExitCode::from(2);
            }
            Ok(c) => c,
            Err(e) => {
                eprintln!("dvs-switchd: {e}");
                return ExitCode::from(2);
            }
        },
        (None, Some(db)) => db_defaults(db),
        (None, None) => unreachable!("clap requires --config or --db"),
    };
    if args.check {
        // Everything startup checks short of opening ports: the bridges' flow tables too.
        if let Err(e) = conffile::check(&cfg) {
            eprintln!("dvs-switchd: {e}");
            return ExitCode::from(2);
        }
        match &args.config {
            Some(p) => println!("dvs-switchd: {}: configuration OK", p.display()),
            None => println!("dvs-switchd: configuration OK"),
        }
        return ExitCode::SUCCESS;
    }
    install_signals();
    // OpenFlow connections cost three descriptors each (see switchd::ofp's limits).
    if let Some((before, after)) = switchd::ofp::raise_nofile(65_536) {
        eprintln!("dvs-switchd: raised the open-file limit from {before} to {after}");
    }
    let mut cfg = cfg;
    let mut dpdk_initialized = false;
    if let Some(db) = &args.db {
        match startup_settings(db, &mut cfg) {
            Some(d) => dpdk_initialized = d,
            None => return ExitCode::SUCCESS,
        }
    }
    let rundir = cfg.switch.rundir.clone();
    let sw = match Switch::build(cfg) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("dvs-switchd: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&rundir) {
        eprintln!(
            "dvs-switchd: cannot create run directory {}: {e}",
            rundir.display()
        );
        return ExitCode::from(1);
    }
    let sock = rundir.join(switchd_api::SOCKET_NAME);
    let shutdown = Arc::new(AtomicBool::new(false));
    let gid = match switchd::access::socket_gid(sw.config.switch.socket_group.as_deref()) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("dvs-switchd: socket_group: {e}");
            return ExitCode::from(2);
        }
    };
    let control = Arc::new(Control::new(sw.clone(), shutdown.clone()));
    let server = match RpcServer::bind_shared(&sock, control, gid) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dvs-switchd: control socket {}: {e}", sock.display());
            return ExitCode::from(1);
        }
    };
    if let Err(e) = sw.start() {
        eprintln!("dvs-switchd: {e}");
        server.shutdown();
        sw.stop();
        return ExitCode::from(1);
    }
    let ofp = match OfpServer::start(&sw) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("dvs-switchd: OpenFlow: {e}");
            server.shutdown();
            sw.stop();
            return ExitCode::from(1);
        }
    };
    let dbfront = match &args.db {
        None => None,
        Some(db) => {
            sw.set_database(db);
            let ctx = Context {
                switch: sw.config.switch.clone(),
                vhost_dir: rundir.clone(),
                dpdk_initialized,
            };
            match DbFront::start(sw.clone(), db.clone(), ctx) {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!("dvs-switchd: database thread: {e}");
                    ofp.shutdown();
                    server.shutdown();
                    sw.stop();
                    return ExitCode::from(1);
                }
            }
        }
    };
    eprintln!(
        "dvs-switchd: running: {} bridge(s), {} port(s), {} pmd(s); control socket {}",
        sw.bridges().len(),
        sw.ports.load().ports.len(),
        sw.config.switch.pmd_cores.len(),
        sock.display()
    );
    while !SIGNALLED.load(Ordering::Relaxed) && !shutdown.load(Ordering::Relaxed) {
        if HANGUP.swap(false, Ordering::Relaxed) {
            reload(&sw);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("dvs-switchd: stopping");
    if let Some(f) = dbfront {
        f.shutdown();
    }
    ofp.shutdown();
    server.shutdown();
    sw.stop();
    ExitCode::SUCCESS
}

/// The switch-wide settings without a file: the run directory is the database socket's
/// directory (where OVS keeps `<bridge>.mgmt` and vhost-user sockets).
fn db_defaults(db: &str) -> SwitchConfig {
    let mut c = conffile::defaults();
    if let Some(dir) = db.strip_prefix("unix:").and_then(|p| Path::new(p).parent()) {
        if !dir.as_os_str().is_empty() {
            c.switch.rundir = dir.to_path_buf();
        }
    }
    c.switch.pmd_cores = vec![config::usable_cores().first().copied().unwrap_or(0)];
    c
}

/// Read the database's start-time settings (`other_config:pmd-cpu-mask`, `dpdk-init`,
/// `dpdk-extra`) into `cfg`, waiting for the database as ovs-vswitchd does, and start DPDK if
/// asked. Returns whether DPDK is up; `None` when a signal came first.
fn startup_settings(db: &str, cfg: &mut SwitchConfig) -> Option<bool> {
    let mut logged = false;
    let oc = loop {
        if SIGNALLED.load(Ordering::Relaxed) {
            return None;
        }
        let select = serde_json::json!({"op": "select", "table": "Open_vSwitch", "where": [],
                                          "columns": ["other_config"]});
        let got = ovsdb::Client::connect(db)
            .and_then(|c| c.transact(switchd::dbfront::status::DB, &[select]));
        match got {
            Ok(r) => {
                break r[0]["rows"]
                    .get(0)
                    .map(|row| ovsdb::datum::str_map(&row["other_config"]))
                    .unwrap_or_default()
            }
            Err(e) => {
                if !logged {
                    eprintln!("dvs-switchd: database {db}: {e}; waiting for it");
                    logged = true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    if let Some(mask) = oc.get("pmd-cpu-mask") {
        let usable = config::usable_cores();
        let bits = u128::from_str_radix(mask.trim_start_matches("0x"), 16).unwrap_or(0);
        let cores: Vec<usize> = (0..128)
            .filter(|c| bits >> c & 1 == 1 && usable.contains(c))
            .collect();
        if cores.is_empty() {
            eprintln!(
                "dvs-switchd: database: other_config:pmd-cpu-mask {mask} names no usable core; \
                 PMDs on {:?}",
                cfg.switch.pmd_cores
            );
        } else {
            cfg.switch.pmd_cores = cores;
        }
    }
    if let Some(extra) = oc.get("dpdk-extra") {
        cfg.switch.dpdk_eal_args = extra.split_whitespace().map(str::to_string).collect();
    }
    let init = oc.get("dpdk-init").map(String::as_str);
    if matches!(init, Some("true" | "try")) {
        match datapath::switch::start_dpdk(&cfg.switch) {
            Ok(()) => return Some(true),
            Err(e) => eprintln!("dvs-switchd: database: dpdk-init: {e}; dpdk interfaces will fail"),
        }
    }
    Some(false)
}
