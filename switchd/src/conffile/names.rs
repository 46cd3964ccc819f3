//! What bridge, port and interface names may be, for both configuration front ends (the file and
//! the Open_vSwitch database).
//!
//! Names end up in places where a bad one does harm: a bridge's name is a file name in the run
//! directory (`<rundir>/<bridge>.mgmt`, so `../x` would escape it), a kernel-backed port's
//! interface name goes to the kernel, a `dpdkvhostuser` interface's name is a socket file name.
//! The rules:
//! - a bridge name is 1..=[`BRIDGE_NAME_MAX`] bytes of `A-Z a-z 0-9 _ . -`, not starting with
//!   `.` or `-` (so never `.`, `..` or an option-looking name);
//! - a port name is 1..=[`PORT_NAME_MAX`] bytes without `/`, whitespace or control characters,
//!   and not `.` or `..`;
//! - a kernel interface name follows Linux (`dev_valid_name`): 1..=[`IFNAME_MAX`] bytes, not `.`
//!   or `..`, without `/`, `:`, whitespace or control characters.
//!
//! Each check returns the reason as text; the front end adds where the name came from.

/// Longest bridge name.
pub const BRIDGE_NAME_MAX: usize = 64;

/// Longest port name.
pub const PORT_NAME_MAX: usize = 64;

/// Longest Linux interface name (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Check a bridge name; the error is a sentence naming it.
pub fn check_bridge(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("bridge name must not be empty".into());
    }
    if name.len() > BRIDGE_NAME_MAX {
        return Err(format!(
            "bridge name {name:?} is longer than {BRIDGE_NAME_MAX} bytes"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "bridge name {name:?} contains {c:?} (allowed: letters, digits, '_', '.', '-')"
        ));
    }
    if name.starts_with(['.', '-']) {
        return Err(format!(
            "bridge name {name:?} must not start with '.' or '-'"
        ));
    }
    Ok(())
}

/// Check a port name; the error is a sentence naming it.
pub fn check_port(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("port name must not be empty".into());
    }
    if name.len() > PORT_NAME_MAX {
        return Err(format!(
            "port name {name:?} is longer than {PORT_NAME_MAX} bytes"
        ));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "port name {name:?} contains whitespace or a control character"
        ));
    }
    if name.contains('/') || name == "." || name == ".." {
        return Err(format!(
            "port name {name:?} contains '/' or is \".\" or \"..\""
        ));
    }
    Ok(())
}

/// Check a kernel interface name (Linux's rule); the error is a sentence naming it.
pub fn check_interface(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > IFNAME_MAX {
        return Err(format!(
            "interface name {name:?} must be 1..{IFNAME_MAX} bytes long"
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("interface name {name:?} is not a valid name"));
    }
    if name
        .chars()
        .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "interface name {name:?} contains '/', ':' or whitespace"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_names() {
        for ok in [
            "br0",
            "br-int",
            "br_ex.100",
            "B",
            &"b".repeat(BRIDGE_NAME_MAX),
        ] {
            assert_eq!(check_bridge(ok), Ok(()), "{ok}");
        }
        let err = |n: &str| check_bridge(n).unwrap_err();
        assert_eq!(err(""), "bridge name must not be empty");
        assert_eq!(
            err("../escaped"),
            "bridge name \"../escaped\" contains '/' (allowed: letters, digits, '_', '.', '-')"
        );
        assert_eq!(
            err(".."),
            "bridge name \"..\" must not start with '.' or '-'"
        );
        assert_eq!(err("."), "bridge name \".\" must not start with '.' or '-'");
        assert_eq!(
            err("-br"),
            "bridge name \"-br\" must not start with '.' or '-'"
        );
        assert!(err("br 0").contains("contains ' '"));
        assert!(err("br\n0").contains("contains '\\n'"));
        assert!(err("brü").contains("contains 'ü'"));
        assert!(err(&"b".repeat(BRIDGE_NAME_MAX + 1)).contains("longer than 64 bytes"));
    }

    #[test]
    fn port_names() {
        for ok in [
            "vm1",
            "tap0f1e2d3c-4b",
            "a:b",
            "p.1",
            &"p".repeat(PORT_NAME_MAX),
        ] {
            assert_eq!(check_port(ok), Ok(()), "{ok}");
        }
        let err = |n: &str| check_port(n).unwrap_err();
        assert_eq!(err(""), "port name must not be empty");
        assert_eq!(
            err("a b"),
            "port name \"a b\" contains whitespace or a control character"
        );
        assert_eq!(
            err("../x"),
            "port name \"../x\" contains '/' or is \".\" or \"..\""
        );
        assert!(err("..").contains("is \".\" or \"..\""));
        assert!(err(&"p".repeat(PORT_NAME_MAX + 1)).contains("longer than 64 bytes"));
    }

    #[test]
    fn interface_names_follow_linux() {
        for ok in ["eth0", "veth-vm1", "a.b", &"i".repeat(IFNAME_MAX)] {
            assert_eq!(check_interface(ok), Ok(()), "{ok}");
        }
        let err = |n: &str| check_interface(n).unwrap_err();
        assert!(err("").contains("must be 1..15 bytes long"));
        assert!(err(&"i".repeat(IFNAME_MAX + 1)).contains("must be 1..15 bytes long"));
        assert_eq!(err(".."), "interface name \"..\" is not a valid name");
        for bad in ["a/b", "a:b", "a b", "a\tb"] {
            assert!(
                err(bad).contains("contains '/', ':' or whitespace"),
                "{bad}"
            );
        }
    }
}
