//! A vhost-user virtio-net device (the backend, "slave" side) built for PMD
//! polling: the VM (QEMU, or DPDK's `net_virtio_user` standing in for one)
//! owns the rings and the memory; we map its memory, poll its rings from the
//! switch's PMD threads, and copy frames in and out.
//!
//! **Control plane.** One protocol thread per device ([`conn`]) accepts
//! (server role) or connects with backoff (client role) and feeds requests
//! to rust-vmm's `BackendReqHandler`, which does the wire format and message
//! validation and calls our handler ([`protocol`]). Memory tables are mapped
//! with vm-memory ([`memory`]); ring addresses arrive as frontend virtual
//! addresses and are translated through the region table. SET/GET_STATUS are
//! answered by a small pre-filter because the library does not know them.
//!
//! **Data plane.** We use our own split-ring code ([`vring`], [`net`])
//! rather than virtio-queue's `Queue`: virtio-queue resolves guest memory
//! for every descriptor field, publishes `used->idx` (a release store and a
//! shared cache line) per `add_used`, and hands back an iterator whose errors
//! do not say which chain to return, whereas a polling switch wants the
//! three ring areas resolved once per burst, one used-index store per burst,
//! one interrupt decision per burst, and every malformed chain returned with
//! length 0 and counted. Guest memory is bounds-checked through
//! vm-memory's `VolatileSlice`s when a chain is walked; the copies and ring
//! accesses that follow use raw pointers into those checked ranges, in a few
//! `unsafe` blocks (`guestcopy`, `hostmem`, `net`, `vring`), each with the
//! invariant it relies on. The control plane has one (`recv(MSG_PEEK)` in
//! [`prefilter`]).
//!
//! **Control plane quirks.** Requests rust-vmm's handler does not know
//! (SET/GET_STATUS, SEND_RARP) or checks against QEMU's real ordering
//! (SET_VRING_ENABLE before SET_FEATURES) are answered by [`prefilter`].
//!
//! **Sharing.** Each virtqueue's state lives behind its own `Mutex`
//! ([`queue`]). A PMD burst takes it with `try_lock` (never blocks; a held
//! lock means reconfiguration and the burst moves nothing) and keeps it for
//! the whole burst, so the protocol thread can never unmap memory or stop a
//! ring under an in-flight copy; an uncontended lock per 32-packet burst
//! costs a few nanoseconds. Memory tables are `Arc`s swapped under those
//! locks and unmapped when the last one drops.
//!
//! **Polling.** Guest kicks are suppressed (`VRING_USED_F_NO_NOTIFY`, or a
//! parked `avail_event` with `EVENT_IDX`) and never read; guest interrupts
//! are at most one eventfd write per burst and only when the guest asked
//! (`VRING_AVAIL_F_NO_INTERRUPT` / `used_event`). No allocation, lock
//! contention or syscall per packet.

mod conn;
mod device;
mod guestcopy;
mod hostmem;
pub mod memory;
pub mod names;
pub mod net;
mod prefilter;
mod protocol;
mod queue;
pub mod vring;

pub use device::{
    Role, VhostConfig, VhostError, VhostNetDevice, VhostStats, VringInfo, MAX_QUEUE_PAIRS,
};
pub use memory::GuestMem;
pub use net::{complete_checksum, Burst, NetQueue, QueueCounters};
pub use protocol::{offered_protocol, F_PROTOCOL_FEATURES};
pub use vring::{ChainError, Desc, SplitRing, VringAddrs, VringError};
