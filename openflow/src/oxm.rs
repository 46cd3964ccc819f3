//! OXM: the TLV match encoding of OpenFlow 1.3 (`struct ofp_match` of type OFPMT_OXM).
//!
//! A decoded match is a list of [`OxmField`]s in wire order, each remembering whether it carried a
//! mask, so that re-encoding (e.g. a flow-stats reply) reproduces the controller's bytes exactly.
//! Fields are named with flowtable's [`Field`] enum; the table in [`wire_id`] gives each field
//! exactly one wire form: OpenFlow-basic (class 0x8000) where one exists, Nicira NXM_NX_* (class
//! 0x0001) for registers, TTL and fragment bits, and the ONF experimenter form (as Open vSwitch
//! sends it for OpenFlow 1.3) for TCP flags. Decoding checks everything that can be checked on one
//! TLV (length, mask allowed, value within width, value bits inside mask, duplicates); OpenFlow
//! prerequisites need the whole match and are checked when converting to a flowtable match.

use crate::error::DecodeError;
use crate::header::{pad8, patch_len, Put, Reader};
use flowtable::Field;

/// OXM class of OpenFlow basic fields.
pub const OFPXMC_OPENFLOW_BASIC: u16 = 0x8000;
/// OXM class of Nicira extension fields (NXM_NX_*).
pub const OFPXMC_NXM_1: u16 = 0x0001;
/// OXM class of experimenter fields.
pub const OFPXMC_EXPERIMENTER: u16 = 0xffff;
/// ONF experimenter id (used by the 1.3 TCP-flags extension).
pub const ONF_EXPERIMENTER_ID: u32 = 0x4f4e_4600;
/// Match type OFPMT_OXM.
pub const OFPMT_OXM: u16 = 1;
/// The VLAN_VID bit meaning "a tag is present".
pub const OFPVID_PRESENT: u16 = 0x1000;

/// One match field as carried on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OxmField {
    /// Which field.
    pub field: Field,
    /// Value (right-aligned, big-endian interpretation of the wire bytes).
    pub value: u128,
    /// Mask, when the TLV had HASMASK set.
    pub mask: Option<u128>,
}

impl OxmField {
    /// An exact (unmasked) field.
    pub fn exact(field: Field, value: u128) -> OxmField {
        OxmField {
            field,
            value,
            mask: None,
        }
    }

    /// A masked field.
    pub fn masked(field: Field, value: u128, mask: u128) -> OxmField {
        OxmField {
            field,
            value,
            mask: Some(mask),
        }
    }
}

/// How a field is spelled on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireId {
    /// OXM class.
    pub class: u16,
    /// Field number within the class.
    pub field: u8,
    /// Experimenter id, for class 0xffff.
    pub experimenter: Option<u32>,
    /// Value length in bytes.
    pub len: u8,
    /// Whether HASMASK is accepted.
    pub maskable: bool,
}

const fn basic(field: u8, len: u8, maskable: bool) -> WireId {
    WireId {
        class: OFPXMC_OPENFLOW_BASIC,
        field,
        experimenter: None,
        len,
        maskable,
    }
}

const fn nxm(field: u8, len: u8, maskable: bool) -> WireId {
    WireId {
        class: OFPXMC_NXM_1,
        field,
        experimenter: None,
        len,
        maskable,
    }
}

/// The wire form of `f`. Masks are accepted where OpenFlow 1.3 allows them, plus the L4 ports
/// and ND fields that Open vSwitch also lets controllers mask.
pub fn wire_id(f: Field) -> WireId {
    match f {
        Field::InPort => basic(0, 4, false),
        Field::Metadata => basic(2, 8, true),
        Field::EthDst => basic(3, 6, true),
        Field::EthSrc => basic(4, 6, true),
        Field::EthType => basic(5, 2, false),
        Field::VlanVid => basic(6, 2, true),
        Field::VlanPcp => basic(7, 1, false),
        Field::IpDscp => basic(8, 1, false),
        Field::IpEcn => basic(9, 1, false),
        Field::IpProto => basic(10, 1, false),
        Field::Ipv4Src => basic(11, 4, true),
        Field::Ipv4Dst => basic(12, 4, true),
        Field::TcpSrc => basic(13, 2, true),
        Field::TcpDst => basic(14, 2, true),
        Field::UdpSrc => basic(15, 2, true),
        Field::UdpDst => basic(16, 2, true),
        Field::SctpSrc => basic(17, 2, true),
        Field::SctpDst => basic(18, 2, true),
        Field::Icmpv4Type => basic(19, 1, false),
        Field::Icmpv4Code => basic(20, 1, false),
        Field::ArpOp => basic(21, 2, false),
        Field::ArpSpa => basic(22, 4, true),
        Field::ArpTpa => basic(23, 4, true),
        Field::ArpSha => basic(24, 6, true),
        Field::ArpTha => basic(25, 6, true),
        Field::Ipv6Src => basic(26, 16, true),
        Field::Ipv6Dst => basic(27, 16, true),
        Field::Ipv6Label => basic(28, 4, true),
        Field::Icmpv6Type => basic(29, 1, false),
        Field::Icmpv6Code => basic(30, 1, false),
        Field::NdTarget => basic(31, 16, true),
        Field::NdSll => basic(32, 6, true),
        Field::NdTll => basic(33, 6, true),
        Field::MplsLabel => basic(34, 4, false),
        Field::MplsTc => basic(35, 1, false),
        Field::MplsBos => basic(36, 1, false),
        Field::TunnelId => basic(38, 8, true),
        Field::Ipv6Exthdr => basic(39, 2, true),
        Field::MplsTtl => nxm(30, 1, false),
        Field::Reg(i) => nxm(i & 7, 4, true),
        Field::IpFrag => nxm(26, 1, true),
        Field::IpTtl => nxm(29, 1, false),
        Field::TcpFlags => WireId {
            class: OFPXMC_EXPERIMENTER,
            field: 42,
            experimenter: Some(ONF_EXPERIMENTER_ID),
            len: 2,
            maskable: true,
        },
    }
}

/// The field for a wire (class, field, experimenter) triple.
pub fn field_for(class: u16, field: u8, experimenter: Option<u32>) -> Option<Field> {
    Field::ALL.iter().copied().find(|&f| {
        let w = wire_id(f);
        w.class == class && w.field == field && w.experimenter == experimenter
    })
}

/// The 32-bit OXM header of `f` (HASMASK and length filled in).
pub fn oxm_header(f: Field, has_mask: bool) -> u32 {
    let w = wire_id(f);
    let exp = if w.experimenter.is_some() { 4 } else { 0 };
    let len = u32::from(w.len) * if has_mask { 2 } else { 1 } + exp;
    (u32::from(w.class) << 16) | (u32::from(w.field) << 9) | (u32::from(has_mask) << 8) | len
}

fn be_value(b: &[u8]) -> u128 {
    b.iter().fold(0u128, |a, &x| (a << 8) | u128::from(x))
}

fn put_value(out: &mut Vec<u8>, v: u128, len: u8) {
    out.extend_from_slice(&v.to_be_bytes()[16 - usize::from(len)..]);
}

/// Decode one OXM TLV. `set_field` selects the error codes of the set-field action instead of the
/// match ones (and forbids masks).
pub fn decode_oxm(r: &mut Reader<'_>, set_field: bool) -> Result<OxmField, DecodeError> {
    let (len_err, field_err) = if set_field {
        (DecodeError::ActionBadSetLen, DecodeError::ActionBadSetType)
    } else {
        (
            DecodeError::MatchBadLen,
            DecodeError::MatchBadField { class: 0, field: 0 },
        )
    };
    let h = r.u32().map_err(|_| len_err)?;
    let class = (h >> 16) as u16;
    let fnum = ((h >> 9) & 0x7f) as u8;
    let has_mask = (h >> 8) & 1 == 1;
    let len = (h & 0xff) as usize;
    let mut body = r.sub(len, len_err).map_err(|_| len_err)?;
    let experimenter = if class == OFPXMC_EXPERIMENTER {
        Some(body.u32()?)
    } else {
        None
    };
    let field = field_for(class, fnum, experimenter).ok_or(match field_err {
        DecodeError::MatchBadField { .. } => DecodeError::MatchBadField { class, field: fnum },
        e => e,
    })?;
    let w = wire_id(field);
    let vlen = usize::from(w.len);
    if body.remaining() != vlen * if has_mask { 2 } else { 1 } {
        return Err(len_err);
    }
    let value = be_value(body.bytes(vlen)?);
    let mask = if has_mask {
        Some(be_value(body.bytes(vlen)?))
    } else {
        None
    };
    let name = field.name();
    if set_field {
        if has_mask || value & !field.full_mask() != 0 {
            return Err(DecodeError::ActionBadSetArgument);
        }
    } else {
        if has_mask && !w.maskable {
            return Err(DecodeError::MatchBadMask(name));
        }
        if value & !field.full_mask() != 0 {
            return Err(DecodeError::MatchBadValue(name));
        }
        if let Some(m) = mask {
            if value & !m != 0 {
                return Err(DecodeError::MatchBadWildcards(name));
            }
        }
    }
    Ok(OxmField { field, value, mask })
}

/// Append one OXM TLV.
pub fn encode_oxm(f: &OxmField, out: &mut Vec<u8>) {
    let w = wire_id(f.field);
    out.put_u32(oxm_header(f.field, f.mask.is_some()));
    if let Some(e) = w.experimenter {
        out.put_u32(e);
    }
    put_value(out, f.value, w.len);
    if let Some(m) = f.mask {
        put_value(out, m, w.len);
    }
}

/// Decode a `struct ofp_match` (header, OXM TLVs, padding to 8 bytes).
pub fn decode_match(r: &mut Reader<'_>) -> Result<Vec<OxmField>, DecodeError> {
    let mtype = r.u16().map_err(|_| DecodeError::MatchBadLen)?;
    let len = usize::from(r.u16().map_err(|_| DecodeError::MatchBadLen)?);
    if mtype != OFPMT_OXM {
        return Err(DecodeError::MatchBadType(mtype));
    }
    if len < 4 {
        return Err(DecodeError::MatchBadLen);
    }
    let mut body = r.sub(len - 4, DecodeError::MatchBadLen)?;
    r.skip(pad8(len) - len)
        .map_err(|_| DecodeError::MatchBadLen)?;
    let mut fields: Vec<OxmField> = Vec::new();
    while !body.is_empty() {
        let f = decode_oxm(&mut body, false)?;
        if fields.iter().any(|g| g.field == f.field) {
            return Err(DecodeError::MatchDupField(f.field.name()));
        }
        fields.push(f);
    }
    Ok(fields)
}

/// Append a `struct ofp_match` for `fields`, padded to 8 bytes.
pub fn encode_match(fields: &[OxmField], out: &mut Vec<u8>) {
    let start = out.len();
    out.put_u16(OFPMT_OXM);
    out.put_u16(0);
    for f in fields {
        encode_oxm(f, out);
    }
    patch_len(out, start + 2, start);
    out.pad8_from(start);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeError as E;

    fn dec(b: &[u8]) -> Result<Vec<OxmField>, DecodeError> {
        let mut r = Reader::new(b, E::MatchBadLen);
        let m = decode_match(&mut r)?;
        assert!(r.is_empty());
        Ok(m)
    }

    #[test]
    fn in_port_and_masked_ipv4_dst() {
        // ofp_match: type 1, length 4 + 8 + 12 = 24, no padding needed.
        let b = [
            0x00, 0x01, 0x00, 0x18, //
            0x80, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07, // in_port=7
            0x80, 0x00, 0x19, 0x08, 10, 0, 0, 0, 255, 0, 0, 0, // ipv4_dst=10.0.0.0/8
        ];
        let m = dec(&b).unwrap();
        assert_eq!(
            m,
            vec![
                OxmField::exact(Field::InPort, 7),
                OxmField::masked(Field::Ipv4Dst, 0x0a00_0000, 0xff00_0000)
            ]
        );
        let mut out = Vec::new();
        encode_match(&m, &mut out);
        assert_eq!(out, b);
    }

    #[test]
    fn empty_match_is_padded_to_eight() {
        let mut out = Vec::new();
        encode_match(&[], &mut out);
        assert_eq!(out, [0, 1, 0, 4, 0, 0, 0, 0]);
        assert_eq!(dec(&out).unwrap(), vec![]);
    }

    #[test]
    fn every_field_round_trips_exact_and_masked() {
        for &f in Field::ALL {
            let v = 0x0123_4567_89ab_cdef_0011_2233_4455_6677u128 & f.full_mask();
            let mut fields = vec![OxmField::exact(f, v)];
            if wire_id(f).maskable {
                fields[0] = OxmField::masked(f, v & 0xff, 0xff);
            }
            let mut out = Vec::new();
            encode_match(&fields, &mut out);
            assert_eq!(out.len() % 8, 0);
            assert_eq!(dec(&out).unwrap(), fields, "{f:?}");
        }
    }

    #[test]
    fn rejects_bad_tlvs_with_the_right_code() {
        // value outside mask
        let b = [0, 1, 0, 16, 0x80, 0, 0x19, 0x08, 10, 0, 0, 1, 255, 0, 0, 0];
        assert_eq!(dec(&b), Err(E::MatchBadWildcards("nw_dst")));
        // masked in_port
        let b = [
            0, 1, 0, 16, 0x80, 0, 0x01, 0x08, 0, 0, 0, 1, 255, 255, 255, 255,
        ];
        assert_eq!(dec(&b), Err(E::MatchBadMask("in_port")));
        // unknown field (in_phy_port)
        let b = [0, 1, 0, 12, 0x80, 0, 0x02, 0x04, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(
            dec(&b),
            Err(E::MatchBadField {
                class: 0x8000,
                field: 1
            })
        );
        // wrong length for in_port
        let b = [0, 1, 0, 10, 0x80, 0, 0x00, 0x02, 0, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(dec(&b), Err(E::MatchBadLen));
        // vlan_pcp 9 is out of range
        let b = [0, 1, 0, 9, 0x80, 0, 0x0e, 0x01, 9, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(dec(&b), Err(E::MatchBadValue("vlan_pcp")));
        // duplicate eth_type
        let b = [0, 1, 0, 16, 0x80, 0, 0x0a, 2, 8, 0, 0x80, 0, 0x0a, 2, 8, 0];
        assert_eq!(dec(&b), Err(E::MatchDupField("dl_type")));
        // standard (OF1.1) match type
        let b = [0, 0, 0, 4, 0, 0, 0, 0];
        assert_eq!(dec(&b), Err(E::MatchBadType(0)));
    }

    #[test]
    fn tcp_flags_uses_onf_experimenter_form() {
        let f = OxmField::masked(Field::TcpFlags, 0x002, 0x012);
        let mut out = Vec::new();
        encode_oxm(&f, &mut out);
        assert_eq!(
            out,
            [0xff, 0xff, 0x55, 0x08, 0x4f, 0x4e, 0x46, 0x00, 0x00, 0x02, 0x00, 0x12]
        );
        let mut r = Reader::new(&out, E::MatchBadLen);
        assert_eq!(decode_oxm(&mut r, false), Ok(f));
    }
}
