//! The vhost-user request handler: rust-vmm's `BackendReqHandler` parses
//! and validates the wire messages and calls this
//! `VhostUserBackendReqHandlerMut`; we keep the device-level negotiation
//! (features, protocol features, owner, status, memory table) and push the
//! per-ring pieces into the shared [`Vq`]s under their locks.
//!
//! We offer only what is implemented: no CONFIG protocol feature (QEMU's
//! virtio-net reads its config space itself and warns when a backend offers
//! it; DPDK's virtio_user does not use it), and so no MAC or MTU in config
//! space. RARP is offered: SEND_RARP makes the device announce the guest's
//! MAC (see `prefilter`).
//!
//! Anything the frontend asks that makes no sense (a queue index beyond what
//! we offered, features we did not offer, a memory table we cannot map) is
//! answered with an error; the connection loop treats every error as a
//! protocol violation and drops the connection, which resets the device.
//! After every message the link state and active queue-pair count are
//! recomputed and published for the PMD-facing API.

use std::fs::File;
use std::sync::Arc;

use rvhost::vhost_user::message::{
    VhostTransferStateDirection, VhostTransferStatePhase, VhostUserConfigFlags, VhostUserInflight,
    VhostUserLog, VhostUserMemoryRegion, VhostUserProtocolFeatures, VhostUserShMemConfig,
    VhostUserSharedMsg, VhostUserSingleMemoryRegion, VhostUserVringAddrFlags, VhostUserVringState,
};
use rvhost::vhost_user::{
    Backend, Error as VuError, GpuBackend, Result as VuResult, VhostUserBackendReqHandlerMut,
};
use rvhost::VhostUserMemoryRegionBase;

use crate::device::Shared;
use crate::memory::GuestMem;
use crate::net::F_CSUM;
use crate::queue::VaAddrs;

/// `VHOST_USER_F_PROTOCOL_FEATURES`.
pub const F_PROTOCOL_FEATURES: u64 = 1 << 30;
const F_GUEST_CSUM: u64 = 1 << 1;
const F_STATUS: u64 = 1 << 16;
const F_MQ: u64 = 1 << 22;
/// virtio status bit DRIVER_OK.
pub const STATUS_DRIVER_OK: u8 = 4;

/// Virtio features we offer.
pub fn offered_features() -> u64 {
    crate::net::F_VERSION_1
        | crate::net::F_MRG_RXBUF
        | crate::net::F_EVENT_IDX
        | F_CSUM
        | F_GUEST_CSUM
        | F_MQ
        | F_STATUS
        | F_PROTOCOL_FEATURES
}

/// Protocol features we offer (REPLY_ACK is added by the library).
pub fn offered_protocol() -> VhostUserProtocolFeatures {
    VhostUserProtocolFeatures::MQ
        | VhostUserProtocolFeatures::STATUS
        | VhostUserProtocolFeatures::RESET_DEVICE
        | VhostUserProtocolFeatures::RARP
}

/// Per-connection negotiation state.
pub(crate) struct Handler {
    shared: Arc<Shared>,
    features: u64,
    protocol: u64,
    status: u8,
    /// The frontend sent SET_STATUS on this connection. A frontend that resumes after our
    /// reconnect (DPDK virtio_user in server mode) re-sends rings but not the status, so without
    /// any SET_STATUS the rings alone decide the link.
    status_seen: bool,
    mem: Option<Arc<GuestMem>>,
}

impl Handler {
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            features: 0,
            protocol: 0,
            status: 0,
            status_seen: false,
            mem: None,
        }
    }

    /// Protocol features the frontend acked.
    pub fn protocol(&self) -> u64 {
        self.protocol
    }

    /// SET_STATUS (handled outside the library, see `prefilter`).
    pub fn set_status(&mut self, status: u8) {
        self.status = status;
        self.status_seen = true;
        self.shared.note_status(status);
        if status == 0 {
            // Virtio device reset: stop every ring (the frontend restarts
            // them with SET_VRING_BASE/KICK); memory and call fds stay.
            for vq in self.shared.vqs.iter() {
                let mut g = crate::device::lock(vq);
                g.stop();
                g.enabled = false;
            }
        }
        self.publish();
    }

    /// GET_STATUS.
    pub fn status(&self) -> u8 {
        self.status
    }

    /// SET_VRING_ENABLE (handled outside the library, see `prefilter`): valid at any time,
    /// including before SET_FEATURES, as QEMU sends it.
    pub fn enable_vring(&mut self, index: u32, enable: bool) -> Result<(), String> {
        self.with_vq(index, |q| q.enabled = enable)
            .map_err(|_| format!("SET_VRING_ENABLE of ring {index}, which was not offered"))
    }

    /// SEND_RARP: announce `mac` from the guest on the next receive poll.
    pub fn send_rarp(&mut self, mac: [u8; 6]) {
        self.shared.queue_rarp(mac);
    }

    fn vq(&self, index: u32) -> VuResult<&std::sync::Mutex<crate::queue::Vq>> {
        self.shared
            .vqs
            .get(index as usize)
            .ok_or(VuError::InvalidParam)
    }

    fn with_vq<R>(
        &mut self,
        index: u32,
        f: impl FnOnce(&mut crate::queue::Vq) -> R,
    ) -> VuResult<R> {
        let r = {
            let mut g = crate::device::lock(self.vq(index)?);
            let r = f(&mut g);
            g.sync();
            r
        };
        self.publish();
        Ok(r)
    }

    /// Drop all queue state and the memory table (disconnect or reset).
    pub fn reset_queues(&mut self) {
        for vq in self.shared.vqs.iter() {
            crate::device::lock(vq).reset();
        }
        self.mem = None;
        self.publish();
    }

    /// Recompute link state and active queue pairs.
    pub fn publish(&self) {
        let status_ok = self.protocol & VhostUserProtocolFeatures::STATUS.bits() == 0
            || !self.status_seen
            || self.status & STATUS_DRIVER_OK != 0;
        let mut active = 0u16;
        let mut qp0 = false;
        for (qp, pair) in self.shared.vqs.chunks(2).enumerate() {
            let ready = pair.iter().all(|vq| crate::device::lock(vq).ready());
            if ready {
                active += 1;
                qp0 |= qp == 0;
            }
        }
        self.shared
            .set_link(qp0 && status_ok, active, self.features, self.protocol);
    }
}

fn unsupported<T>() -> VuResult<T> {
    Err(VuError::InvalidOperation("not supported by this backend"))
}

impl VhostUserBackendReqHandlerMut for Handler {
    fn set_owner(&mut self) -> VuResult<()> {
        Ok(())
    }

    fn reset_owner(&mut self) -> VuResult<()> {
        self.reset_queues();
        Ok(())
    }

    fn reset_device(&mut self) -> VuResult<()> {
        self.reset_queues();
        self.features = 0;
        self.status = 0;
        self.publish();
        Ok(())
    }

    fn get_features(&mut self) -> VuResult<u64> {
        Ok(offered_features())
    }

    fn set_features(&mut self, features: u64) -> VuResult<()> {
        if features & !offered_features() != 0 {
            return Err(VuError::InvalidParam);
        }
        self.features = features;
        let proto = features & F_PROTOCOL_FEATURES != 0;
        for vq in self.shared.vqs.iter() {
            let mut g = crate::device::lock(vq);
            g.features = features;
            if !proto && g.started {
                g.enabled = true;
            }
            g.sync();
        }
        self.publish();
        Ok(())
    }

    fn set_mem_table(
        &mut self,
        ctx: &[VhostUserMemoryRegion],
        files: Vec<File>,
        _postcopy: Option<bool>,
    ) -> VuResult<Option<Vec<VhostUserMemoryRegionBase>>> {
        let mem = GuestMem::from_regions(ctx, files).map_err(|e| {
            self.shared.note_error(&format!("SET_MEM_TABLE: {e}"));
            VuError::InvalidParam
        })?;
        let mem = Arc::new(mem);
        self.mem = Some(mem.clone());
        for vq in self.shared.vqs.iter() {
            let mut g = crate::device::lock(vq);
            g.mem = Some(mem.clone());
            g.sync();
        }
        self.publish();
        Ok(None)
    }

    fn set_vring_num(&mut self, index: u32, num: u32) -> VuResult<()> {
        if num == 0 || num > u32::from(crate::vring::MAX_QUEUE_SIZE) || !num.is_power_of_two() {
            return Err(VuError::InvalidParam);
        }
        self.with_vq(index, |q| q.size = num)
    }

    fn set_vring_addr(
        &mut self,
        index: u32,
        _flags: VhostUserVringAddrFlags,
        descriptor: u64,
        used: u64,
        available: u64,
        _log: u64,
    ) -> VuResult<()> {
        self.with_vq(index, |q| {
            q.va = Some(VaAddrs {
                desc: descriptor,
                avail: available,
                used,
            })
        })
    }

    fn set_vring_base(&mut self, index: u32, base: u32) -> VuResult<()> {
        let base = u16::try_from(base).map_err(|_| VuError::InvalidParam)?;
        self.with_vq(index, |q| q.set_base(base))
    }

    fn get_vring_base(&mut self, index: u32) -> VuResult<VhostUserVringState> {
        let base = self.with_vq(index, |q| q.stop())?;
        Ok(VhostUserVringState::new(index, u32::from(base)))
    }

    fn set_vring_kick(&mut self, index: u8, _fd: Option<File>) -> VuResult<()> {
        // We poll: the kick fd is never read (dropping it is fine).
        let proto = self.features & F_PROTOCOL_FEATURES != 0;
        self.with_vq(u32::from(index), |q| {
            q.started = true;
            if !proto {
                q.enabled = true;
            }
        })
    }

    fn set_vring_call(&mut self, index: u8, fd: Option<File>) -> VuResult<()> {
        self.with_vq(u32::from(index), |q| q.call = fd)
    }

    fn set_vring_err(&mut self, index: u8, _fd: Option<File>) -> VuResult<()> {
        self.vq(u32::from(index)).map(|_| ())
    }

    fn get_protocol_features(&mut self) -> VuResult<VhostUserProtocolFeatures> {
        Ok(offered_protocol())
    }

    fn set_protocol_features(&mut self, features: u64) -> VuResult<()> {
        let ours = (offered_protocol() | VhostUserProtocolFeatures::REPLY_ACK).bits();
        if features & !ours != 0 {
            return Err(VuError::InvalidParam);
        }
        self.protocol = features;
        self.publish();
        Ok(())
    }

    fn get_queue_num(&mut self) -> VuResult<u64> {
        Ok(u64::from(self.shared.cfg.queue_pairs))
    }

    fn set_vring_enable(&mut self, index: u32, enable: bool) -> VuResult<()> {
        // Answered by `prefilter`; kept for completeness of the trait.
        self.with_vq(index, |q| q.enabled = enable)
    }

    fn get_config(
        &mut self,
        _offset: u32,
        _size: u32,
        _flags: VhostUserConfigFlags,
    ) -> VuResult<Vec<u8>> {
        // CONFIG is not offered.
        unsupported()
    }

    fn set_config(
        &mut self,
        _offset: u32,
        _buf: &[u8],
        _flags: VhostUserConfigFlags,
    ) -> VuResult<()> {
        unsupported()
    }

    fn set_backend_req_fd(&mut self, _backend: Backend) {}

    fn set_gpu_socket(&mut self, _gpu_backend: GpuBackend) -> VuResult<()> {
        unsupported()
    }

    fn get_shared_object(&mut self, _uuid: VhostUserSharedMsg) -> VuResult<File> {
        unsupported()
    }

    fn get_inflight_fd(
        &mut self,
        _inflight: &VhostUserInflight,
    ) -> VuResult<(VhostUserInflight, File)> {
        unsupported()
    }

    fn set_inflight_fd(&mut self, _inflight: &VhostUserInflight, _file: File) -> VuResult<()> {
        unsupported()
    }

    fn get_max_mem_slots(&mut self) -> VuResult<u64> {
        unsupported()
    }

    fn add_mem_region(
        &mut self,
        _region: &VhostUserSingleMemoryRegion,
        _fd: File,
        _postcopy: Option<bool>,
    ) -> VuResult<Option<VhostUserMemoryRegionBase>> {
        unsupported()
    }

    fn remove_mem_region(&mut self, _region: &VhostUserSingleMemoryRegion) -> VuResult<()> {
        unsupported()
    }

    fn set_device_state_fd(
        &mut self,
        _direction: VhostTransferStateDirection,
        _phase: VhostTransferStatePhase,
        _fd: File,
    ) -> VuResult<Option<File>> {
        unsupported()
    }

    fn check_device_state(&mut self) -> VuResult<()> {
        unsupported()
    }

    fn get_shmem_config(&mut self) -> VuResult<VhostUserShMemConfig> {
        unsupported()
    }

    fn set_log_base(&mut self, _log: &VhostUserLog, _file: File) -> VuResult<()> {
        unsupported()
    }
}
