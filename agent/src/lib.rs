//! dvs-agent: the per-host agent of the distributed virtual switch.
//!
//! It follows dvsm ([`session`]: register, the host's share, updates, acks, heartbeats, status)
//! and makes the local dvs-switchd match that share ([`reconcile`]), the way a controller drives
//! ovs-vswitchd: bridges, ports and interfaces through the Open_vSwitch database ([`ovs`]), flows
//! through OpenFlow 1.3 on each bridge's management socket ([`ofp`]). Every step diffs what is
//! wanted against what is there and applies only the difference, so a restarted agent adopts
//! what it finds and touches nothing that is already right. The agent holds no state the switch
//! needs: `kill -9` at any moment leaves forwarding as it was.
//!
//! # Flow table layout
//!
//! Every bridge (one per DVS) gets the same fixed pipeline, compiled from the port groups by
//! [`policy`] (the full table, with priorities, is there):
//!
//! | table | name | flows |
//! |---|---|---|
//! | 0 | classification | VM port -> 10; uplink -> 40; anything else: drop |
//! | 10 | source MAC | `in_port,dl_src=<its MAC>` -> 11; else drop (`mac_spoof`) |
//! | 11 | IP-MAC binding | ARP/ND inspection and bound sources -> 12; else drop (`ip_spoof`, `arp_spoof`, `nd_spoof`, `ipv6_spoof`) |
//! | 12 | DHCP isolation, RA guard | DHCP/DHCPv6 servers and RAs: drop; else -> 20 |
//! | 20 | broadcast suppression | broadcast through the port's meter -> 21 |
//! | 21 | policing, queue | the port's policer and `set_queue` -> 30 |
//! | 30 | security groups | goto 40 (rules come later) |
//! | 40 | L2 | `NORMAL`: MAC learning per VLAN, VLANs from the Port rows |
//!
//! Each drop reason is a flow kind of its own, so the counters of a port's drop flows (and of
//! its meters' drop bands) are its per-reason drop counts in the status ([`status`]).
//!
//! VLANs are not in the flows: a port group's VLAN policy becomes the Port row's `tag` /
//! `trunks` / `vlan_mode`, which `NORMAL` honours. So moving a port to another VLAN rewrites one
//! Port row and no flow.
//!
//! Every flow carries a cookie that names its origin and hashes its content
//! ([`layout::cookie`]): `0xd5` (8 bits, "ours") | flow kind (8 bits) | FNV-1a of the origin key,
//! e.g. `port/vm1` or `dvs/d1` (16 bits) | FNV-1a of (table, priority, match, instructions)
//! (32 bits). Two flows with equal cookies are the same flow, so the flow diff is a set
//! difference of cookies: installed-but-unwanted cookies are deleted, wanted-but-missing ones
//! added, in one atomic ONF bundle, and unchanged flows keep their counters and durations.
//! Flows with other cookies (an operator's) are never touched. Meters have ids derived from the
//! port's OpenFlow number ([`policy::meters`]), are added or modified before the flow bundle and
//! deleted after it, and are likewise left alone when already right.
//!
//! Bridges are created with `fail_mode=secure`: the switch installs no default `NORMAL` flow, so
//! nothing is forwarded without port security. The consequence: a restarted dvs-switchd drops
//! traffic until the agent has reinstalled its flows (within [`reconcile::PERIOD`]).

#[macro_use]
pub mod log;
pub mod facts;
pub mod layout;
pub mod ofp;
pub mod ovs;
pub mod plan;
pub mod policy;
pub mod qos;
pub mod reconcile;
pub mod session;
pub mod state;
pub mod status;

/// The agent's version, reported in the host facts.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
