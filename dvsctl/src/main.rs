//! dvsctl: the command-line client of dvs-switchd's control socket and of dvsm's REST API.
//!
//! Deliberately thin: argument parsing, request building and output formatting live in
//! [`cli`] (unit tested); this file only connects, calls and prints. It depends on the
//! management API crate and dvsm's HTTP client only, so it links no DPDK. Exit status is 0 on
//! success and 1 with `dvsctl: <message>` on stderr for any failure.

mod cli;

use clap::Parser;
use cli::manager::{self, ManagerError, Reply, Request};
use cli::{format, manager_format, Cli, SwitchCmd, Top};
use dvsm::client::{Client, ClientError};
use std::process::ExitCode;
use switchd_api::rpc::{RpcClient, RpcClientError};

fn run(args: Cli) -> Result<String, String> {
    match &args.command {
        Top::Switch(cmd) => run_switch(&args, cmd),
        top => run_manager(&args, top),
    }
}

/// A manager command: REST calls to dvsm.
fn run_manager(args: &Cli, top: &Top) -> Result<String, String> {
    let env = std::env::var(manager::DVSM_ENV).ok();
    let url = manager::dvsm_url(args.dvsm.as_deref(), env.as_deref());
    let client = Client::new(url.clone());
    let mut call = |r: &Request| match client.call(r.method, &r.path, r.body.as_ref(), r.if_match) {
        Ok(resp) => Ok(Reply {
            status: resp.status,
            etag: resp.etag,
            body: resp.body,
        }),
        Err(e @ (ClientError::Connect { .. } | ClientError::BadUrl(_))) => {
            let message = match e {
                ClientError::Connect { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            Err(ManagerError::Unreachable {
                url: url.clone(),
                message,
            })
        }
        Err(e) => Err(ManagerError::Transport {
            url: url.clone(),
            message: e.to_string(),
        }),
    };
    let Some((kind, cmd)) = top.manager() else {
        // `dvsctl revision`.
        let outcome = manager::revision(&mut call).map_err(|e| e.to_string())?;
        return Ok(if args.json {
            manager_format::json(&outcome)
        } else {
            manager_format::revision_text(&outcome)
        });
    };
    let outcome = manager::execute(kind, cmd, &mut call).map_err(|e| e.to_string())?;
    if args.json {
        Ok(manager_format::json(&outcome))
    } else {
        manager_format::render(kind, cmd, &outcome).map_err(|e| e.to_string())
    }
}

/// A `switch` command: JSON-RPC to the local dvs-switchd.
fn run_switch(args: &Cli, cmd: &SwitchCmd) -> Result<String, String> {
    let env = std::env::var(cli::SOCKET_ENV).ok();
    let socket = cli::socket_path(args.socket.as_deref(), env.as_deref());
    let (method, params) = cli::request(cmd).map_err(|e| e.to_string())?;
    let mut client = RpcClient::connect(&socket).map_err(|e| e.to_string())?;
    let result = if matches!(cmd, SwitchCmd::DumpFlows { .. }) {
        // The switch answers a page at a time; dump-flows prints them all.
        cli::pages::all_flows(params, |p| {
            client.call(&method, p).map_err(|e| e.to_string())
        })?
    } else {
        match client.call(&method, params) {
            Ok(v) => v,
            // The switch may close the socket before its answer to a shutdown gets out.
            Err(RpcClientError::Closed) if *cmd == SwitchCmd::Shutdown => serde_json::json!({}),
            Err(e) => return Err(e.to_string()),
        }
    };
    if args.json {
        Ok(format::pretty(&result))
    } else {
        format::render(cmd, &result).map_err(|e| e.to_string())
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("dvsctl: {msg}");
            ExitCode::FAILURE
        }
    }
}
