//! Names for the feature and status bits a frontend negotiates, so that "why has my VM no
//! link" can be answered from `dvsctl switch show` without a spec at hand. Bits without a
//! name here print as `bit<N>`.

/// Virtio (device and transport) feature bits of virtio-net, with the vhost-user bit 30.
const FEATURES: &[(u32, &str)] = &[
    (0, "CSUM"),
    (1, "GUEST_CSUM"),
    (2, "CTRL_GUEST_OFFLOADS"),
    (3, "MTU"),
    (5, "MAC"),
    (7, "GUEST_TSO4"),
    (8, "GUEST_TSO6"),
    (9, "GUEST_ECN"),
    (10, "GUEST_UFO"),
    (11, "HOST_TSO4"),
    (12, "HOST_TSO6"),
    (13, "HOST_ECN"),
    (14, "HOST_UFO"),
    (15, "MRG_RXBUF"),
    (16, "STATUS"),
    (17, "CTRL_VQ"),
    (18, "CTRL_RX"),
    (19, "CTRL_VLAN"),
    (21, "GUEST_ANNOUNCE"),
    (22, "MQ"),
    (23, "CTRL_MAC_ADDR"),
    (24, "NOTIFY_ON_EMPTY"),
    (27, "ANY_LAYOUT"),
    (28, "INDIRECT_DESC"),
    (29, "EVENT_IDX"),
    (30, "PROTOCOL_FEATURES"),
    (32, "VERSION_1"),
    (33, "ACCESS_PLATFORM"),
    (34, "RING_PACKED"),
    (35, "IN_ORDER"),
    (36, "ORDER_PLATFORM"),
    (40, "RING_RESET"),
];

/// vhost-user protocol feature bits.
const PROTOCOL: &[(u32, &str)] = &[
    (0, "MQ"),
    (1, "LOG_SHMFD"),
    (2, "RARP"),
    (3, "REPLY_ACK"),
    (4, "NET_MTU"),
    (5, "BACKEND_REQ"),
    (6, "CROSS_ENDIAN"),
    (7, "CRYPTO_SESSION"),
    (8, "PAGEFAULT"),
    (9, "CONFIG"),
    (10, "BACKEND_SEND_FD"),
    (11, "HOST_NOTIFIER"),
    (12, "INFLIGHT_SHMFD"),
    (13, "RESET_DEVICE"),
    (14, "INBAND_NOTIFICATIONS"),
    (15, "CONFIGURE_MEM_SLOTS"),
    (16, "STATUS"),
    (17, "XEN_MMAP"),
    (18, "SHARED_OBJECT"),
    (19, "DEVICE_STATE"),
];

/// Virtio device status bits.
const STATUS: &[(u32, &str)] = &[
    (0, "ACKNOWLEDGE"),
    (1, "DRIVER"),
    (2, "DRIVER_OK"),
    (3, "FEATURES_OK"),
    (6, "NEEDS_RESET"),
    (7, "FAILED"),
];

fn names(bits: u64, table: &[(u32, &'static str)]) -> Vec<String> {
    (0..64)
        .filter(|b| bits & (1u64 << b) != 0)
        .map(|b| match table.iter().find(|(n, _)| *n == b) {
            Some((_, name)) => (*name).to_string(),
            None => format!("bit{b}"),
        })
        .collect()
}

/// Names of the virtio-net feature bits set in `f`.
pub fn feature_names(f: u64) -> Vec<String> {
    names(f, FEATURES)
}

/// Names of the vhost-user protocol feature bits set in `p`.
pub fn protocol_feature_names(p: u64) -> Vec<String> {
    names(p, PROTOCOL)
}

/// Names of the virtio device status bits set in `s`.
pub fn status_names(s: u8) -> Vec<String> {
    names(u64::from(s), STATUS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_known_and_unknown_bits() {
        assert_eq!(
            feature_names((1 << 32) | (1 << 15) | (1 << 20)),
            ["MRG_RXBUF", "bit20", "VERSION_1"]
        );
        assert_eq!(
            protocol_feature_names(0x12009),
            ["MQ", "REPLY_ACK", "RESET_DEVICE", "STATUS"]
        );
        assert_eq!(
            status_names(0x0f),
            ["ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK"]
        );
        assert!(status_names(0).is_empty());
    }
}
