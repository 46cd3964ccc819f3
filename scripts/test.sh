#!/usr/bin/env bash
# The whole suite: unit, property and end-to-end tests (root-only tests skip, saying why, when
# not run as root). Ends with one "N passed, N failed" line summed over every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace -- --test-threads="${DVS_TEST_THREADS:-2}" 2>&1 | tee "$log" || status=$?
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
