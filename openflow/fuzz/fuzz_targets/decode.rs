//! Fuzz `openflow::decode`: it must never panic, and whatever it accepts must re-encode to bytes
//! that decode and re-encode identically (strings are normalised once, so compare encodings).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((h, m)) = openflow::decode(data) {
        let bytes = openflow::encode_to_vec(h.xid, &m);
        let (_, again) = openflow::decode(&bytes).expect("own encoding decodes");
        assert_eq!(openflow::encode_to_vec(h.xid, &again), bytes);
    }
});
