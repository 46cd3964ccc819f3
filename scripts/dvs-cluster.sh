#!/usr/bin/env bash
# The distributed switch on one machine: `up` starts dvsm, a top-of-rack switch and two hosts
# (dvs-switchd + ovsdb-server + dvs-agent each), configures four VMs on two port groups through
# dvsctl, prints a reachability matrix and per-port counters, and leaves it running; `down`
# removes it. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins -q
exec "$(pwd)/target/debug/dvs-cluster" "${1:-up}"
