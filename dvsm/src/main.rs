//! The `dvsm` binary: parse the command line, open the store, bind the REST and agent
//! listeners, print `listening api=ADDR agents=ADDR` once both are bound (tests bind port 0
//! and read the real ports from that line), and serve until killed. Every write is durable
//! when acknowledged, so there is no shutdown sequence: `kill -9` loses nothing.

use clap::Parser;
use dvsm::agents::{self, AgentConfig};
use dvsm::log;
use dvsm::state::State;
use dvsm::store::RedbStore;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "dvsm",
    version,
    about = "The DVS manager: REST API, store, agent sessions"
)]
struct Args {
    /// The store file (created if missing).
    #[arg(long)]
    db: PathBuf,
    /// REST API address.
    #[arg(long, default_value = "127.0.0.1:6681")]
    api: String,
    /// Agent listener address.
    #[arg(long, default_value = "0.0.0.0:6680")]
    agents: String,
    /// PEM certificate chain: makes the agent listener TLS (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key (needs --tls-cert).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// REST worker threads.
    #[arg(long, default_value_t = 4)]
    api_workers: usize,
    /// Close an agent session after this many milliseconds of silence.
    #[arg(long, default_value_t = proto::wire::SILENT_AFTER_MS, hide = true)]
    agent_silence_ms: u64,
}

fn run(args: Args) -> Result<(), String> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(dvsm::tls::server_config(c, k)?),
        _ => None,
    };
    let store = RedbStore::open(&args.db).map_err(|e| e.to_string())?;
    let state = Arc::new(State::open(Box::new(store)).map_err(|e| e.to_string())?);
    let api_l = TcpListener::bind(&args.api)
        .map_err(|e| format!("cannot listen for the API on {}: {e}", args.api))?;
    let agents_l = TcpListener::bind(&args.agents)
        .map_err(|e| format!("cannot listen for agents on {}: {e}", args.agents))?;
    let api_addr = api_l.local_addr().map_err(|e| e.to_string())?;
    let agents_addr = agents_l.local_addr().map_err(|e| e.to_string())?;
    if tls.is_none() && !agents::is_loopback(&agents_addr) {
        log!(
            "warning: agents connect over plain TCP on {agents_addr}: tokens and state travel \
             unencrypted; use --tls-cert/--tls-key"
        );
    }
    let server = tiny_http::Server::from_listener(api_l, None)
        .map_err(|e| format!("cannot serve the API: {e}"))?;
    let cfg = AgentConfig {
        silent_after: Duration::from_millis(args.agent_silence_ms),
        tls,
        ..AgentConfig::default()
    };
    {
        let state = state.clone();
        std::thread::Builder::new()
            .name("dvsm-agents".into())
            .spawn(move || agents::serve(agents_l, state, cfg))
            .map_err(|e| e.to_string())?;
    }
    let workers = dvsm::api::serve(Arc::new(server), state.clone(), args.api_workers);
    log!(
        "store {} at revision {} with {} objects",
        args.db.display(),
        state.revision(),
        state.model().len()
    );
    log!("listening api={api_addr} agents={agents_addr}");
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
