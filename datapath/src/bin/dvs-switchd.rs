//! `dvs-switchd --config switch.toml`: the user-mode switch daemon.
//!
//! Loads and validates the configuration, builds every port and table (nothing starts if anything
//! is wrong), starts the PMD threads (and the switch's housekeeping), the control socket and the
//! OpenFlow listeners (`<rundir>/<bridge>.mgmt`, `ofp_listen`), and runs until SIGTERM, SIGINT or
//! `dvsctl switch shutdown`. SIGHUP re-reads the configuration file and applies what changed, as
//! `dvsctl switch reload` does.

use clap::Parser;
use datapath::config;
use datapath::control::Control;
use datapath::ofp::OfpServer;
use datapath::rpc::RpcServer;
use datapath::switch::Switch;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(name = "dvs-switchd", version, about = "dvs user-mode virtual switch")]
struct Args {
    /// Configuration file (TOML).
    #[arg(long, short)]
    config: PathBuf,
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
    let desired = match config::load(&sw.config.path) {
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
    let args = Args::parse();
    let cfg = match config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dvs-switchd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!("dvs-switchd: {}: configuration OK", args.config.display());
        return ExitCode::SUCCESS;
    }
    install_signals();
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
    let sock = rundir.join("dvs-switchd.sock");
    let shutdown = Arc::new(AtomicBool::new(false));
    let server = match RpcServer::bind(&sock, Arc::new(Control::new(sw.clone(), shutdown.clone())))
    {
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
    ofp.shutdown();
    server.shutdown();
    sw.stop();
    ExitCode::SUCCESS
}
