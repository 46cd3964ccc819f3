//! Writing into guest buffers and copying between them and our frames, for
//! [`crate::net`]: the receive virtio-net header written compare-first,
//! the planning of a frame's copies into the buffers its chains provide, and
//! the small-copy routine both directions use in their copy pass.
//!
//! Everything here takes host pointers already translated and checked by
//! [`crate::hostmem::HostMap`] for the whole length the caller names, so the
//! functions are `unsafe` with that as their contract, and never form
//! references into guest memory (the guest may write it concurrently).

use crate::net::MAX_HDR_LEN;

/// One buffer of a chain: its checked host address (kept as an integer so
/// the queue stays `Send`; it is only dereferenced within the burst that
/// translated it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seg {
    pub(crate) host: usize,
    pub(crate) len: u32,
}

/// One copy of frame bytes into a guest buffer, planned while collecting
/// and done in the burst's copy pass. `nbufs != 0` marks a frame's first
/// copy, whose virtio-net header (of `nbufs` buffers) sits just before `dst`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuestCopy {
    pub(crate) dst: usize,
    pub(crate) src: usize,
    pub(crate) len: u32,
    pub(crate) nbufs: u16,
}

/// Make the receive virtio-net header at `dst` say "no flags, no GSO",
/// `num_buffers` = `nbufs` (12-byte layout), writing only the words that
/// differ. The buffer usually held a frame of ours before and its driver
/// cleared the header the same way, so the line stays shared between the two
/// cores instead of moving back and forth on every packet.
///
/// # Safety
/// `dst` must be valid for reads and writes of `hdr_len` (10 or 12) bytes.
#[inline]
pub(crate) unsafe fn write_header(dst: *mut u8, hdr_len: usize, nbufs: u16) {
    // SAFETY: the caller guarantees `hdr_len` bytes; unaligned loads and
    // stores of plain integers.
    unsafe {
        let lo = dst.cast::<u64>();
        if std::ptr::read_unaligned(lo) != 0 {
            std::ptr::write_unaligned(lo, 0);
        }
        if hdr_len == 12 {
            let hi = dst.add(8).cast::<u32>();
            let want = (u32::from(nbufs) << 16).to_le();
            if std::ptr::read_unaligned(hi) != want {
                std::ptr::write_unaligned(hi, want);
            }
        } else {
            let hi = dst.add(8).cast::<u16>();
            if std::ptr::read_unaligned(hi) != 0 {
                std::ptr::write_unaligned(hi, 0);
            }
        }
    }
}

/// Plan the copies of `frame` into the buffers `segs` (in order, after the
/// virtio-net header of `nbufs` buffers). The header is left to the caller,
/// marked on the first copy, when it sits just before that copy in the first
/// buffer; otherwise (a first buffer with no room after the header, or an
/// empty frame) it is written here.
///
/// # Safety
/// Every segment must be valid for writes of its `len` bytes, together they
/// must hold `hdr_len + frame.len()` bytes, and `frame` must stay alive until
/// the copies are done.
pub(crate) unsafe fn plan_frame(
    segs: &[Seg],
    hdr_len: usize,
    nbufs: u16,
    frame: &[u8],
    copies: &mut Vec<GuestCopy>,
) {
    let Some(first) = segs.first() else {
        return;
    };
    let room = (first.len as usize).saturating_sub(hdr_len);
    if room == 0 || frame.is_empty() {
        // SAFETY: as for this function.
        return unsafe { write_frame_now(segs, hdr_len, nbufs, frame) };
    }
    let mut mark = nbufs.max(1);
    let (mut dst, mut room) = (first.host + hdr_len, room);
    let mut rest = frame;
    let mut next = segs[1..].iter();
    loop {
        let n = room.min(rest.len());
        copies.push(GuestCopy {
            dst,
            src: rest.as_ptr() as usize,
            len: n as u32,
            nbufs: std::mem::take(&mut mark),
        });
        rest = &rest[n..];
        if rest.is_empty() {
            return;
        }
        // The caller guarantees the capacity, so this never runs dry.
        let Some(s) = next.next() else { return };
        (dst, room) = (s.host, s.len as usize);
    }
}

/// Copy `n` bytes between a guest buffer and one of our frames. Up to 64
/// bytes (the common small packet) move as four 16-byte loads and stores
/// inline, rather than through a call whose return address and spilled
/// registers are more stores in the queue (see `enqueue`).
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes, not overlapping.
#[inline(always)]
pub(crate) unsafe fn copy_small(src: *const u8, dst: *mut u8, n: usize) {
    #[cfg(target_arch = "x86_64")]
    if (32..=64).contains(&n) {
        use std::arch::x86_64::{_mm_loadu_si128, _mm_storeu_si128};
        // SAFETY: `32 <= n <= 64`, so all four 16-byte accesses (the last
        // two may overlap the first two) lie inside the `n` bytes; SSE2 is
        // part of the x86_64 baseline.
        unsafe {
            let a = _mm_loadu_si128(src.cast());
            let b = _mm_loadu_si128(src.add(16).cast());
            let c = _mm_loadu_si128(src.add(n - 32).cast());
            let d = _mm_loadu_si128(src.add(n - 16).cast());
            _mm_storeu_si128(dst.cast(), a);
            _mm_storeu_si128(dst.add(16).cast(), b);
            _mm_storeu_si128(dst.add(n - 32).cast(), c);
            _mm_storeu_si128(dst.add(n - 16).cast(), d);
        }
        return;
    }
    // SAFETY: the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, n) };
}

/// [`plan_frame`]'s rare case, written at once: header and frame as one
/// byte stream (the first buffer may even be shorter than the header, which
/// is legal and never done by real drivers).
///
/// # Safety
/// As for [`plan_frame`].
#[cold]
#[inline(never)]
unsafe fn write_frame_now(segs: &[Seg], hdr_len: usize, nbufs: u16, frame: &[u8]) {
    let mut hdr = [0u8; MAX_HDR_LEN];
    hdr[10..12].copy_from_slice(&nbufs.to_le_bytes());
    let hdr = &hdr[..hdr_len];
    let total = hdr_len + frame.len();
    let mut src = 0usize;
    for s in segs {
        if src == total {
            break;
        }
        let n = (s.len as usize).min(total - src);
        // SAFETY: `s.host` is writable for `s.len >= n` bytes (caller), and
        // `src + n <= total`.
        unsafe { write_stream(s.host as *mut u8, hdr, frame, src, n) };
        src += n;
    }
}

/// Write bytes `[src, src + n)` of the stream `hdr ++ frame` at `dst`.
///
/// # Safety
/// `dst` must be valid for writes of `n` bytes, and `src + n` at most
/// `hdr.len() + frame.len()`.
unsafe fn write_stream(dst: *mut u8, hdr: &[u8], frame: &[u8], src: usize, n: usize) {
    let mut done = 0usize;
    if src < hdr.len() {
        let h = (hdr.len() - src).min(n);
        // SAFETY: `h <= n` bytes at `dst` are writable (caller); the source
        // is inside `hdr`; guest memory never overlaps our own buffers.
        unsafe { std::ptr::copy_nonoverlapping(hdr.as_ptr().add(src), dst, h) };
        done = h;
    }
    if done < n {
        let f0 = src + done - hdr.len();
        let rest = &frame[f0..f0 + (n - done)];
        // SAFETY: as above, for the remaining `n - done` bytes.
        unsafe { std::ptr::copy_nonoverlapping(rest.as_ptr(), dst.add(done), rest.len()) };
    }
}
