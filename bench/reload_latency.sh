#!/usr/bin/env bash
# Add-port latency through the file front end: how long `dvsctl switch reload` takes to add one
# port to a running dvs-switchd (and to remove it again) when the bridge already has N ports.
#
# The ports are `mock` ports (in-memory, no root needed), so this measures the control path
# (read and validate the file, diff, open, publish the port table, wait for the PMDs, bridge view,
# rx assignment), not a backend's setup time. Each reload is timed from the command's start to its
# answer; the switch has applied the change when it answers.
#
# Usage: bench/reload_latency.sh [reps] [sizes...]     (default: 20 reps; 0 100 1000 ports)
# Prints, per size, every sample and the p50/p99 in milliseconds.
set -euo pipefail
REPS=${1:-20}
shift || true
SIZES=("${@:-0 100 1000}")
[[ $# -gt 0 ]] || SIZES=(0 100 1000)
cd "$(dirname "$0")/.."
source bench/common.sh
dvs_build
WORK=$(mktemp -d)
PID=
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

port() { printf '\n[[bridge.port]]\nname = "%s"\nkind = "mock"\nvlan_mode = "access"\ntag = 10\n' "$1"; }

for n in "${SIZES[@]}"; do
  cfg=$WORK/switch.toml
  {
    printf '[switch]\nrundir = "%s/run"\npmd_cores = [0]\npool_frames = 1024\npmd_sleep_max_us = 100\n\n[[bridge]]\nname = "br0"\n' "$WORK"
    for ((i = 0; i < n; i++)); do port "p$i"; done
  } > "$cfg.base"
  cp "$cfg.base" "$cfg"
  "$BIN/dvs-switchd" --config "$cfg" 2> "$WORK/switchd.log" &
  PID=$!
  sock=$WORK/run/dvs-switchd.sock
  for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
  adds=() dels=()
  for ((r = 0; r < REPS; r++)); do
    { cat "$cfg.base"; port extra; } > "$cfg"
    t0=$(date +%s%N)
    "$BIN/dvsctl" --socket "$sock" switch reload > /dev/null
    t1=$(date +%s%N)
    cp "$cfg.base" "$cfg"
    "$BIN/dvsctl" --socket "$sock" switch reload > /dev/null
    t2=$(date +%s%N)
    adds+=($(( (t1 - t0) / 1000 )))
    dels+=($(( (t2 - t1) / 1000 )))
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  for what in add del; do
    if [[ $what == add ]]; then s=("${adds[@]}"); else s=("${dels[@]}"); fi
    sorted=($(printf '%s\n' "${s[@]}" | sort -n))
    k=${#sorted[@]}
    p50=${sorted[$(( (k - 1) / 2 ))]}
    p99=${sorted[$(( (k * 99 + 99) / 100 - 1 ))]}
    printf 'RESULT ports=%d op=%s p50_ms=%s p99_ms=%s samples_us=%s\n' "$n" "$what" \
      "$(awk -v u="$p50" 'BEGIN { printf "%.2f", u / 1000 }')" \
      "$(awk -v u="$p99" 'BEGIN { printf "%.2f", u / 1000 }')" "$(IFS=,; echo "${s[*]}")"
  done
done
