//! Unix socket files that only their owner (and, if asked, one group) can use.
//!
//! A socket bound in place and then `chmod`ed is open to everyone for a moment (its first mode
//! follows the process umask), and a client that connects in that moment keeps its connection.
//! So the socket is bound under a temporary name, given its owner, group and mode there, and
//! only then renamed into place: nobody can reach it by its real name before it is private.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

/// Bind a listening socket at `path`, mode 0600, or 0660 with group `gid` when given.
pub fn bind_private(path: &Path, gid: Option<u32>) -> io::Result<UnixListener> {
    let tmp = temp_name(path);
    let _ = std::fs::remove_file(&tmp);
    let listener = UnixListener::bind(&tmp)?;
    let result = (|| {
        let mode = match gid {
            Some(g) => {
                std::os::unix::fs::chown(&tmp, None, Some(g))?;
                0o660
            }
            None => 0o600,
        };
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&tmp, path)
    })();
    match result {
        Ok(()) => Ok(listener),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

fn temp_name(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_socket_is_private_whatever_the_umask() {
        let dir = std::env::temp_dir().join(format!("dvs-sockfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.sock");
        // SAFETY: umask only changes this process's file creation mask; the test restores it.
        let old = unsafe { libc::umask(0) };
        let l = bind_private(&path, None);
        // SAFETY: as above.
        unsafe { libc::umask(old) };
        let _l = l.unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert!(!temp_name(&path).exists());
        let gid = meta.gid();
        drop(_l);
        let _ = std::fs::remove_file(&path);
        let _l = bind_private(&path, Some(gid)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o660);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
