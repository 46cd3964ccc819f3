#!/usr/bin/env bash
# watch.sh -- one long dvs PVP run, sampled in windows: per window, the PMD's Mpps, busy cycles
# per packet, average burst and idle share; with --perf also a `perf record` of the PMD thread per
# window (/tmp/watch-winN.data), to compare the profiles of fast and slow stretches.
#
# Why: on this virtual machine the cost of a cross-core cache transfer flips between two states
# over tens of seconds, and a run's state can differ from what `c2c` probes just before and after
# it (both cores idle). Windows of one run show both states side by side, with the same build.
#
# Usage: sudo bench/pktgen/watch.sh [-c case] [-t secs] [-w window_secs] [--perf]
#   DVS_BIN=PATH runs that dvs-switchd (as in run.sh), to watch two builds alternately.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
CASE=port; SECS=45; WIN=3; PERF=0
while [ $# -gt 0 ]; do
  case $1 in
    -c) CASE=$2; shift 2 ;;
    -t) SECS=$2; shift 2 ;;
    -w) WIN=$2; shift 2 ;;
    --perf) PERF=1; shift ;;
    *) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "watch.sh: needs root" >&2; exit 1; }
DVSCTL=${CARGO_TARGET_DIR:-$REPO/target}/release/dvsctl
LOG=$(mktemp /tmp/watch.XXXXXX.log)
"$HERE/run.sh" -s dvs -c "$CASE" -r 1 -t "$SECS" --idle-wait 5 > "$LOG" 2>&1 &
RUNNER=$!
SOCK=""; TID=""
for _ in $(seq 1 120); do
  SOCK=$(ls -t /tmp/pktgen.*/run*/dvs/run/dvs-switchd.sock 2>/dev/null | head -1)
  PID=""
  [ -n "$SOCK" ] && PID=$(pgrep -f -- "--config $(dirname "$(dirname "$SOCK")")/switch.toml" | head -1)
  if [ -n "$SOCK" ] && [ -n "$PID" ]; then
    TID=$(for t in /proc/"$PID"/task/*; do [ "$(cat "$t/comm" 2>/dev/null)" = pmd0 ] && basename "$t"; done)
    [ -n "$TID" ] && break
  fi
  sleep 1
done
[ -n "$TID" ] || { echo "watch.sh: no dvs PMD appeared (log: $LOG)" >&2; wait "$RUNNER"; exit 1; }
sleep 5  # the harness's warm-up
snap() {
  echo "$(date +%s.%N) $("$DVSCTL" --socket "$SOCK" --json switch pmd-stats 2>/dev/null |
    jq -r '.[0] | "\(.packets) \(.batches) \(.busy_cycles) \(.idle_cycles)"')"
}
prev=$(snap); w=0
while kill -0 "$RUNNER" 2>/dev/null && [ $(( (w + 1) * WIN + 5 )) -lt "$SECS" ]; do
  if [ "$PERF" = 1 ]; then
    perf record -q -e cpu-clock -F 4999 -t "$TID" -o "/tmp/watch-win$w.data" -- sleep "$WIN" >/dev/null 2>&1
  else
    sleep "$WIN"
  fi
  cur=$(snap)
  echo "$prev $cur" | awk -v w="$w" 'NF == 10 && $7 > $2 {
    dt = $6 - $1; dp = $7 - $2; db = $8 - $3; dbc = $9 - $4; dic = $10 - $5
    printf "win%d mpps=%.2f busy_cyc/pkt=%.0f batch=%.1f idle=%.0f%%\n", w, dp / dt / 1e6, dbc / dp, dp / db, 100 * dic / (dbc + dic) }'
  prev=$cur; w=$((w + 1))
done
wait "$RUNNER"
grep -E '^RUN' "$LOG"
rm -f "$LOG"
