//! The catalogue of hostile descriptor chains: each [`Case`] posts one
//! malformed chain (or buffer) through the test frontend and says what the
//! device must do with it. The same defects are aimed at the TX queue (the
//! guest sends) and the RX queue (the guest offers buffers), plus the
//! direction-specific ones (writable TX, read-only RX, oversize, runt and
//! header abuse). Chains use real slot buffers, with a valid packet on TX,
//! so that only the named defect is wrong.

use super::frame;
use super::frontend::{TestFrontend, NET_HDR_LEN, SCRATCH, UNMAPPED_GPA};
use super::virtq::{Desc, VRING_DESC_F_INDIRECT, VRING_DESC_F_NEXT, VRING_DESC_F_WRITE};

/// What the device must do with a hostile chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Counted in `bad_descriptors` (exactly once), not delivered, and its
    /// head (if it is a valid index) returned in the used ring with len 0.
    Bad,
    /// A well-formed chain whose frame cannot be carried (too big): not
    /// delivered, head returned; which counter it lands in is the device's call.
    Dropped,
}

/// Posts the hostile chain; returns the head the device should hand back,
/// or `None` if there is no valid head to return.
pub type Post = Box<dyn Fn(&mut TestFrontend) -> Option<u16>>;

pub struct Case {
    pub name: &'static str,
    pub expect: Expect,
    pub post: Post,
}

pub fn case(
    name: &'static str,
    expect: Expect,
    post: impl Fn(&mut TestFrontend) -> Option<u16> + 'static,
) -> Case {
    Case {
        name,
        expect,
        post: Box::new(post),
    }
}

/// Allocates `n` descriptors on TX (or RX), lets `make` build them, posts the
/// chain and kicks.
pub fn raw_chain(
    fe: &mut TestFrontend,
    tx: bool,
    n: usize,
    make: impl FnOnce(&TestFrontend, &[u16]) -> Vec<Desc>,
) -> Option<u16> {
    let ids = if tx { fe.tx.alloc(n) } else { fe.rx.alloc(n) };
    let descs = make(fe, &ids);
    let head = if tx {
        fe.tx.add_raw_chain(&fe.mem, &ids, &descs)
    } else {
        fe.rx.add_raw_chain(&fe.mem, &ids, &descs)
    };
    if tx {
        fe.kick_tx();
    } else {
        fe.kick_rx();
    }
    Some(head)
}

/// A valid header + 60-byte frame in TX slot `i`; returns its address.
pub fn tx_payload(fe: &TestFrontend, i: u16) -> u64 {
    let mut b = vec![0u8; NET_HDR_LEN];
    b.extend(frame(60, 0xee));
    let at = fe.tx.slot(i);
    fe.mem.write(at, &b);
    at
}

pub fn write_table(fe: &TestFrontend, at: u64, descs: &[Desc]) {
    for (k, d) in descs.iter().enumerate() {
        let p = at + 16 * k as u64;
        fe.mem.write_u64(p, d.addr);
        fe.mem.write_u32(p + 8, d.len);
        fe.mem.write_u16(p + 12, d.flags);
        fe.mem.write_u16(p + 14, d.next);
    }
}

pub fn d(addr: u64, len: u32, flags: u16, next: u16) -> Desc {
    Desc {
        addr,
        len,
        flags,
        next,
    }
}

/// Chains that are wrong whatever the direction; `w` is the direction's
/// legal flag (WRITE on RX, 0 on TX). Chains use the slots' real buffers
/// (with a valid packet on TX) so only the named defect is wrong.
pub fn common_cases(tx: bool) -> Vec<Case> {
    let w = if tx { 0 } else { VRING_DESC_F_WRITE };
    let payload =
        move |fe: &TestFrontend, i: u16| if tx { tx_payload(fe, i) } else { fe.rx.slot(i) };
    let mut v = vec![
        case("address outside any region", Expect::Bad, move |fe| {
            raw_chain(fe, tx, 1, |_, _| vec![d(UNMAPPED_GPA, 1024, w, 0)])
        }),
        case(
            "length runs off the end of region A into the hole",
            Expect::Bad,
            move |fe| {
                let at = fe.region_a_end() - 64;
                raw_chain(fe, tx, 1, |_, _| vec![d(at, 1024, w, 0)])
            },
        ),
        case(
            "length runs off the end of the last region",
            Expect::Bad,
            move |fe| {
                let end = fe.mem.regions.last().map(|r| r.end()).unwrap_or_default();
                raw_chain(fe, tx, 1, |_, _| vec![d(end - 16, 1024, w, 0)])
            },
        ),
        case("address + length overflows u64", Expect::Bad, move |fe| {
            raw_chain(fe, tx, 1, |_, _| vec![d(u64::MAX - 15, 1024, w, 0)])
        }),
        case("length u32::MAX", Expect::Bad, move |fe| {
            raw_chain(fe, tx, 1, |fe, ids| {
                vec![d(payload(fe, ids[0]), u32::MAX, w, 0)]
            })
        }),
        case("NEXT loop a -> b -> a", Expect::Bad, move |fe| {
            raw_chain(fe, tx, 2, |fe, ids| {
                vec![
                    d(
                        payload(fe, ids[0]),
                        NET_HDR_LEN as u32,
                        w | VRING_DESC_F_NEXT,
                        ids[1],
                    ),
                    d(payload(fe, ids[1]), 60, w | VRING_DESC_F_NEXT, ids[0]),
                ]
            })
        }),
        case(
            "chain longer than the queue (cycle through most of the table)",
            Expect::Bad,
            move |fe| {
                let free = if tx {
                    fe.tx.free_count()
                } else {
                    fe.rx.free_count()
                };
                let n = free - 4;
                raw_chain(fe, tx, n, |fe, ids| {
                    (0..ids.len())
                        .map(|k| {
                            d(
                                payload(fe, ids[k]),
                                16,
                                w | VRING_DESC_F_NEXT,
                                ids[(k + 1) % ids.len()],
                            )
                        })
                        .collect()
                })
            },
        ),
        case("next index beyond the table", Expect::Bad, move |fe| {
            let size = fe.tx.size();
            raw_chain(fe, tx, 1, |fe, ids| {
                vec![d(payload(fe, ids[0]), 40, w | VRING_DESC_F_NEXT, size + 7)]
            })
        }),
        case(
            "avail ring names a head beyond the table",
            Expect::Bad,
            move |fe| {
                let size = fe.tx.size();
                if tx {
                    fe.tx.push_head(&fe.mem, size + 3);
                    fe.kick_tx();
                } else {
                    fe.rx.push_head(&fe.mem, size + 3);
                    fe.kick_rx();
                }
                None
            },
        ),
        case(
            "chain shorter than the 12-byte header",
            Expect::Bad,
            move |fe| raw_chain(fe, tx, 1, |fe, ids| vec![d(payload(fe, ids[0]), 8, w, 0)]),
        ),
        case("zero-length descriptor", Expect::Bad, move |fe| {
            raw_chain(fe, tx, 1, |fe, ids| vec![d(payload(fe, ids[0]), 0, w, 0)])
        }),
    ];
    // Indirect descriptors: hostile tables if negotiated; any INDIRECT flag
    // at all if not.
    v.push(case(
        "indirect table outside any region / INDIRECT not negotiated",
        Expect::Bad,
        move |fe| {
            raw_chain(fe, tx, 1, |_, _| {
                vec![d(UNMAPPED_GPA, 32, VRING_DESC_F_INDIRECT, 0)]
            })
        },
    ));
    v.push(case(
        "indirect table length not a multiple of 16",
        Expect::Bad,
        move |fe| {
            let t = SCRATCH + if tx { 0 } else { 0x4000 };
            let p = payload(fe, 0);
            write_table(fe, t, &[d(p, 72, w, 0), d(p, 72, w, 0)]);
            raw_chain(fe, tx, 1, |_, _| vec![d(t, 20, VRING_DESC_F_INDIRECT, 0)])
        },
    ));
    v.push(case("indirect table of length 0", Expect::Bad, move |fe| {
        raw_chain(fe, tx, 1, |_, _| {
            vec![d(SCRATCH, 0, VRING_DESC_F_INDIRECT, 0)]
        })
    }));
    v.push(case("nested indirect table", Expect::Bad, move |fe| {
        let t = SCRATCH + if tx { 0x100 } else { 0x4100 };
        let p = payload(fe, 0);
        write_table(fe, t + 0x80, &[d(p, 72, w, 0)]);
        write_table(fe, t, &[d(t + 0x80, 16, VRING_DESC_F_INDIRECT, 0)]);
        raw_chain(fe, tx, 1, |_, _| vec![d(t, 16, VRING_DESC_F_INDIRECT, 0)])
    }));
    v.push(case(
        "indirect entry outside any region",
        Expect::Bad,
        move |fe| {
            let t = SCRATCH + if tx { 0x200 } else { 0x4200 };
            write_table(fe, t, &[d(UNMAPPED_GPA, 72, w, 0)]);
            raw_chain(fe, tx, 1, |_, _| vec![d(t, 16, VRING_DESC_F_INDIRECT, 0)])
        },
    ));
    v.push(case(
        "NEXT loop inside an indirect table",
        Expect::Bad,
        move |fe| {
            let t = SCRATCH + if tx { 0x300 } else { 0x4300 };
            let p = payload(fe, 0);
            write_table(
                fe,
                t,
                &[
                    d(p, 12, w | VRING_DESC_F_NEXT, 1),
                    d(p, 60, w | VRING_DESC_F_NEXT, 0),
                ],
            );
            raw_chain(fe, tx, 1, |_, _| vec![d(t, 32, VRING_DESC_F_INDIRECT, 0)])
        },
    ));
    v.push(case(
        "indirect next index beyond the table",
        Expect::Bad,
        move |fe| {
            let t = SCRATCH + if tx { 0x400 } else { 0x4400 };
            let p = payload(fe, 0);
            write_table(fe, t, &[d(p, 12, w | VRING_DESC_F_NEXT, 5), d(p, 60, w, 0)]);
            raw_chain(fe, tx, 1, |_, _| vec![d(t, 32, VRING_DESC_F_INDIRECT, 0)])
        },
    ));
    v
}

pub fn tx_cases() -> Vec<Case> {
    let mut v = common_cases(true);
    v.push(case(
        "device-writable descriptor on the TX queue",
        Expect::Bad,
        |fe| {
            raw_chain(fe, true, 1, |fe, ids| {
                vec![d(tx_payload(fe, ids[0]), 72, VRING_DESC_F_WRITE, 0)]
            })
        },
    ));
    v.push(case(
        "writable tail after a readable header on TX",
        Expect::Bad,
        |fe| {
            raw_chain(fe, true, 2, |fe, ids| {
                let p = tx_payload(fe, ids[0]);
                vec![
                    d(p, 12, VRING_DESC_F_NEXT, ids[1]),
                    d(fe.tx.slot(ids[1]), 60, VRING_DESC_F_WRITE, 0),
                ]
            })
        },
    ));
    v.push(case(
        "frame larger than any receive buffer (9000 bytes)",
        Expect::Dropped,
        |fe| {
            let big = frame(9000, 5);
            let head = fe.send(&big, &[4096, 8192]);
            Some(head)
        },
    ));
    v
}

pub fn rx_cases() -> Vec<Case> {
    let mut v = common_cases(false);
    v.push(case(
        "read-only descriptor on the RX queue",
        Expect::Bad,
        |fe| {
            raw_chain(fe, false, 1, |fe, ids| {
                vec![d(fe.rx.slot(ids[0]), 2048, 0, 0)]
            })
        },
    ));
    v.push(case(
        "read-only tail after a writable head on RX",
        Expect::Bad,
        |fe| {
            raw_chain(fe, false, 2, |fe, ids| {
                vec![
                    d(
                        fe.rx.slot(ids[0]),
                        12,
                        VRING_DESC_F_WRITE | VRING_DESC_F_NEXT,
                        ids[1],
                    ),
                    d(fe.rx.slot(ids[1]), 2048, 0, 0),
                ]
            })
        },
    ));
    v
}
