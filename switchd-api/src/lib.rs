//! dvs-switchd's management interface, as a crate of its own so that whatever talks to the
//! switch (`dvsctl`, the coming per-host agent, tests) links none of the data plane (no DPDK,
//! no AF_XDP, no vhost): the JSON-RPC 2.0 protocol over a unix socket ([`rpc`]: envelopes,
//! error codes, the client, and the server shell the daemon plugs its handler into) and where
//! the socket lives.

pub mod rpc;
pub mod sockfile;

/// Default run directory (holds the control socket).
pub const DEFAULT_RUNDIR: &str = "/run/dvs";
/// File name of the control socket inside the run directory.
pub const SOCKET_NAME: &str = "dvs-switchd.sock";
/// Default control socket path.
pub const DEFAULT_SOCKET: &str = "/run/dvs/dvs-switchd.sock";
