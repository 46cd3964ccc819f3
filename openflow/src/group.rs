//! GROUP_MOD (`struct ofp_group_mod`, 16 bytes) and the bucket list it shares with the
//! group-description multipart reply (`struct ofp_bucket`, 16 bytes + actions).
//!
//! Group types and commands are enums because an unknown one must be refused with its own
//! GROUP_MOD_FAILED code; bucket semantics (weights only for select, watch fields only for
//! fast-failover) are left to the switch, which knows what it supports.

use crate::action::{decode_actions, encode_actions, Action};
use crate::error::DecodeError;
use crate::header::{patch_len, Put, Reader};

/// Group type (`enum ofp_group_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum GroupType {
    /// OFPGT_ALL: every bucket.
    All = 0,
    /// OFPGT_SELECT: one bucket, chosen by hash and weight.
    Select = 1,
    /// OFPGT_INDIRECT: the single bucket.
    Indirect = 2,
    /// OFPGT_FF: the first live bucket.
    FastFailover = 3,
}

impl GroupType {
    /// The type for a wire value.
    pub fn from_u8(v: u8) -> Result<GroupType, DecodeError> {
        Ok(match v {
            0 => GroupType::All,
            1 => GroupType::Select,
            2 => GroupType::Indirect,
            3 => GroupType::FastFailover,
            _ => return Err(DecodeError::GroupBadType(v)),
        })
    }
}

/// GROUP_MOD command (`enum ofp_group_mod_command`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum GroupModCommand {
    /// OFPGC_ADD.
    Add = 0,
    /// OFPGC_MODIFY.
    Modify = 1,
    /// OFPGC_DELETE.
    Delete = 2,
}

/// One bucket.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Bucket {
    /// Relative weight (select groups).
    pub weight: u16,
    /// Port whose liveness gates the bucket (fast-failover), or OFPP_ANY.
    pub watch_port: u32,
    /// Group whose liveness gates the bucket (fast-failover), or OFPG_ANY.
    pub watch_group: u32,
    /// Actions applied to the packet copy.
    pub actions: Vec<Action>,
}

/// Decode a bucket list filling `b` exactly.
pub fn decode_buckets(b: &[u8]) -> Result<Vec<Bucket>, DecodeError> {
    let mut r = Reader::new(b, DecodeError::GroupBadBucket);
    let mut v = Vec::new();
    while !r.is_empty() {
        let len = usize::from(r.u16()?);
        if len < 16 || len % 8 != 0 {
            return Err(DecodeError::GroupBadBucket);
        }
        let mut br = r.sub(len - 2, DecodeError::GroupBadBucket)?;
        let weight = br.u16()?;
        let watch_port = br.u32()?;
        let watch_group = br.u32()?;
        br.skip(4)?;
        v.push(Bucket {
            weight,
            watch_port,
            watch_group,
            actions: decode_actions(br.rest())?,
        });
    }
    Ok(v)
}

/// Append a bucket list.
pub fn encode_buckets(buckets: &[Bucket], out: &mut Vec<u8>) {
    for b in buckets {
        let start = out.len();
        out.put_u16(0);
        out.put_u16(b.weight);
        out.put_u32(b.watch_port);
        out.put_u32(b.watch_group);
        out.put_zeros(4);
        encode_actions(&b.actions, out);
        patch_len(out, start, start);
    }
}

/// An OFPT_GROUP_MOD.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GroupMod {
    /// Command.
    pub command: GroupModCommand,
    /// Group type.
    pub group_type: GroupType,
    /// Group id (OFPG_ALL for delete-all).
    pub group_id: u32,
    /// Buckets.
    pub buckets: Vec<Bucket>,
}

impl GroupMod {
    /// Decode the body.
    pub fn decode(r: &mut Reader<'_>) -> Result<GroupMod, DecodeError> {
        let cmd = r.u16()?;
        let gtype = r.u8()?;
        r.skip(1)?;
        let group_id = r.u32()?;
        let command = match cmd {
            0 => GroupModCommand::Add,
            1 => GroupModCommand::Modify,
            2 => GroupModCommand::Delete,
            _ => return Err(DecodeError::GroupBadCommand(cmd)),
        };
        Ok(GroupMod {
            command,
            group_type: GroupType::from_u8(gtype)?,
            group_id,
            buckets: decode_buckets(r.rest())?,
        })
    }

    /// Append the body.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.put_u16(self.command as u16);
        out.put_u8(self.group_type as u8);
        out.put_u8(0);
        out.put_u32(self.group_id);
        encode_buckets(&self.buckets, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_group_round_trips() {
        let g = GroupMod {
            command: GroupModCommand::Add,
            group_type: GroupType::Select,
            group_id: 7,
            buckets: vec![
                Bucket {
                    weight: 10,
                    watch_port: 0xffff_ffff,
                    watch_group: 0xffff_ffff,
                    actions: vec![Action::Output {
                        port: 1,
                        max_len: 0,
                    }],
                },
                Bucket {
                    weight: 20,
                    watch_port: 2,
                    watch_group: 0xffff_ffff,
                    actions: vec![],
                },
            ],
        };
        #[rustfmt::skip]
        let bytes: Vec<u8> = vec![
            0, 0, 1, 0, 0, 0, 0, 7,
            0, 32, 0, 10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
            0, 0, 0, 16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 16, 0, 20, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
        ];
        let mut out = Vec::new();
        g.encode(&mut out);
        assert_eq!(out, bytes);
        let mut r = Reader::new(&bytes, DecodeError::BadLen);
        assert_eq!(GroupMod::decode(&mut r), Ok(g));
    }

    #[test]
    fn bad_type_command_and_bucket() {
        let mut r = Reader::new(&[0, 0, 9, 0, 0, 0, 0, 1], DecodeError::BadLen);
        assert_eq!(GroupMod::decode(&mut r), Err(DecodeError::GroupBadType(9)));
        let mut r = Reader::new(&[0, 5, 0, 0, 0, 0, 0, 1], DecodeError::BadLen);
        assert_eq!(
            GroupMod::decode(&mut r),
            Err(DecodeError::GroupBadCommand(5))
        );
        assert_eq!(
            decode_buckets(&[0, 8, 0, 0, 0, 0, 0, 0]),
            Err(DecodeError::GroupBadBucket)
        );
    }
}
