#!/usr/bin/env bash
# Build a lab (namespace VMs on two VLANs behind dvs-switchd), run reachability checks, print
# what passed and the switch's counters. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins -q
exec "$(pwd)/target/debug/dvs-lab"
