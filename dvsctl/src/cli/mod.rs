//! `dvsctl`: command-line arguments, the RPC request each command makes, and its output.
//!
//! The binary is a thin shell around this module so that everything but the socket I/O is unit
//! tested: [`Cli`] is the clap definition, [`request`] maps a command to its JSON-RPC method and
//! params (reading `add-flows` files client-side), [`pages::all_flows`] follows `flow/dump`'s
//! pages to the end for `dump-flows`, and [`format::render`] turns a result into the
//! text a person expects, modelled on the OVS tools people already know (`ovs-vsctl show`,
//! `ovs-ofctl dump-ports`, `ovs-appctl fdb/show`, `dpif-netdev/pmd-stats-show`).
//!
//! The manager commands (`dvsctl host|dvs|uplink|portgroup|secgroup|port <verb>`) talk REST to
//! dvsm instead: [`manager`] turns their arguments into requests and [`manager_format`] renders
//! dvsm's answers.

pub mod format;
pub mod manager;
pub mod manager_format;
pub mod pages;
mod vhost_state;

use clap::{Parser, Subcommand};
use manager::{Kind, ObjCmd};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Environment variable naming the control socket.
pub const SOCKET_ENV: &str = "DVS_SOCKET";

/// Why a command could not be turned into a request.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The flows file could not be read.
    #[error("{}: {source}", path.display())]
    ReadFlows {
        /// The file (`-` for standard input).
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `switch call` params were not valid JSON.
    #[error("params are not valid JSON: {0}")]
    BadJson(serde_json::Error),
    /// `del-flows` without a match, which would delete every flow, without `--all`.
    #[error(
        "del-flows {bridge} without a MATCH would delete every flow of {bridge}; \
         pass --all to do that"
    )]
    DeleteAllNeedsAll {
        /// The bridge.
        bridge: String,
    },
}

/// dvsctl: control a running dvs-switchd.
#[derive(Debug, Parser)]
#[command(name = "dvsctl", version, about)]
pub struct Cli {
    /// Control socket of dvs-switchd (default: $DVS_SOCKET, else /run/dvs/dvs-switchd.sock).
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Print the raw JSON result instead of formatted text.
    #[arg(long, global = true)]
    pub json: bool,
    /// dvsm's API URL for the manager commands (default: $DVSM_URL, else
    /// http://127.0.0.1:6681).
    #[arg(long, global = true, value_name = "URL")]
    pub dvsm: Option<String>,
    /// What to control.
    #[command(subcommand)]
    pub command: Top,
}

/// Top-level command groups.
#[derive(Debug, Subcommand)]
pub enum Top {
    /// A local dvs-switchd.
    #[command(subcommand)]
    Switch(SwitchCmd),
    /// Compute hosts (dvsm).
    #[command(subcommand)]
    Host(ObjCmd),
    /// Distributed virtual switches (dvsm).
    #[command(subcommand)]
    Dvs(ObjCmd),
    /// Uplinks: a host's NIC or bond into a DVS (dvsm).
    #[command(subcommand)]
    Uplink(ObjCmd),
    /// Port groups: VLAN, QoS and security settings VM ports share (dvsm).
    #[command(subcommand)]
    Portgroup(ObjCmd),
    /// Security groups (dvsm).
    #[command(subcommand)]
    Secgroup(ObjCmd),
    /// VM ports (dvsm).
    #[command(subcommand)]
    Port(ObjCmd),
    /// dvsm's current revision (of its whole store).
    Revision,
}

impl Top {
    /// The object command: its kind and verb (`None` for `switch` and `revision`).
    pub fn manager(&self) -> Option<(Kind, &ObjCmd)> {
        match self {
            Top::Switch(_) | Top::Revision => None,
            Top::Host(c) => Some((Kind::Host, c)),
            Top::Dvs(c) => Some((Kind::Dvs, c)),
            Top::Uplink(c) => Some((Kind::Uplink, c)),
            Top::Portgroup(c) => Some((Kind::PortGroup, c)),
            Top::Secgroup(c) => Some((Kind::SecGroup, c)),
            Top::Port(c) => Some((Kind::Port, c)),
        }
    }
}

/// `dvsctl switch ...`.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum SwitchCmd {
    /// Show bridges, ports and PMD threads.
    Show,
    /// Port counters (all bridges, or one).
    Ports {
        /// Only this bridge.
        bridge: Option<String>,
    },
    /// Drop counters by reason (with --ports, also each port's drops as the ingress port).
    Drops {
        /// Add a per-port breakdown by reason.
        #[arg(long)]
        ports: bool,
    },
    /// PMD thread statistics.
    PmdStats,
    /// Each PMD's current megaflows (wildcarded cache entries), like `ovs-appctl
    /// dpctl/dump-flows`.
    Megaflows {
        /// Most megaflows per PMD.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Which PMD polls which receive queue.
    RxqShow,
    /// Move a receive queue to another PMD.
    RxqAssign {
        /// Port name.
        port: String,
        /// Queue number.
        queue: u32,
        /// PMD id.
        pmd: u32,
    },
    /// Print a bridge's flows.
    DumpFlows {
        /// Bridge name.
        bridge: String,
        /// Only this table.
        #[arg(long)]
        table: Option<u8>,
    },
    /// Add one flow (ovs-ofctl syntax).
    AddFlow {
        /// Bridge name.
        bridge: String,
        /// The flow.
        flow: String,
    },
    /// Add the flows in FILE (one per line, `#` comments; `-` = stdin), all or nothing.
    AddFlows {
        /// Bridge name.
        bridge: String,
        /// The flows file.
        file: PathBuf,
    },
    /// Modify the actions of matching flows.
    ModFlows {
        /// Bridge name.
        bridge: String,
        /// Match and new actions.
        flow: String,
        /// Match priority and fields exactly.
        #[arg(long)]
        strict: bool,
    },
    /// Delete matching flows (every flow with --all instead of MATCH).
    DelFlows {
        /// Bridge name.
        bridge: String,
        /// Which flows.
        #[arg(value_name = "MATCH")]
        matches: Option<String>,
        /// Match priority and fields exactly.
        #[arg(long)]
        strict: bool,
        /// Delete every flow of the bridge (needed when there is no MATCH).
        #[arg(long, conflicts_with_all = ["matches", "strict"])]
        all: bool,
    },
    /// Print a bridge's learned MAC table.
    DumpMacs {
        /// Bridge name.
        bridge: String,
    },
    /// Forget every learned MAC of a bridge.
    MacFlush {
        /// Bridge name.
        bridge: String,
    },
    /// Show how the bridge would handle a packet described as a flow match.
    Trace {
        /// Bridge name.
        bridge: String,
        /// The packet, e.g. `in_port=vm1,dl_src=...,ip,nw_dst=10.0.0.5`.
        flow: String,
    },
    /// Re-read the configuration file and apply what changed, while running (all or nothing).
    Reload {
        /// Only say what would change (and what would need a restart).
        #[arg(long)]
        dry_run: bool,
    },
    /// Stop the switch.
    Shutdown,
    /// Call any RPC method and print its JSON result.
    Call {
        /// Method name.
        method: String,
        /// Params as JSON (default `{}`).
        params: Option<String>,
    },
}

/// The socket to use: `--socket`, else `$DVS_SOCKET` (if non-empty), else the default.
pub fn socket_path(flag: Option<&Path>, env: Option<&str>) -> PathBuf {
    match (flag, env) {
        (Some(p), _) => p.to_path_buf(),
        (None, Some(e)) if !e.is_empty() => PathBuf::from(e),
        _ => PathBuf::from(switchd_api::DEFAULT_SOCKET),
    }
}

/// The flows in a flows file's text: one per line, blank lines and `#` lines skipped.
pub fn flow_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The text of a file, or of standard input for `-`.
pub fn read_input(path: &Path) -> std::io::Result<String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
    }
}

fn read_flows(path: &Path) -> Result<Vec<String>, CliError> {
    let text = read_input(path).map_err(|source| CliError::ReadFlows {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(flow_lines(&text))
}

/// The JSON-RPC method and params for `cmd`.
pub fn request(cmd: &SwitchCmd) -> Result<(String, Value), CliError> {
    let (method, params) = match cmd {
        SwitchCmd::Show => ("switch/show", json!({})),
        SwitchCmd::Ports { bridge: None } => ("port/stats", json!({})),
        SwitchCmd::Ports { bridge: Some(b) } => ("port/stats", json!({ "bridge": b })),
        SwitchCmd::Drops { ports: false } => ("drop/stats", json!({})),
        SwitchCmd::Drops { ports: true } => ("port/drops", json!({})),
        SwitchCmd::PmdStats => ("pmd/stats", json!({})),
        SwitchCmd::RxqShow => ("pmd/rxq-show", json!({})),
        SwitchCmd::Megaflows { limit } => ("pmd/megaflows", json!({ "limit": limit })),
        SwitchCmd::RxqAssign { port, queue, pmd } => (
            "pmd/rxq-assign",
            json!({ "port": port, "queue": queue, "pmd": pmd }),
        ),
        SwitchCmd::DumpFlows {
            bridge,
            table: None,
        } => ("flow/dump", json!({ "bridge": bridge })),
        SwitchCmd::DumpFlows {
            bridge,
            table: Some(t),
        } => ("flow/dump", json!({ "bridge": bridge, "table": t })),
        SwitchCmd::AddFlow { bridge, flow } => {
            ("flow/add", json!({ "bridge": bridge, "flow": flow }))
        }
        SwitchCmd::AddFlows { bridge, file } => (
            "flow/add",
            json!({ "bridge": bridge, "flows": read_flows(file)? }),
        ),
        SwitchCmd::ModFlows {
            bridge,
            flow,
            strict,
        } => (
            "flow/mod",
            json!({ "bridge": bridge, "flow": flow, "strict": strict }),
        ),
        SwitchCmd::DelFlows {
            bridge,
            matches,
            strict,
            all,
        } => {
            // Clap keeps MATCH and --strict apart from --all; the switch refuses a mix anyway.
            let m = matches.as_deref().filter(|m| !m.trim().is_empty());
            if m.is_none() && !all {
                return Err(CliError::DeleteAllNeedsAll {
                    bridge: bridge.clone(),
                });
            }
            let mut p = json!({ "bridge": bridge });
            if let Some(m) = m {
                p["match"] = json!(m);
                p["strict"] = json!(strict);
            }
            if *all {
                p["all"] = json!(true);
            }
            ("flow/del", p)
        }
        SwitchCmd::DumpMacs { bridge } => ("mac/show", json!({ "bridge": bridge })),
        SwitchCmd::MacFlush { bridge } => ("mac/flush", json!({ "bridge": bridge })),
        SwitchCmd::Trace { bridge, flow } => ("trace", json!({ "bridge": bridge, "flow": flow })),
        SwitchCmd::Reload { dry_run } => ("switch/reload", json!({ "dry_run": dry_run })),
        SwitchCmd::Shutdown => ("switch/shutdown", json!({})),
        SwitchCmd::Call { method, params } => {
            let p = match params {
                None => json!({}),
                Some(s) => serde_json::from_str(s).map_err(CliError::BadJson)?,
            };
            return Ok((method.clone(), p));
        }
    };
    Ok((method.to_string(), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(args: &[&str]) -> SwitchCmd {
        let mut full = vec!["dvsctl", "switch"];
        full.extend_from_slice(args);
        match Cli::try_parse_from(full).unwrap().command {
            Top::Switch(c) => c,
            other => panic!("not a switch command: {other:?}"),
        }
    }

    fn req(args: &[&str]) -> (String, Value) {
        request(&cmd(args)).unwrap()
    }

    #[test]
    fn commands_map_to_methods() {
        assert_eq!(req(&["show"]), ("switch/show".into(), json!({})));
        assert_eq!(req(&["ports"]), ("port/stats".into(), json!({})));
        assert_eq!(
            req(&["ports", "br0"]),
            ("port/stats".into(), json!({"bridge": "br0"}))
        );
        assert_eq!(req(&["drops"]), ("drop/stats".into(), json!({})));
        assert_eq!(req(&["drops", "--ports"]), ("port/drops".into(), json!({})));
        assert_eq!(req(&["pmd-stats"]), ("pmd/stats".into(), json!({})));
        assert_eq!(req(&["rxq-show"]), ("pmd/rxq-show".into(), json!({})));
        assert_eq!(
            req(&["rxq-assign", "vm1", "0", "1"]),
            (
                "pmd/rxq-assign".into(),
                json!({"port": "vm1", "queue": 0, "pmd": 1})
            )
        );
        assert_eq!(
            req(&["dump-flows", "br0"]),
            ("flow/dump".into(), json!({"bridge": "br0"}))
        );
        assert_eq!(
            req(&["dump-flows", "br0", "--table", "3"]),
            ("flow/dump".into(), json!({"bridge": "br0", "table": 3}))
        );
        assert_eq!(
            req(&["add-flow", "br0", "priority=1,actions=drop"]),
            (
                "flow/add".into(),
                json!({"bridge": "br0", "flow": "priority=1,actions=drop"})
            )
        );
        assert_eq!(
            req(&["mod-flows", "br0", "ip,actions=NORMAL", "--strict"]),
            (
                "flow/mod".into(),
                json!({"bridge": "br0", "flow": "ip,actions=NORMAL", "strict": true})
            )
        );
        assert_eq!(
            req(&["del-flows", "br0", "--all"]),
            ("flow/del".into(), json!({"bridge": "br0", "all": true}))
        );
        assert_eq!(
            req(&["del-flows", "br0", "tcp,tp_dst=80"]),
            (
                "flow/del".into(),
                json!({"bridge": "br0", "match": "tcp,tp_dst=80", "strict": false})
            )
        );
        assert_eq!(
            req(&["dump-macs", "br0"]),
            ("mac/show".into(), json!({"bridge": "br0"}))
        );
        assert_eq!(
            req(&["mac-flush", "br0"]),
            ("mac/flush".into(), json!({"bridge": "br0"}))
        );
        assert_eq!(
            req(&["trace", "br0", "in_port=1,ip"]),
            (
                "trace".into(),
                json!({"bridge": "br0", "flow": "in_port=1,ip"})
            )
        );
        assert_eq!(req(&["shutdown"]), ("switch/shutdown".into(), json!({})));
        assert_eq!(req(&["call", "x/y"]), ("x/y".into(), json!({})));
        assert_eq!(
            req(&["call", "x/y", r#"{"a":[1]}"#]),
            ("x/y".into(), json!({"a": [1]}))
        );
        assert!(matches!(
            request(&cmd(&["call", "x", "{"])),
            Err(CliError::BadJson(_))
        ));
    }

    #[test]
    fn del_flows_without_a_match_needs_all() {
        for args in [
            &["del-flows", "br0"][..],
            &["del-flows", "br0", ""],
            &["del-flows", "br0", "--strict"],
        ] {
            let e = request(&cmd(args)).unwrap_err();
            assert_eq!(
                e.to_string(),
                "del-flows br0 without a MATCH would delete every flow of br0; pass --all to do that"
            );
        }
        for args in [
            &["dvsctl", "switch", "del-flows", "br0", "tcp", "--all"][..],
            &["dvsctl", "switch", "del-flows", "br0", "--all", "--strict"],
        ] {
            let e = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict, "{e}");
        }
    }

    #[test]
    fn global_flags_anywhere() {
        let c = Cli::try_parse_from(["dvsctl", "switch", "show", "--json", "--socket", "/tmp/s"])
            .unwrap();
        assert!(c.json);
        assert_eq!(c.socket, Some(PathBuf::from("/tmp/s")));
        assert!(Cli::try_parse_from(["dvsctl", "switch", "bogus"]).is_err());
        assert!(Cli::try_parse_from(["dvsctl", "switch", "rxq-assign", "p", "x", "1"]).is_err());
    }

    #[test]
    fn socket_resolution() {
        let d = PathBuf::from("/run/dvs/dvs-switchd.sock");
        assert_eq!(socket_path(None, None), d);
        assert_eq!(socket_path(None, Some("")), d);
        assert_eq!(socket_path(None, Some("/e")), PathBuf::from("/e"));
        assert_eq!(
            socket_path(Some(Path::new("/f")), Some("/e")),
            PathBuf::from("/f")
        );
    }

    #[test]
    fn add_flows_reads_the_file() {
        let path = std::env::temp_dir().join(format!("dvsctl-flows-{}.txt", std::process::id()));
        std::fs::write(
            &path,
            "# web\npriority=10,tcp,tp_dst=80,actions=NORMAL\n\n  priority=0,actions=drop  \n",
        )
        .unwrap();
        let (m, p) = request(&SwitchCmd::AddFlows {
            bridge: "br0".into(),
            file: path.clone(),
        })
        .unwrap();
        assert_eq!(m, "flow/add");
        assert_eq!(
            p,
            json!({"bridge": "br0", "flows": ["priority=10,tcp,tp_dst=80,actions=NORMAL", "priority=0,actions=drop"]})
        );
        std::fs::remove_file(&path).unwrap();
        let e = request(&SwitchCmd::AddFlows {
            bridge: "br0".into(),
            file: path.clone(),
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: No such file or directory (os error 2)", path.display())
        );
    }
}
