#!/usr/bin/env bash
# The whole suite: unit, property and end-to-end tests (root-only tests skip, saying why, when
# not run as root). Ends with one "N passed, N failed" line summed over every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --bins
log=$(mktemp)
fuzz_log=$(mktemp)
trap 'rm -f "$log" "$fuzz_log"' EXIT
status=0
cargo test --workspace --no-fail-fast -- --test-threads="${DVS_TEST_THREADS:-2}" 2>&1 | tee "$log" || status=$?
# The vhost-user PVP harness in smoke mode: a few seconds per case, asserts only that traffic
# flowed through dvs-switchd (root, testpmd and hugepages needed; skipped otherwise).
pvp=0
if [[ $(id -u) -eq 0 ]] && command -v dpdk-testpmd >/dev/null; then
  if bench/pktgen/run.sh --ci; then pvp=1; else status=1; echo "pktgen smoke run: FAILED"; fi
else
  echo "pktgen smoke run: skipped (needs root and dpdk-testpmd)"
fi
# The fuzz targets' smoke run: each target briefly, from the seeds kept in fuzz/seeds (inputs that
# once crashed are replayed first); a crash fails the suite.
# Counted as one test: passed when it ran clean, failed when it failed, neither when it skipped.
fuzz=0 fuzz_failed=0
if scripts/fuzz.sh --smoke 2>&1 | tee "$fuzz_log"; then
  grep -q '^fuzz run: ok' "$fuzz_log" && fuzz=1
else
  status=1 fuzz_failed=1
  echo "fuzz smoke run: FAILED"
fi
awk -v pvp="$pvp" -v fuzz="$fuzz" -v ff="$fuzz_failed" '/^test result:/ { p += $4; f += $6 }
  END { printf "%d passed, %d failed\n", p + pvp + fuzz, f + ff }' "$log"
exit "$status"
