#!/usr/bin/env bash
# The cost of reconfiguration to the ports that do not change: two namespace hosts ping each other
# through dvs-switchd (AF_PACKET ports) every 2 ms while 100 ports are added to and removed from
# the same bridge with `dvsctl switch reload`, 10 at a time. Prints the pings sent and received
# (the aim is no loss) and the reload times. Needs root (namespaces, veth).
#
# Usage: sudo bench/reload_churn.sh [rounds]      (default 3; each round adds and removes 100)
set -euo pipefail
ROUNDS=${1:-3}
cd "$(dirname "$0")/.."
source bench/common.sh
dvs_build
WORK=$(mktemp -d)
PID=
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  ns_pair_del dvschurn dvsch
  rm -rf "$WORK"
}
trap cleanup EXIT
ns_pair dvschurn dvsch 10.77.0
port() { printf '\n[[bridge.port]]\nname = "%s"\nkind = "%s"\n%bvlan_mode = "access"\ntag = 10\n' "$@"; }
cfg=$WORK/switch.toml
{
  printf '[switch]\nrundir = "%s/run"\npmd_cores = [1]\npool_frames = 4096\npmd_sleep_max_us = 200\n\n[[bridge]]\nname = "br0"\n' "$WORK"
  port a afpacket 'interface = "dvsch-a"\n'
  port b afpacket 'interface = "dvsch-b"\n'
} > "$cfg.base"
cp "$cfg.base" "$cfg"
"$BIN/dvs-switchd" --config "$cfg" 2> "$WORK/switchd.log" &
PID=$!
sock=$WORK/run/dvs-switchd.sock
for _ in $(seq 100); do [[ -S $sock ]] && break; sleep 0.1; done
ip netns exec dvschurn-a ping -c 3 -W 1 10.77.0.2 > /dev/null

reloads=()
reload() {
  local t0 t1
  t0=$(date +%s%N)
  "$BIN/dvsctl" --socket "$sock" switch reload > /dev/null
  t1=$(date +%s%N)
  reloads+=($(( (t1 - t0) / 1000 )))
}
count=$(( ROUNDS * 20 * 60 ))   # about the length of the churn at 2 ms per ping
ip netns exec dvschurn-a ping -q -i 0.002 -W 1 -c "$count" 10.77.0.2 > "$WORK/ping.txt" 2>&1 &
PING=$!
sleep 1
c0=$(date +%s%N)
for ((r = 0; r < ROUNDS; r++)); do
  extra=""
  for ((k = 0; k < 10; k++)); do          # add 100 ports, 10 per reload
    for ((i = 0; i < 10; i++)); do extra+=$(port "m$((k * 10 + i))" mock ''); done
    { cat "$cfg.base"; printf '%s\n' "$extra"; } > "$cfg"
    reload
  done
  for ((k = 9; k >= 0; k--)); do          # and remove them, 10 per reload
    extra=""
    for ((j = 0; j < k * 10; j++)); do extra+=$(port "m$j" mock ''); done
    { cat "$cfg.base"; printf '%s\n' "$extra"; } > "$cfg"
    reload
  done
done
c1=$(date +%s%N)
running=$(kill -0 "$PING" 2>/dev/null && echo yes || echo no)
wait "$PING" || true
summary=$(grep "packets transmitted" "$WORK/ping.txt")
sorted=($(printf '%s\n' "${reloads[@]}" | sort -n))
k=${#sorted[@]}
printf 'RESULT rounds=%d reloads=%d churn_s=%s (pings still running after it: %s) ping: %s\n' \
  "$ROUNDS" "$k" "$(awk -v n=$(( (c1 - c0) / 1000000 )) 'BEGIN { printf "%.1f", n / 1000 }')" \
  "$running" "$summary"
printf 'RESULT reload_ms p50=%s max=%s\n' \
  "$(awk -v u="${sorted[$(( (k - 1) / 2 ))]}" 'BEGIN { printf "%.2f", u / 1000 }')" \
  "$(awk -v u="${sorted[$(( k - 1 ))]}" 'BEGIN { printf "%.2f", u / 1000 }')"
