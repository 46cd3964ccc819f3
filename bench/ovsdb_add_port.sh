#!/usr/bin/env bash
# `ovs-vsctl add-port` latency through the Open_vSwitch database, dvs-switchd --db against
# OVS-DPDK (Debian's ovs-vswitchd-dpdk), side by side in one run.
#
# Each switch follows its own fresh ovsdb-server. A netdev bridge gets N dpdkvhostuserclient
# ports without peers (as a host full of stopped VMs), then one more port is added and removed
# REPS times. Each `ovs-vsctl` (without --no-wait) is timed from its start to its return: it
# returns when the switch has set `cur_cfg` to the new `next_cfg`, i.e. has applied the change.
#
# Needs root (OVS-DPDK needs hugepages; this script reserves 512 x 2 MB if fewer are free and
# gives them back). Both PMDs on core 1; OVS's other threads on core 0 (taskset), dvs's float.
#
# Usage: bench/ovsdb_add_port.sh [reps] [sizes...]     (default: 20 reps; 0 100 1000 ports)
# Prints one RESULT line per switch, size and operation (add, del, and add_nowait: ovs-vsctl's
# own cost, --no-wait): p50/p99 in ms and every sample in us.
set -euo pipefail
REPS=${1:-20}
shift || true
SIZES=("$@")
[[ $# -gt 0 ]] || SIZES=(0 100 1000)
cd "$(dirname "$0")/.."
source bench/common.sh
dvs_build
OVS=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
WORK=$(mktemp -d /tmp/dvs-addport.XXXX)
PIDS=()
HP_ORIG=$(cat /proc/sys/vm/nr_hugepages)
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  echo "$HP_ORIG" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_db() { # DIR
  ovsdb-tool create "$1/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  OVS_RUNDIR=$1 OVS_LOGDIR=$1 ovsdb-server --remote=punix:"$1/db.sock" --detach \
    --pidfile="$1/ovsdb-server.pid" --log-file="$1/ovsdb-server.log" -vconsole:off "$1/conf.db"
  PIDS+=("$(cat "$1/ovsdb-server.pid")")
  ovs-vsctl --db=unix:"$1/db.sock" --no-wait init
}

start_dvs() { # DIR
  printf '[switch]\nrundir = "%s"\npmd_cores = [1]\npool_frames = 4096\npmd_sleep_max_us = 100\n' "$1" > "$1/switch.toml"
  "$BIN/dvs-switchd" --config "$1/switch.toml" --db unix:"$1/db.sock" 2> "$1/switchd.log" &
  PIDS+=($!)
}

start_ovs() { # DIR
  local free
  free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
  if (( free < 512 )); then echo $(( HP_ORIG + 512 - free )) > /proc/sys/vm/nr_hugepages; fi
  ovs-vsctl --db=unix:"$1/db.sock" --no-wait set Open_vSwitch . other_config:dpdk-init=true \
    other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=0x2 other_config:dpdk-socket-mem=512 \
    "other_config:dpdk-extra=--file-prefix=addport$$ --no-pci"
  OVS_RUNDIR=$1 OVS_LOGDIR=$1 OVS_DBDIR=$1 taskset -c 0 "$OVS" --pidfile="$1/ovs-vswitchd.pid" \
    --detach --log-file="$1/ovs-vswitchd.log" -vconsole:off unix:"$1/db.sock"
  PIDS+=("$(cat "$1/ovs-vswitchd.pid")")
  ovs-vsctl --db=unix:"$1/db.sock" --timeout=60 wait-until Open_vSwitch . dpdk_initialized=true > /dev/null
}

stats() { # WHO N OP SAMPLES...
  local who=$1 n=$2 op=$3; shift 3
  local sorted k p50 p99
  sorted=($(printf '%s\n' "$@" | sort -n))
  k=${#sorted[@]}
  p50=${sorted[$(( (k - 1) / 2 ))]}
  p99=${sorted[$(( (k * 99 + 99) / 100 - 1 ))]}
  printf 'RESULT switch=%s ports=%d op=%s p50_ms=%s p99_ms=%s samples_us=%s\n' "$who" "$n" "$op" \
    "$(awk "BEGIN {printf \"%.1f\", $p50 / 1000}")" "$(awk "BEGIN {printf \"%.1f\", $p99 / 1000}")" \
    "$(IFS=,; echo "$*")"
}

for who in dvs ovs; do
  dir=$WORK/$who
  mkdir -p "$dir"
  start_db "$dir"
  "start_$who" "$dir"
  V=(ovs-vsctl --db=unix:"$dir/db.sock" --timeout=120)
  "${V[@]}" add-br br0 -- set bridge br0 datapath_type=netdev
  have=0
  for n in "${SIZES[@]}"; do
    # Grow the bridge to n ports, 100 per transaction.
    while (( have < n )); do
      args=()
      for ((i = have; i < n && i < have + 100; i++)); do
        args+=(-- add-port br0 "vhu$i" -- set Interface "vhu$i" type=dpdkvhostuserclient
               "options:vhost-server-path=$dir/vm$i.sock")
      done
      "${V[@]}" "${args[@]}"
      have=$i
    done
    adds=() dels=()
    for ((r = 0; r < REPS; r++)); do
      t0=$(date +%s%N)
      "${V[@]}" add-port br0 extra -- set Interface extra type=dpdkvhostuserclient \
        "options:vhost-server-path=$dir/extra.sock"
      t1=$(date +%s%N)
      "${V[@]}" del-port br0 extra
      t2=$(date +%s%N)
      adds+=($(( (t1 - t0) / 1000 )))
      dels+=($(( (t2 - t1) / 1000 )))
    done
    stats "$who" "$n" add "${adds[@]}"
    stats "$who" "$n" del "${dels[@]}"
    # What ovs-vsctl itself costs at this size (it reads the tables it needs on every call):
    # the same add without waiting for the switch.
    nowait=()
    for ((r = 0; r < REPS; r++)); do
      t0=$(date +%s%N)
      "${V[@]}" --no-wait add-port br0 extra -- set Interface extra type=dpdkvhostuserclient \
        "options:vhost-server-path=$dir/extra.sock"
      t1=$(date +%s%N)
      nowait+=($(( (t1 - t0) / 1000 )))
      "${V[@]}" del-port br0 extra
    done
    stats "$who" "$n" add_nowait "${nowait[@]}"
  done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  PIDS=()
  sleep 1
done
