//! Reading the files a configuration names, safely: the config file itself, `flows_file` and the
//! TLS files (`ssl_*`, read by `ofp::tls`).
//!
//! All are opened without blocking (a FIFO with no writer must not hang the switch), must be
//! regular files (a device such as `/dev/zero`, a FIFO or a directory is refused by what it is),
//! and are read through a `take()` limit one byte past their size cap, so neither a huge file
//! nor one that grows while it is read can make the switch read without bound.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest config file (`switch.toml`) the switch reads: 4 MiB.
pub const CONFIG_MAX_BYTES: u64 = 4 << 20;

/// Largest `flows_file` the switch reads: 64 MiB (about half a million typical flows).
pub const FLOWS_FILE_MAX_BYTES: u64 = 64 << 20;

/// The whole of the regular file at `path` as UTF-8 text, refused when it is anything but a
/// regular file or longer than `limit` bytes. The error says which (the caller names the file).
pub(crate) fn read_bounded(path: &Path, limit: u64) -> io::Result<String> {
    let file = open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file is larger than {}", size_text(limit)),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

/// Open `path` for reading without blocking, and make sure it is a regular file.
fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let what = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({what})"),
    ))
}

/// `limit` bytes for a message: whole MiB or KiB when exact.
fn size_text(limit: u64) -> String {
    const MIB: u64 = 1 << 20;
    const KIB: u64 = 1 << 10;
    if limit >= MIB && limit.is_multiple_of(MIB) {
        format!("{} MiB", limit / MIB)
    } else if limit >= KIB && limit.is_multiple_of(KIB) {
        format!("{} KiB", limit / KIB)
    } else {
        format!("{limit} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A scratch directory for one test, removed at the end.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let d = std::env::temp_dir().join(format!("dvs-read-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&d).unwrap();
            Scratch(d)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn regular_files_within_the_limit_are_read() {
        let s = Scratch::new("ok");
        let f = s.0.join("f");
        std::fs::write(&f, "12345").unwrap();
        assert_eq!(read_bounded(&f, 5).unwrap(), "12345");
        let e = read_bounded(&f, 4).unwrap_err().to_string();
        assert_eq!(e, "file is larger than 4 bytes");
    }

    #[test]
    fn devices_fifos_and_directories_are_refused() {
        let s = Scratch::new("kinds");
        let err = |p: &Path| read_bounded(p, CONFIG_MAX_BYTES).unwrap_err().to_string();
        assert_eq!(
            err(Path::new("/dev/zero")),
            "not a regular file (a character device)"
        );
        assert_eq!(err(&s.0), "not a regular file (a directory)");
        let fifo = s.0.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer: a blocking open would hang here.
        assert_eq!(err(&fifo), "not a regular file (a FIFO)");
    }

    #[test]
    fn sizes_read_as_units() {
        assert_eq!(size_text(CONFIG_MAX_BYTES), "4 MiB");
        assert_eq!(size_text(FLOWS_FILE_MAX_BYTES), "64 MiB");
        assert_eq!(size_text(2048), "2 KiB");
        assert_eq!(size_text(1000), "1000 bytes");
    }
}
