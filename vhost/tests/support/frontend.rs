//! A minimal vhost-user frontend — the VM side — for driving the switch's
//! virtio-net backend from tests.
//!
//! The control plane is rust-vmm's `vhost::vhost_user::Frontend` (the same
//! message code QEMU-compatible frontends use), over a socket whose reads time
//! out so a silent backend fails a test instead of hanging it. The data plane
//! is ours: memfd guest memory ([`GuestMemory`]) and two split virtqueues
//! ([`SplitQueue`]) for queue pair 0 (RX = vring 0, TX = vring 1), laid out
//! at fixed guest-physical addresses so attacks can aim at region edges.
//!
//! Layout (two-region mode; one-region mode puts everything in region A):
//! region A `[0, 2 MiB)`: rings at 0x0 / 0x4000, scratch (indirect tables)
//! at 0x8000, RX buffer slots `[1 MiB, 2 MiB)` — the last slot ends exactly
//! at the region end. Region B `[256 MiB, +2 MiB)`: TX buffer slots.
//! Between them is an unmapped hole.

use std::error::Error;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use rvhost::vhost_user::message::VhostUserHeaderFlag;
use rvhost::vhost_user::{Frontend, VhostUserFrontend, VhostUserProtocolFeatures};
use rvhost::{VhostBackend, VhostUserMemoryRegionInfo, VringConfigData};
use vmm_sys_util::eventfd::EventFd;

use super::memory::GuestMemory;
use super::virtq::{Desc, QueueLayout, SplitQueue, Used, VRING_DESC_F_NEXT};

pub type BoxError = Box<dyn Error + Send + Sync>;

pub const F_CSUM: u64 = 1 << 0;
pub const F_MRG_RXBUF: u64 = 1 << 15;
pub const F_INDIRECT_DESC: u64 = 1 << 28;
pub const F_EVENT_IDX: u64 = 1 << 29;
pub const F_PROTOCOL_FEATURES: u64 = 1 << 30;
pub const F_VERSION_1: u64 = 1 << 32;

/// virtio-net header with VERSION_1: always 12 bytes (num_buffers included).
pub const NET_HDR_LEN: usize = 12;

pub const REGION_A: u64 = 0;
pub const REGION_B: u64 = 0x1000_0000;
const REGION_LEN: usize = 2 << 20;
/// A guest-physical address that no region covers in either mode.
pub const UNMAPPED_GPA: u64 = 0x4000_0000;
/// Free guest memory for indirect tables and hand-made buffers.
pub const SCRATCH: u64 = 0x8000;
const SLOT_LEN: u32 = 4096;

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Negotiate VIRTIO_NET_F_MRG_RXBUF if offered.
    pub mrg_rxbuf: bool,
    /// Negotiate VIRTIO_RING_F_INDIRECT_DESC if offered.
    pub indirect: bool,
    /// Two memfd regions with a hole between them (else one region).
    pub two_regions: bool,
    pub queue_size: u16,
    /// Sabotage the TX vring's setup (control-plane attack).
    pub bad_ring: Option<BadRing>,
    /// Enable both rings right after protocol negotiation, before SET_FEATURES, as QEMU
    /// does (with NEED_REPLY, so the ack is checked too), instead of after setting them up.
    pub enable_before_features: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mrg_rxbuf: true,
            indirect: true,
            two_regions: true,
            queue_size: 256,
            bad_ring: None,
            enable_before_features: false,
        }
    }
}

/// Ways to set up the TX vring (vring 1) that a backend must refuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadRing {
    /// Descriptor table at a frontend address no region covers.
    DescUnmapped,
    /// Descriptor table starting 16 bytes before the end of region A.
    DescCrossesRegionEnd,
    /// Used ring at a frontend address no region covers.
    UsedUnmapped,
    /// Avail ring starting 4 bytes before the end of region A.
    AvailCrossesRegionEnd,
    /// SET_VRING_NUM with this (invalid) size.
    Size(u16),
}

/// A packet the device delivered into the RX queue.
#[derive(Debug)]
pub struct RxPacket {
    /// Used elements consumed (more than one with MRG_RXBUF).
    pub used: Vec<Used>,
    pub hdr: [u8; NET_HDR_LEN],
    /// Bytes after the virtio-net header.
    pub frame: Vec<u8>,
}

impl RxPacket {
    pub fn num_buffers(&self) -> u16 {
        u16::from_le_bytes([self.hdr[10], self.hdr[11]])
    }
}

pub struct TestFrontend {
    fe: Frontend,
    pub mem: GuestMemory,
    pub rx: SplitQueue,
    pub tx: SplitQueue,
    kicks: [EventFd; 2],
    calls: [EventFd; 2],
    /// Features the backend offered / the frontend acked.
    pub offered: u64,
    pub acked: u64,
    pub protocol: VhostUserProtocolFeatures,
}

const IO_TIMEOUT: Duration = Duration::from_secs(5);

impl TestFrontend {
    /// Connects to a backend listening on `path` (backend in server role).
    pub fn connect(path: &Path, opts: Options) -> Result<Self, BoxError> {
        let deadline = Instant::now() + IO_TIMEOUT;
        let sock = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(e.into()),
            }
        };
        Self::from_stream(sock, opts)
    }

    /// Waits for the backend (client role) to connect to `listener`.
    pub fn accept(listener: &UnixListener, opts: Options) -> Result<Self, BoxError> {
        let sock = accept_timeout(listener, IO_TIMEOUT)?;
        Self::from_stream(sock, opts)
    }

    pub fn from_stream(sock: UnixStream, opts: Options) -> Result<Self, BoxError> {
        sock.set_read_timeout(Some(IO_TIMEOUT))?;
        sock.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut raw = sock.try_clone()?;
        let mut fe = Frontend::from_stream(sock, 2);

        fe.set_owner()?;
        let offered = fe.get_features()?;
        if offered & F_VERSION_1 == 0 {
            return Err(format!("backend does not offer VERSION_1: {offered:#x}").into());
        }
        let mut acked = F_VERSION_1 | (offered & F_PROTOCOL_FEATURES);
        if opts.mrg_rxbuf {
            acked |= offered & F_MRG_RXBUF;
        }
        if opts.indirect {
            acked |= offered & F_INDIRECT_DESC;
        }
        let mut protocol = VhostUserProtocolFeatures::empty();
        if acked & F_PROTOCOL_FEATURES != 0 {
            let p = fe.get_protocol_features()?;
            protocol = p & (VhostUserProtocolFeatures::MQ | VhostUserProtocolFeatures::REPLY_ACK);
            fe.set_protocol_features(protocol)?;
            if protocol.contains(VhostUserProtocolFeatures::REPLY_ACK) {
                fe.set_hdr_flags(VhostUserHeaderFlag::NEED_REPLY);
            }
            if opts.enable_before_features {
                early_enable(
                    &mut raw,
                    protocol.contains(VhostUserProtocolFeatures::REPLY_ACK),
                )?;
            }
        }
        fe.set_features(acked)?;

        let layout: Vec<(u64, usize)> = if opts.two_regions {
            vec![(REGION_A, REGION_LEN), (REGION_B, REGION_LEN)]
        } else {
            vec![(REGION_A, 2 * REGION_LEN)]
        };
        let mem = GuestMemory::new(&layout)?;
        let regions: Vec<VhostUserMemoryRegionInfo> = mem
            .regions
            .iter()
            .map(|r| VhostUserMemoryRegionInfo {
                guest_phys_addr: r.gpa,
                memory_size: r.len as u64,
                userspace_addr: r.host_addr(),
                mmap_offset: 0,
                mmap_handle: std::os::fd::AsRawFd::as_raw_fd(&r.file),
            })
            .collect();
        fe.set_mem_table(&regions)?;

        let n = opts.queue_size;
        assert!(n.is_power_of_two() && n <= 256, "test bug: queue size {n}");
        let rx = SplitQueue::new(
            &mem,
            QueueLayout {
                size: n,
                desc: 0x0,
                avail: 0x1000,
                used: 0x2000,
                bufs: REGION_A + (1 << 20),
                slot_len: SLOT_LEN,
            },
        );
        let tx_bufs = if opts.two_regions {
            REGION_B
        } else {
            REGION_A + (2 << 20)
        };
        let tx = SplitQueue::new(
            &mem,
            QueueLayout {
                size: n,
                desc: 0x4000,
                avail: 0x5000,
                used: 0x6000,
                bufs: tx_bufs,
                slot_len: SLOT_LEN,
            },
        );
        let kicks = [EventFd::new(0)?, EventFd::new(0)?];
        let calls = [
            EventFd::new(libc::EFD_NONBLOCK)?,
            EventFd::new(libc::EFD_NONBLOCK)?,
        ];
        for (q, l) in [(0usize, rx.layout), (1, tx.layout)] {
            let mut cfg = VringConfigData {
                queue_max_size: n,
                queue_size: n,
                flags: 0,
                desc_table_addr: mem.host_addr(l.desc),
                used_ring_addr: mem.host_addr(l.used),
                avail_ring_addr: mem.host_addr(l.avail),
                log_addr: None,
            };
            let mut num = n;
            if q == 1 {
                let a_end = mem.regions[0].host_addr() + mem.regions[0].len as u64;
                match opts.bad_ring {
                    None => {}
                    Some(BadRing::DescUnmapped) => cfg.desc_table_addr = 0x1000,
                    Some(BadRing::DescCrossesRegionEnd) => cfg.desc_table_addr = a_end - 16,
                    Some(BadRing::UsedUnmapped) => cfg.used_ring_addr = 0x2000,
                    Some(BadRing::AvailCrossesRegionEnd) => cfg.avail_ring_addr = a_end - 4,
                    Some(BadRing::Size(s)) => num = s,
                }
            }
            fe.set_vring_num(q, num)?;
            fe.set_vring_addr(q, &cfg)?;
            fe.set_vring_base(q, 0)?;
            fe.set_vring_call(q, &calls[q])?;
            fe.set_vring_kick(q, &kicks[q])?;
        }
        if acked & F_PROTOCOL_FEATURES != 0 && !opts.enable_before_features {
            fe.set_vring_enable(0, true)?;
            fe.set_vring_enable(1, true)?;
        }
        Ok(Self {
            fe,
            mem,
            rx,
            tx,
            kicks,
            calls,
            offered,
            acked,
            protocol,
        })
    }

    /// The control channel, for tests that send hostile control messages.
    pub fn control(&mut self) -> &mut Frontend {
        &mut self.fe
    }

    pub fn mrg_rxbuf(&self) -> bool {
        self.acked & F_MRG_RXBUF != 0
    }

    pub fn indirect(&self) -> bool {
        self.acked & F_INDIRECT_DESC != 0
    }

    /// One past the end of the region holding the RX buffers: the last RX
    /// slot ends exactly here, and nothing is mapped right after it.
    pub fn region_a_end(&self) -> u64 {
        self.mem.regions[0].end()
    }

    /// Sets the RX queue's avail flags (1 = `VRING_AVAIL_F_NO_INTERRUPT`,
    /// as a polling driver does; 0 = interrupts wanted).
    pub fn set_rx_avail_flags(&self, flags: u16) {
        self.mem.write_u16(self.rx.layout.avail, flags);
    }

    /// Interrupts the backend sent on the RX queue since the last call.
    pub fn take_rx_interrupts(&self) -> u64 {
        self.calls[0].read().unwrap_or(0)
    }

    pub fn kick_tx(&self) {
        let _ = self.kicks[1].write(1);
    }

    pub fn kick_rx(&self) {
        let _ = self.kicks[0].write(1);
    }

    /// Posts `frame` (after a zeroed virtio-net header) on the TX queue,
    /// cut into descriptors at the byte offsets `cuts` of the header+frame
    /// buffer (empty: one descriptor). Returns the chain head.
    pub fn send(&mut self, frame: &[u8], cuts: &[usize]) -> u16 {
        let mut whole = vec![0u8; NET_HDR_LEN];
        whole.extend_from_slice(frame);
        let mut bounds = vec![0];
        bounds.extend(cuts.iter().copied().filter(|&c| c > 0 && c < whole.len()));
        bounds.push(whole.len());
        bounds.dedup();
        let lens: Vec<u32> = bounds.windows(2).map(|w| (w[1] - w[0]) as u32).collect();
        let ids = self.tx.alloc(lens.len());
        let mut descs = Vec::with_capacity(ids.len());
        for (k, &i) in ids.iter().enumerate() {
            let addr = self.tx.slot(i);
            self.mem.write(addr, &whole[bounds[k]..bounds[k + 1]]);
            let last = k + 1 == ids.len();
            descs.push(Desc {
                addr,
                len: lens[k],
                flags: if last { 0 } else { VRING_DESC_F_NEXT },
                next: if last { 0 } else { ids[k + 1] },
            });
        }
        let head = self.tx.add_raw_chain(&self.mem, &ids, &descs);
        self.kick_tx();
        head
    }

    /// Posts `count` device-writable RX chains, each made of segments of
    /// `seg_lens` bytes. Returns their heads.
    pub fn post_rx(&mut self, count: usize, seg_lens: &[u32]) -> Vec<u16> {
        let heads = (0..count)
            .map(|_| self.rx.add_chain(&self.mem, seg_lens, true).0)
            .collect();
        self.kick_rx();
        heads
    }

    /// Reads the next delivered packet from the RX used ring, gathering all
    /// of its buffers (MRG_RXBUF). `None` if the device published nothing.
    /// A zero-length used element comes back as a packet with no header
    /// bytes read and an empty frame.
    pub fn recv(&mut self) -> Option<RxPacket> {
        let first = self.rx_used_with_bytes()?;
        let mut used = vec![first.0];
        let mut bytes = first.1;
        if first.0.len == 0 {
            return Some(RxPacket {
                used,
                hdr: [0; NET_HDR_LEN],
                frame: Vec::new(),
            });
        }
        let mut hdr = [0u8; NET_HDR_LEN];
        let n = bytes.len().min(NET_HDR_LEN);
        hdr[..n].copy_from_slice(&bytes[..n]);
        let nbuf = u16::from_le_bytes([hdr[10], hdr[11]]);
        if self.mrg_rxbuf() {
            let deadline = Instant::now() + Duration::from_secs(1);
            while used.len() < usize::from(nbuf) && Instant::now() < deadline {
                match self.rx_used_with_bytes() {
                    Some((u, b)) => {
                        used.push(u);
                        bytes.extend_from_slice(&b);
                    }
                    None => std::thread::yield_now(),
                }
            }
        }
        let frame = bytes
            .get(NET_HDR_LEN..)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        Some(RxPacket { used, hdr, frame })
    }

    /// Pops one RX used element and copies the `len` bytes the device claims
    /// to have written, following our own descriptors for that head.
    fn rx_used_with_bytes(&mut self) -> Option<(Used, Vec<u8>)> {
        // Read our descriptors before popping: pop_used frees the chain.
        let peek = self.rx.peek_used(&self.mem)?;
        let descs: Vec<Desc> = match u16::try_from(peek.id).ok().and_then(|h| self.rx.chain(h)) {
            Some(ids) => ids.iter().map(|&i| self.read_desc(&self.rx, i)).collect(),
            None => Vec::new(),
        };
        let u = self.rx.pop_used(&self.mem)?;
        let mut left = u.len as usize;
        let mut out = Vec::with_capacity(left);
        for d in descs {
            if left == 0 {
                break;
            }
            let n = left.min(d.len as usize);
            let mut buf = vec![0u8; n];
            self.mem.read(d.addr, &mut buf);
            out.extend_from_slice(&buf);
            left -= n;
        }
        assert_eq!(
            left, 0,
            "device claims {} bytes, more than chain {} holds",
            u.len, u.id
        );
        Some((u, out))
    }

    pub fn read_desc(&self, q: &SplitQueue, i: u16) -> Desc {
        let at = q.layout.desc + 16 * u64::from(i);
        let mut b = [0u8; 16];
        self.mem.read(at, &mut b);
        Desc {
            addr: u64::from_le_bytes(b[0..8].try_into().unwrap_or_default()),
            len: u32::from_le_bytes(b[8..12].try_into().unwrap_or_default()),
            flags: u16::from_le_bytes([b[12], b[13]]),
            next: u16::from_le_bytes([b[14], b[15]]),
        }
    }
}

/// Accepts one connection, giving up after `timeout`.
pub fn accept_timeout(listener: &UnixListener, timeout: Duration) -> Result<UnixStream, BoxError> {
    listener.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// SET_VRING_ENABLE(1) for rings 0 and 1 written straight to the socket (rust-vmm's frontend
/// refuses to send it before SET_FEATURES; QEMU does). With `ack`, NEED_REPLY is set and the
/// backend's u64 reply must say success.
fn early_enable(raw: &mut UnixStream, ack: bool) -> Result<(), BoxError> {
    use std::io::{Read, Write};
    for ring in 0u32..2 {
        let mut body = ring.to_le_bytes().to_vec();
        body.extend_from_slice(&1u32.to_le_bytes());
        let flags = if ack { 0x1 | 0x8 } else { 0x1 };
        raw.write_all(&super::raw_msg(18, flags, &body))?;
        if ack {
            let mut reply = [0u8; 20];
            raw.read_exact(&mut reply)?;
            let value = u64::from_le_bytes(reply[12..20].try_into()?);
            if reply[0..4] != 18u32.to_le_bytes() || value != 0 {
                return Err(format!("SET_VRING_ENABLE {ring} answered {reply:?}").into());
            }
        }
    }
    Ok(())
}
