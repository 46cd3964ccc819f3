//! Who may use the switch's sockets: the control socket and each bridge's OpenFlow management
//! socket are private to the switch's user (mode 0600), or shared with one group (0660) named
//! by `[switch] socket_group`, so that operators in that group need no root. Binding goes through
//! `switchd_api::sockfile`, which never leaves a socket reachable before it is private.

use std::ffi::CString;

/// The id of group `name`.
pub fn group_id(name: &str) -> Result<u32, String> {
    let c = CString::new(name).map_err(|_| format!("bad group name {name:?}"))?;
    let mut buf = vec![0u8; 16384];
    // SAFETY: `grp` is plain data filled by getgrnam_r; `buf` outlives the call and its length
    // is passed; `found` is written by the call.
    let (rc, found) = unsafe {
        let mut grp: libc::group = std::mem::zeroed();
        let mut found: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrnam_r(
            c.as_ptr(),
            &mut grp,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        );
        (
            rc,
            if found.is_null() {
                None
            } else {
                Some(grp.gr_gid)
            },
        )
    };
    match (rc, found) {
        (0, Some(gid)) => Ok(gid),
        (0, None) => Err(format!("no group named {name:?}")),
        (e, _) => Err(format!(
            "cannot look up group {name:?}: {}",
            std::io::Error::from_raw_os_error(e)
        )),
    }
}

/// The group id of `[switch] socket_group`, if set (it was checked when the configuration was
/// read; a group removed since is an error now).
pub fn socket_gid(group: Option<&str>) -> Result<Option<u32>, String> {
    group.map(group_id).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_resolve_by_name() {
        assert_eq!(group_id("root"), Ok(0));
        assert!(group_id("no-such-group-dvs")
            .unwrap_err()
            .contains("no group"));
        assert!(group_id("a\0b").is_err());
    }
}
