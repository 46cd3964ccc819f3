//! Key extraction must survive arbitrary bytes: no panic, and the ingress port always recorded.

use flowtable::extract::extract;
use flowtable::key::FlowKey;
use proptest::prelude::*;

/// Frames that start with a plausible Ethernet/VLAN/IP prefix, so the fuzzing reaches deep parsers
/// instead of stopping at an unknown ethertype.
fn structured() -> impl Strategy<Value = Vec<u8>> {
    let ethertypes = prop::sample::select(vec![0x0800u16, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x0042]);
    (
        prop::collection::vec(ethertypes, 1..4),
        prop::sample::select(vec![0x45u8, 0x46, 0x4f, 0x60, 0x41]),
        prop::sample::select(vec![0u8, 1, 6, 17, 43, 44, 51, 58, 60, 132]),
        prop::collection::vec(any::<u8>(), 0..120),
    )
        .prop_map(|(types, first, proto, tail)| {
            let mut f = vec![0u8; 12];
            for (i, t) in types.iter().enumerate() {
                f.extend_from_slice(&t.to_be_bytes());
                if i + 1 < types.len() {
                    f.extend_from_slice(&[0, 1]);
                }
            }
            f.push(first);
            f.extend_from_slice(&tail);
            if f.len() > 24 {
                // IPv6 next-header or IPv4 protocol position for an untagged frame.
                if first >> 4 == 6 {
                    f[20] = proto;
                } else {
                    f[23] = proto;
                }
            }
            f
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn arbitrary_bytes_never_panic(frame in prop::collection::vec(any::<u8>(), 0..200), port: u32) {
        let mut key = FlowKey::all_ones();
        extract(&frame, port, &mut key);
        prop_assert_eq!(key.in_port, port);
        prop_assert_eq!(key.ipv6_exthdr >> 9, 0);
    }

    #[test]
    fn structured_frames_never_panic(frame in structured()) {
        let mut key = FlowKey::all_ones();
        extract(&frame, 1, &mut key);
        prop_assert_eq!(key.in_port, 1);
        prop_assert_eq!(key.metadata, 0);
        if frame.len() < 14 {
            prop_assert_eq!(key.eth_type, 0);
        }
    }
}
