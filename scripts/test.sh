#!/usr/bin/env bash
# The whole suite: unit, property and end-to-end tests (root-only tests skip, saying why, when
# not run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
cargo test --workspace -- --test-threads="${DVS_TEST_THREADS:-2}"
