//! Fuzz the `ovs-ofctl` flow syntax: `flowtable::text::parse_flow` (add-flow) and `parse_match`
//! (del-flows, dump-flows, trace), with a port-name table so named ports are reachable.
//!
//! Property beyond "no panic": the module promises that a dumped flow fed back to add-flow
//! yields the same rule, so every string `parse_flow` accepts is turned into a rule, printed
//! with `format_flow` (as dump-flows does) and parsed again; table, priority, cookie, timeouts,
//! flags, match (in written order) and instructions must come back equal.
#![no_main]

use flowtable::text::{format_flow, parse_flow, parse_match};
use libfuzzer_sys::fuzz_target;

const PORTS: [(&str, u32); 3] = [("p1", 1), ("uplink", 2), ("vm-a", 10)];

fn lookup(name: &str) -> Option<u32> {
    PORTS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
}

fn names(port: u32) -> Option<String> {
    PORTS
        .iter()
        .find(|(_, p)| *p == port)
        .map(|(n, _)| n.to_string())
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_match(s, &lookup);
    let Ok(fm) = parse_flow(s, &lookup) else {
        return;
    };
    let e = fm.into_entry(0);
    let dumped = format_flow(&e, 0, &names);
    let back = parse_flow(&dumped, &lookup)
        .unwrap_or_else(|err| panic!("dump of {s:?} is {dumped:?}, which does not parse: {err}"));
    let b = back.into_entry(0);
    assert_eq!(
        (
            e.table,
            e.priority,
            e.cookie,
            e.idle_timeout,
            e.hard_timeout,
            e.flags
        ),
        (
            b.table,
            b.priority,
            b.cookie,
            b.idle_timeout,
            b.hard_timeout,
            b.flags
        ),
        "flow-mod parameters of {s:?} via {dumped:?}"
    );
    assert_eq!(e.m, b.m, "match of {s:?} via {dumped:?}");
    assert_eq!(
        e.instructions, b.instructions,
        "instructions of {s:?} via {dumped:?}"
    );
});
