//! dvsctl: the command-line client of dvs-switchd's control socket.
//!
//! Deliberately thin: argument parsing, request building and output formatting live in
//! [`cli`] (unit tested); this file only connects, calls and prints. It depends on the
//! management API crate only, so it links no DPDK. Exit status is 0 on
//! success and 1 with `dvsctl: <message>` on stderr for any failure.

mod cli;

use clap::Parser;
use cli::{format, Cli, SwitchCmd, Top};
use std::process::ExitCode;
use switchd_api::rpc::{RpcClient, RpcClientError};

fn run(args: Cli) -> Result<String, String> {
    let Top::Switch(cmd) = &args.command;
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
