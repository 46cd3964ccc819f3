//! `decode` must never panic, whatever the bytes: arbitrary input, and valid messages with
//! random corruption (so that decoding gets past the header into every nested parser). Whenever
//! decoding succeeds, the message must re-encode to something that decodes to the same value.

mod vectors;

use openflow::{decode, encode_to_vec, frame_len};
use proptest::prelude::*;

fn check(bytes: &[u8]) {
    let _ = frame_len(bytes);
    if let Ok((h, m)) = decode(bytes) {
        let once = encode_to_vec(h.xid, &m);
        let (_, again) = decode(&once).expect("our own encoding decodes");
        assert_eq!(
            encode_to_vec(h.xid, &again),
            once,
            "encoding not stable for {m:?}"
        );
    }
}

fn with_length(mut b: Vec<u8>) -> Vec<u8> {
    if b.len() >= 4 {
        let n = u16::try_from(b.len()).unwrap_or(u16::MAX).to_be_bytes();
        b[2] = n[0];
        b[3] = n[1];
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes(mut b in proptest::collection::vec(any::<u8>(), 0..300), t in 0u8..32) {
        if b.len() >= 2 {
            b[0] = 4;
            b[1] = t;
        }
        check(&b);
        check(&with_length(b));
    }

    #[test]
    fn mutated_vectors(
        which in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let all = vectors::all();
        let mut b = all[which.index(all.len())].bytes.clone();
        for (i, v) in edits {
            // Leave the header alone half the time so the body parsers get exercised.
            let at = i.index(b.len());
            if at >= 8 || v & 1 == 0 {
                b[at] = v;
            }
        }
        if truncate {
            b.truncate(cut.index(b.len() + 1));
        }
        check(&b);
        check(&with_length(b));
    }
}

#[test]
fn every_prefix_of_every_vector() {
    for v in vectors::all() {
        for n in 0..v.bytes.len() {
            check(&v.bytes[..n]);
            check(&with_length(v.bytes[..n].to_vec()));
        }
    }
}
