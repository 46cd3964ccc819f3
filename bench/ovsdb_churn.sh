#!/usr/bin/env bash
# The cost of database-driven changes to the ports that do not change: two namespace hosts ping
# each other every 2 ms through dvs-switchd --db (system ports) while `ovs-vsctl` adds 100
# dpdkvhostuserclient ports (no VM behind them) to the same bridge and removes them again, one
# port per ovs-vsctl call, each waiting for the switch (cur_cfg). Prints the pings sent and
# received (the aim is no loss) and the ovs-vsctl times. Needs root (namespaces, veth).
#
# Usage: sudo bench/ovsdb_churn.sh [rounds]      (default 2; each round adds and removes 100)
set -euo pipefail
ROUNDS=${1:-2}
cd "$(dirname "$0")/.."
source bench/common.sh
dvs_build
WORK=$(mktemp -d /tmp/dvs-dbchurn.XXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ns_pair_del dvsdbch dvsdb
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT
ns_pair dvsdbch dvsdb 10.78.0
ovsdb-tool create "$WORK/conf.db" /usr/share/openvswitch/vswitch.ovsschema
OVS_RUNDIR=$WORK OVS_LOGDIR=$WORK ovsdb-server --remote=punix:"$WORK/db.sock" --detach \
  --pidfile="$WORK/ovsdb-server.pid" --log-file="$WORK/ovsdb-server.log" -vconsole:off "$WORK/conf.db"
PIDS+=("$(cat "$WORK/ovsdb-server.pid")")
V=(ovs-vsctl --db=unix:"$WORK/db.sock" --timeout=60)
"${V[@]}" --no-wait init
printf '[switch]\nrundir = "%s"\npmd_cores = [1]\npool_frames = 4096\npmd_sleep_max_us = 200\n' "$WORK" > "$WORK/switch.toml"
"$BIN/dvs-switchd" --config "$WORK/switch.toml" --db unix:"$WORK/db.sock" 2> "$WORK/switchd.log" &
PIDS+=($!)
"${V[@]}" add-br br0 -- set bridge br0 datapath_type=netdev -- add-port br0 dvsdb-a tag=10 \
  -- add-port br0 dvsdb-b tag=10
ip netns exec dvsdbch-a ping -c 3 -W 1 10.78.0.2 > /dev/null

times=()
vsctl() {
  local t0 t1
  t0=$(date +%s%N)
  "${V[@]}" "$@" > /dev/null
  t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000 )))
}
count=$(( ROUNDS * 200 * 30 ))   # about the length of the churn at 2 ms per ping
ip netns exec dvsdbch-a ping -q -i 0.002 -W 1 -c "$count" 10.78.0.2 > "$WORK/ping.txt" 2>&1 &
PING=$!
sleep 1
c0=$(date +%s%N)
for ((r = 0; r < ROUNDS; r++)); do
  for ((i = 0; i < 100; i++)); do
    vsctl add-port br0 "vhu$i" tag=20 -- set Interface "vhu$i" type=dpdkvhostuserclient \
      "options:vhost-server-path=$WORK/vm$i.sock"
  done
  for ((i = 0; i < 100; i++)); do vsctl del-port br0 "vhu$i"; done
done
c1=$(date +%s%N)
running=$(kill -0 "$PING" 2>/dev/null && echo yes || echo no)
wait "$PING" || true
summary=$(grep "packets transmitted" "$WORK/ping.txt")
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
k=${#sorted[@]}
printf 'RESULT rounds=%d vsctl_calls=%d churn_s=%s (pings still running after it: %s) ping: %s\n' \
  "$ROUNDS" "$k" "$(awk -v n=$(( (c1 - c0) / 1000000 )) 'BEGIN { printf "%.1f", n / 1000 }')" \
  "$running" "$summary"
printf 'RESULT vsctl_ms p50=%s p99=%s max=%s\n' \
  "$(awk -v n="${sorted[$(( (k - 1) / 2 ))]}" 'BEGIN { printf "%.1f", n / 1000 }')" \
  "$(awk -v n="${sorted[$(( (k * 99 + 99) / 100 - 1 ))]}" 'BEGIN { printf "%.1f", n / 1000 }')" \
  "$(awk -v n="${sorted[$((k - 1))]}" 'BEGIN { printf "%.1f", n / 1000 }')"
