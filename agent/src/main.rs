//! `dvs-agent --dvsm HOST:PORT --host NAME (--token T | --token-file F) --ovsdb unix:PATH
//! [--rundir DIR] [--tls-ca F] [--tls-name N]`: the per-host agent.
//!
//! Two threads: the dvsm session (`agent::session`) and the reconciler (`agent::reconcile`),
//! sharing `agent::state::State`. The process holds nothing the switch needs, so it has no
//! shutdown work: SIGTERM/SIGINT just exit, and `kill -9` is as good.

use agent::{reconcile, session, state::State};
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(name = "dvs-agent", version, about = "dvs per-host agent")]
struct Args {
    /// dvsm's agent listener, HOST:PORT.
    #[arg(long)]
    dvsm: String,
    /// This host's name, as created in dvsm.
    #[arg(long)]
    host: String,
    /// The host's token.
    #[arg(long, conflicts_with = "token_file")]
    token: Option<String>,
    /// A file holding the host's token.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The Open_vSwitch database (unix:PATH or tcp:HOST:PORT).
    #[arg(long)]
    ovsdb: String,
    /// dvs-switchd's run directory (default: the database socket's directory).
    #[arg(long)]
    rundir: Option<PathBuf>,
    /// CA certificate (PEM) to verify dvsm with; enables TLS.
    #[arg(long)]
    tls_ca: Option<PathBuf>,
    /// Name to verify dvsm's certificate against (default: the host part of --dvsm).
    #[arg(long, requires = "tls_ca")]
    tls_name: Option<String>,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

fn main() -> ExitCode {
    let args = Args::parse();
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(f)) => match std::fs::read_to_string(f) {
            Ok(t) => t.trim().to_string(),
            Err(e) => {
                eprintln!("dvs-agent: --token-file {}: {e}", f.display());
                return ExitCode::from(2);
            }
        },
        (None, None) => {
            eprintln!("dvs-agent: one of --token or --token-file is required");
            return ExitCode::from(2);
        }
    };
    let rundir = match args.rundir.clone().or_else(|| {
        args.ovsdb
            .strip_prefix("unix:")
            .and_then(|p| Path::new(p).parent())
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
    }) {
        Some(d) => d,
        None => {
            eprintln!("dvs-agent: --rundir is required when --ovsdb is not unix:PATH");
            return ExitCode::from(2);
        }
    };
    if let Some(ca) = &args.tls_ca {
        if let Err(e) = session::tls_config(ca) {
            eprintln!("dvs-agent: --tls-ca: {e}");
            return ExitCode::from(2);
        }
    }
    // SAFETY: installing a handler that only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    agent::log!(
        "starting (version {}): dvsm {}, host {}, database {}, run directory {}",
        agent::VERSION,
        args.dvsm,
        args.host,
        args.ovsdb,
        rundir.display()
    );
    let state = Arc::new(State::default());
    let rcfg = reconcile::Config {
        ovsdb: args.ovsdb.clone(),
        rundir,
    };
    let st = state.clone();
    let rec = match std::thread::Builder::new()
        .name("reconcile".into())
        .spawn(move || reconcile::run(rcfg, st, &STOP))
    {
        Ok(h) => h,
        Err(e) => {
            eprintln!("dvs-agent: cannot start the reconciler: {e}");
            return ExitCode::FAILURE;
        }
    };
    let scfg = session::Config {
        dvsm: args.dvsm,
        host: args.host,
        token,
        tls_ca: args.tls_ca,
        tls_name: args.tls_name,
    };
    session::run(&scfg, &state, &STOP);
    let _ = rec.join();
    agent::log!("stopped (the switch keeps forwarding)");
    ExitCode::SUCCESS
}
