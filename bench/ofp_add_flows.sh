#!/usr/bin/env bash
# Flow programming over OpenFlow, dvs-switchd against OVS (Debian's userspace ovs-vswitchd,
# netdev bridge), side by side in one run.
#
# For each size N: `ovs-ofctl -O OpenFlow13 add-flows` of N drop flows on distinct nw_dst
# (single FLOW_MODs, then the same file with --bundle), timed from start to return (ovs-ofctl
# ends with a barrier, so the flows are in). The tables are emptied between runs. Then, with the
# largest N installed, `bench/ofp_flowmod_latency.py` times single FLOW_MODs until their
# barrier reply (p50/p99), and the switch's RSS is read with the flows in and after
# del-flows.
#
# Needs root (the switches' sockets live in a private directory; OVS runs without DPDK). Both
# switches run on their own, one after the other, on the same machine in the same invocation.
#
# Usage: bench/ofp_add_flows.sh [reps] [sizes...]   (default: 3 reps; 10000 100000 flows)
# Prints RESULT lines: switch, flows, mode (single|bundle), seconds per rep and the median;
# latency p50/p99 in us; RSS in MB.
set -euo pipefail
REPS=${1:-3}
shift || true
SIZES=("$@")
[[ $# -gt 0 ]] || SIZES=(10000 100000)
cd "$(dirname "$0")/.."
source bench/common.sh
dvs_build
WORK=$(mktemp -d /tmp/dvs-addflows.XXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT

flows_file() { # N FILE
  awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
    printf "priority=100,ip,nw_dst=10.%d.%d.%d,actions=drop\n", int(i / 65536) % 256, int(i / 256) % 256, i % 256 }' > "$2"
}

start_dvs() { # DIR -> MGMT
  printf '[switch]\nrundir = "%s"\npmd_cores = [1]\npool_frames = 1024\npmd_sleep_max_us = 1000\n\n[[bridge]]\nname = "br0"\nfail_mode = "secure"\n' "$1" > "$1/switch.toml"
  "$BIN/dvs-switchd" --config "$1/switch.toml" 2> "$1/switchd.log" &
  PIDS+=($!)
  DVS_PID=$!
  for _ in $(seq 100); do [[ -S $1/br0.mgmt ]] && break; sleep 0.1; done
  MGMT=unix:$1/br0.mgmt
  SW_PID=$DVS_PID
}

start_ovs() { # DIR -> MGMT
  ovsdb-tool create "$1/conf.db" /usr/share/openvswitch/vswitch.ovsschema
  OVS_RUNDIR=$1 OVS_LOGDIR=$1 ovsdb-server --remote=punix:"$1/db.sock" --detach \
    --pidfile="$1/ovsdb-server.pid" --log-file="$1/ovsdb-server.log" -vconsole:off "$1/conf.db"
  PIDS+=("$(cat "$1/ovsdb-server.pid")")
  ovs-vsctl --db=unix:"$1/db.sock" --no-wait init
  OVS_RUNDIR=$1 OVS_LOGDIR=$1 OVS_DBDIR=$1 /usr/lib/openvswitch-switch/ovs-vswitchd \
    --pidfile="$1/ovs-vswitchd.pid" --detach --log-file="$1/ovs-vswitchd.log" -vconsole:off unix:"$1/db.sock"
  PIDS+=("$(cat "$1/ovs-vswitchd.pid")")
  ovs-vsctl --db=unix:"$1/db.sock" --timeout=30 add-br br0 -- set bridge br0 datapath_type=netdev \
    fail_mode=secure protocols=OpenFlow13
  MGMT=unix:$1/br0.mgmt
  SW_PID=$(cat "$1/ovs-vswitchd.pid")
}

rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

for n in "${SIZES[@]}"; do flows_file "$n" "$WORK/flows-$n.txt"; done
BIG=${SIZES[-1]}

for who in dvs ovs; do
  dir=$WORK/$who
  mkdir -p "$dir"
  "start_$who" "$dir"
  OF=(ovs-ofctl -O OpenFlow13)
  for n in "${SIZES[@]}"; do
    for mode in single bundle; do
      extra=()
      [[ $mode == bundle ]] && extra=(--bundle)
      times=()
      for _ in $(seq "$REPS"); do
        "${OF[@]}" del-flows "$MGMT"
        t0=$(date +%s.%N)
        if "${OF[@]}" "${extra[@]}" add-flows "$MGMT" "$WORK/flows-$n.txt" 2> "$dir/err.txt"; then
          t1=$(date +%s.%N)
          got=$("${OF[@]}" dump-aggregate "$MGMT" | sed -n 's/.*flow_count=\([0-9]*\).*/\1/p')
          [[ $got == "$n" ]] || { echo "$who: $got flows after adding $n" >&2; exit 1; }
          times+=("$(awk "BEGIN {printf \"%.3f\", $t1 - $t0}")")
        else
          times+=("refused")
          head -c 300 "$dir/err.txt" >&2
          break
        fi
      done
      med=$( [[ ${times[0]} == refused ]] && echo refused || median "${times[@]}")
      printf 'RESULT switch=%s flows=%d mode=%s median_s=%s runs_s=%s\n' "$who" "$n" "$mode" "$med" "$(IFS=,; echo "${times[*]}")"
    done
  done
  "${OF[@]}" del-flows "$MGMT"
  "${OF[@]}" add-flows "$MGMT" "$WORK/flows-$BIG.txt"
  sleep 1
  printf 'RESULT switch=%s flows=%d rss_mb=%s\n' "$who" "$BIG" "$(rss_mb "$SW_PID")"
  python3 bench/ofp_flowmod_latency.py "${MGMT#unix:}" 1000 | sed "s/^/RESULT switch=$who flows=$BIG /"
  "${OF[@]}" del-flows "$MGMT"
  sleep 1
  printf 'RESULT switch=%s flows=0 rss_mb=%s\n' "$who" "$(rss_mb "$SW_PID")"
done
