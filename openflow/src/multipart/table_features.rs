//! OFPMP_TABLE_FEATURES bodies (`struct ofp_table_features`, 64 bytes + properties), used in
//! both directions: a controller may send them to reconfigure tables and the switch answers with
//! its own.
//!
//! Properties are TLVs padded to 8 bytes whose lengths exclude the padding. Instruction and action
//! ids are kept as (type, trailing bytes) so experimenter ids survive; OXM ids as the 32-bit
//! header plus the experimenter id that follows it for class 0xffff. [`TableFeatures::ours`]
//! builds the description of a table that supports everything this codec can convert.

use crate::action::action_type;
use crate::error::DecodeError;
use crate::header::{get_str, pad8, patch_len, put_str, Put, Reader};
use crate::instruction::instruction_type;
use crate::oxm::{oxm_header, wire_id, OFPXMC_EXPERIMENTER};
use flowtable::Field;

/// An instruction or action id (`struct ofp_instruction_id` / `ofp_action_id`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ElemId {
    /// Instruction or action type.
    pub typ: u16,
    /// Bytes after the 4-byte header (the experimenter id for experimenter types).
    pub data: Vec<u8>,
}

/// An OXM id: a header without value, plus the experimenter id for class 0xffff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OxmId {
    /// OXM header (class, field, hasmask, length).
    pub header: u32,
    /// Experimenter id (class 0xffff only).
    pub experimenter: Option<u32>,
}

impl OxmId {
    /// The id of `field`, with or without HASMASK.
    pub fn of(field: Field, has_mask: bool) -> OxmId {
        OxmId {
            header: oxm_header(field, has_mask),
            experimenter: wire_id(field).experimenter,
        }
    }
}

/// Which list a property describes; `miss` selects the table-miss variant.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TableFeatureProp {
    /// OFPTFPT_INSTRUCTIONS(_MISS).
    Instructions {
        /// Table-miss variant.
        miss: bool,
        /// Supported instructions.
        ids: Vec<ElemId>,
    },
    /// OFPTFPT_NEXT_TABLES(_MISS).
    NextTables {
        /// Table-miss variant.
        miss: bool,
        /// Tables reachable by goto_table.
        tables: Vec<u8>,
    },
    /// OFPTFPT_WRITE_ACTIONS(_MISS).
    WriteActions {
        /// Table-miss variant.
        miss: bool,
        /// Supported actions.
        ids: Vec<ElemId>,
    },
    /// OFPTFPT_APPLY_ACTIONS(_MISS).
    ApplyActions {
        /// Table-miss variant.
        miss: bool,
        /// Supported actions.
        ids: Vec<ElemId>,
    },
    /// OFPTFPT_MATCH.
    Match(Vec<OxmId>),
    /// OFPTFPT_WILDCARDS.
    Wildcards(Vec<OxmId>),
    /// OFPTFPT_WRITE_SETFIELD(_MISS).
    WriteSetfield {
        /// Table-miss variant.
        miss: bool,
        /// Settable fields.
        ids: Vec<OxmId>,
    },
    /// OFPTFPT_APPLY_SETFIELD(_MISS).
    ApplySetfield {
        /// Table-miss variant.
        miss: bool,
        /// Settable fields.
        ids: Vec<OxmId>,
    },
    /// OFPTFPT_EXPERIMENTER(_MISS).
    Experimenter {
        /// Table-miss variant.
        miss: bool,
        /// Experimenter id.
        experimenter: u32,
        /// Experimenter type.
        exp_type: u32,
        /// Body (without padding).
        data: Vec<u8>,
    },
}

/// One table's features.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TableFeatures {
    /// Table id.
    pub table_id: u8,
    /// Name (at most 31 bytes are sent).
    pub name: String,
    /// Metadata bits the table can match.
    pub metadata_match: u64,
    /// Metadata bits the table can write.
    pub metadata_write: u64,
    /// OFPTC_* bits.
    pub config: u32,
    /// Maximum number of flows.
    pub max_entries: u32,
    /// Properties in wire order.
    pub properties: Vec<TableFeatureProp>,
}

const OFP_MAX_TABLE_NAME_LEN: usize = 32;

fn elem_ids(r: &mut Reader<'_>) -> Result<Vec<ElemId>, DecodeError> {
    let mut v = Vec::new();
    while !r.is_empty() {
        let typ = r.u16()?;
        let len = usize::from(r.u16()?);
        if len < 4 {
            return Err(DecodeError::TableFeaturesBadLen);
        }
        v.push(ElemId {
            typ,
            data: r.bytes(len - 4)?.to_vec(),
        });
    }
    Ok(v)
}

fn oxm_ids(r: &mut Reader<'_>) -> Result<Vec<OxmId>, DecodeError> {
    let mut v = Vec::new();
    while !r.is_empty() {
        let header = r.u32()?;
        let experimenter = if (header >> 16) as u16 == OFPXMC_EXPERIMENTER {
            Some(r.u32()?)
        } else {
            None
        };
        v.push(OxmId {
            header,
            experimenter,
        });
    }
    Ok(v)
}

fn decode_prop(typ: u16, b: &mut Reader<'_>) -> Result<TableFeatureProp, DecodeError> {
    use TableFeatureProp as P;
    let miss = typ & 1 == 1;
    Ok(match typ {
        0 | 1 => P::Instructions {
            miss,
            ids: elem_ids(b)?,
        },
        2 | 3 => P::NextTables {
            miss,
            tables: b.rest().to_vec(),
        },
        4 | 5 => P::WriteActions {
            miss,
            ids: elem_ids(b)?,
        },
        6 | 7 => P::ApplyActions {
            miss,
            ids: elem_ids(b)?,
        },
        8 => P::Match(oxm_ids(b)?),
        10 => P::Wildcards(oxm_ids(b)?),
        12 | 13 => P::WriteSetfield {
            miss,
            ids: oxm_ids(b)?,
        },
        14 | 15 => P::ApplySetfield {
            miss,
            ids: oxm_ids(b)?,
        },
        0xfffe | 0xffff => P::Experimenter {
            miss,
            experimenter: b.u32()?,
            exp_type: b.u32()?,
            data: b.rest().to_vec(),
        },
        other => return Err(DecodeError::TableFeaturesBadType(other)),
    })
}

fn put_elem_ids(ids: &[ElemId], out: &mut Vec<u8>) {
    for id in ids {
        out.put_u16(id.typ);
        out.put_u16(4 + u16::try_from(id.data.len()).unwrap_or(0));
        out.extend_from_slice(&id.data);
    }
}

fn put_oxm_ids(ids: &[OxmId], out: &mut Vec<u8>) {
    for id in ids {
        out.put_u32(id.header);
        if let Some(e) = id.experimenter {
            out.put_u32(e);
        }
    }
}

fn encode_prop(p: &TableFeatureProp, out: &mut Vec<u8>) {
    use TableFeatureProp as P;
    let start = out.len();
    let (base, miss) = match p {
        P::Instructions { miss, .. } => (0, *miss),
        P::NextTables { miss, .. } => (2, *miss),
        P::WriteActions { miss, .. } => (4, *miss),
        P::ApplyActions { miss, .. } => (6, *miss),
        P::Match(_) => (8, false),
        P::Wildcards(_) => (10, false),
        P::WriteSetfield { miss, .. } => (12, *miss),
        P::ApplySetfield { miss, .. } => (14, *miss),
        P::Experimenter { miss, .. } => (0xfffe, *miss),
    };
    out.put_u16(base | u16::from(miss));
    out.put_u16(0);
    match p {
        P::Instructions { ids, .. } | P::WriteActions { ids, .. } | P::ApplyActions { ids, .. } => {
            put_elem_ids(ids, out)
        }
        P::NextTables { tables, .. } => out.extend_from_slice(tables),
        P::Match(ids)
        | P::Wildcards(ids)
        | P::WriteSetfield { ids, .. }
        | P::ApplySetfield { ids, .. } => put_oxm_ids(ids, out),
        P::Experimenter {
            experimenter,
            exp_type,
            data,
            ..
        } => {
            out.put_u32(*experimenter);
            out.put_u32(*exp_type);
            out.extend_from_slice(data);
        }
    }
    patch_len(out, start + 2, start);
    out.pad8_from(start);
}

impl TableFeatures {
    /// Decode one entry.
    pub fn decode(r: &mut Reader<'_>) -> Result<TableFeatures, DecodeError> {
        let bad = DecodeError::TableFeaturesBadLen;
        let len = usize::from(r.u16().map_err(|_| bad)?);
        if len < 64 {
            return Err(bad);
        }
        let mut b = r.sub(len - 2, bad).map_err(|_| bad)?;
        let table_id = b.u8()?;
        b.skip(5)?;
        let name = get_str(b.bytes(OFP_MAX_TABLE_NAME_LEN)?);
        let mut t = TableFeatures {
            table_id,
            name,
            metadata_match: b.u64()?,
            metadata_write: b.u64()?,
            config: b.u32()?,
            max_entries: b.u32()?,
            properties: Vec::new(),
        };
        while !b.is_empty() {
            let typ = b.u16()?;
            let plen = usize::from(b.u16()?);
            if plen < 4 {
                return Err(bad);
            }
            let mut pb = b.sub(plen - 4, bad)?;
            b.skip(pad8(plen) - plen)?;
            t.properties.push(decode_prop(typ, &mut pb)?);
        }
        Ok(t)
    }

    /// Append one entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put_u16(0);
        out.put_u8(self.table_id);
        out.put_zeros(5);
        put_str(out, &self.name, OFP_MAX_TABLE_NAME_LEN);
        out.put_u64(self.metadata_match);
        out.put_u64(self.metadata_write);
        out.put_u32(self.config);
        out.put_u32(self.max_entries);
        for p in &self.properties {
            encode_prop(p, out);
        }
        patch_len(out, start, start);
    }

    /// The features of table `table_id` in a pipeline of `n_tables` tables: every instruction,
    /// action and field the [`crate::convert`] module accepts, for both regular and miss flows.
    pub fn ours(table_id: u8, n_tables: u8, max_entries: u32) -> TableFeatures {
        use TableFeatureProp as P;
        let std_id = |typ: u16| ElemId { typ, data: vec![] };
        let insts: Vec<ElemId> = [
            instruction_type::GOTO_TABLE,
            instruction_type::WRITE_METADATA,
            instruction_type::WRITE_ACTIONS,
            instruction_type::APPLY_ACTIONS,
            instruction_type::CLEAR_ACTIONS,
            instruction_type::METER,
        ]
        .into_iter()
        .filter(|&t| {
            t != instruction_type::GOTO_TABLE || u16::from(table_id) + 1 < u16::from(n_tables)
        })
        .map(std_id)
        .collect();
        let actions: Vec<ElemId> = [
            action_type::OUTPUT,
            action_type::PUSH_VLAN,
            action_type::POP_VLAN,
            action_type::SET_QUEUE,
            action_type::GROUP,
            action_type::SET_NW_TTL,
            action_type::DEC_NW_TTL,
            action_type::SET_FIELD,
        ]
        .into_iter()
        .map(std_id)
        .collect();
        let next: Vec<u8> = (table_id.saturating_add(1)..n_tables).collect();
        // MATCH lists every field, with HASMASK where it may be masked; WILDCARDS lists the
        // fields that may be omitted (all of them); set-field ids never carry HASMASK.
        let matchable: Vec<OxmId> = Field::ALL
            .iter()
            .map(|&f| OxmId::of(f, wire_id(f).maskable))
            .collect();
        let fields: Vec<OxmId> = Field::ALL.iter().map(|&f| OxmId::of(f, false)).collect();
        let mut properties = Vec::new();
        for miss in [false, true] {
            properties.push(P::Instructions {
                miss,
                ids: insts.clone(),
            });
            properties.push(P::NextTables {
                miss,
                tables: next.clone(),
            });
            properties.push(P::WriteActions {
                miss,
                ids: actions.clone(),
            });
            properties.push(P::ApplyActions {
                miss,
                ids: actions.clone(),
            });
        }
        properties.push(P::Match(matchable));
        properties.push(P::Wildcards(fields.clone()));
        for miss in [false, true] {
            properties.push(P::WriteSetfield {
                miss,
                ids: fields.clone(),
            });
            properties.push(P::ApplySetfield {
                miss,
                ids: fields.clone(),
            });
        }
        TableFeatures {
            table_id,
            name: format!("table{table_id}"),
            metadata_match: u64::MAX,
            metadata_write: u64::MAX,
            config: 0,
            max_entries,
            properties,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_round_trips_and_is_padded() {
        let t = TableFeatures::ours(0, 4, 1_000_000);
        let mut out = Vec::new();
        t.encode(&mut out);
        assert_eq!(out.len() % 8, 0);
        assert_eq!(usize::from(u16::from_be_bytes([out[0], out[1]])), out.len());
        let mut r = Reader::new(&out, DecodeError::BadLen);
        assert_eq!(TableFeatures::decode(&mut r), Ok(t));
        assert!(r.is_empty());
    }

    #[test]
    fn next_tables_property_layout() {
        let p = TableFeatureProp::NextTables {
            miss: true,
            tables: vec![1, 2, 3],
        };
        let mut out = Vec::new();
        encode_prop(&p, &mut out);
        assert_eq!(out, [0, 3, 0, 7, 1, 2, 3, 0]);
    }
}
