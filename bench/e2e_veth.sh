#!/usr/bin/env bash
# End-to-end throughput: dvs-switchd (AF_PACKET ports) vs the Linux bridge on the same veth
# topology, same generator (trafgen, 64-byte UDP), alternating runs in one invocation.
#
#   trafgen -> a0 ==veth== a1 [switch under test] b1 ==veth== b0 (netns dvsbench-sink)
#
# Prints per-run Mpps delivered to b0 and the medians and ratio. Needs root and a release build
# (built here). Usage: bench/e2e_veth.sh [seconds-per-run] [rounds]
set -euo pipefail
T=${1:-5}
ROUNDS=${2:-3}
cd "$(dirname "$0")/.."
cargo build --release -p dvs-switchd -p dvsctl --bins -q
SWITCHD=${CARGO_TARGET_DIR:-$(pwd)/target}/release/dvs-switchd
NS=dvsbench-sink
WORK=$(mktemp -d)
cleanup() {
  pkill -f "$WORK/switch.toml" 2>/dev/null || true
  pkill -f "trafgen -o dvsb-a0" 2>/dev/null || true
  ip link del dvsb-a0 2>/dev/null || true
  ip link del dvsb-b1 2>/dev/null || true
  ip link del dvsb-br 2>/dev/null || true
  ip netns del $NS 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cleanup_pre() { ip link del dvsb-a0 2>/dev/null || true; ip link del dvsb-b1 2>/dev/null || true; ip link del dvsb-br 2>/dev/null || true; ip netns del $NS 2>/dev/null || true; }
cleanup_pre
mkdir -p "$WORK"

ip netns add $NS
ip link add dvsb-a0 type veth peer name dvsb-a1
ip link add dvsb-b1 type veth peer name dvsb-b0
ip link set dvsb-b0 netns $NS
for i in dvsb-a0 dvsb-a1 dvsb-b1; do
  sysctl -qw net.ipv6.conf.$i.disable_ipv6=1 || true
  ip link set $i up
done
ip netns exec $NS sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
ip -n $NS link set dvsb-b0 up
DST=$(ip -n $NS -br link show dvsb-b0 | awk '{print $3}')

cat > "$WORK/gen.cfg" <<CFG
{ eth(daddr=$DST, saddr=02:00:00:00:00:01, type=0x0800),
  ipv4(saddr=198.18.0.1, daddr=198.18.1.1, ttl=64),
  udp(sport=1000, dport=9), fill(0x00, 18) }
CFG
cat > "$WORK/switch.toml" <<CFG
[switch]
rundir = "$WORK/run"
pmd_cores = [1]

[[bridge]]
name = "br0"

[[bridge.port]]
name = "in"
kind = "afpacket"
interface = "dvsb-a1"

[[bridge.port]]
name = "out"
kind = "afpacket"
interface = "dvsb-b1"
CFG

rx() { ip netns exec $NS cat /sys/class/net/dvsb-b0/statistics/rx_packets; }

measure() { # prints Mpps delivered to b0 during T seconds of trafgen on core 0
  trafgen -o dvsb-a0 -i "$WORK/gen.cfg" --cpus 1 --cpu 0 -q >/dev/null 2>&1 &
  local tg=$!
  sleep 1
  local a; a=$(rx)
  sleep "$T"
  local b; b=$(rx)
  for c in $(pgrep -P $tg); do kill -INT "$c" 2>/dev/null || true; done
  kill -INT $tg 2>/dev/null || true
  sleep 0.5
  kill $tg $(pgrep -P $tg) 2>/dev/null || true
  wait $tg 2>/dev/null || true
  awk -v d=$((b - a)) -v t="$T" 'BEGIN { printf "%.3f", d / t / 1e6 }'
}

run_dvs() {
  "$SWITCHD" --config "$WORK/switch.toml" 2>"$WORK/switchd.log" &
  local sw=$!
  for _ in $(seq 50); do [[ -S $WORK/run/dvs-switchd.sock ]] && break; sleep 0.1; done
  measure
  kill -TERM $sw; wait $sw || true
}

run_bridge() {
  ip link add dvsb-br type bridge
  ip link set dvsb-br up
  ip link set dvsb-a1 master dvsb-br
  ip link set dvsb-b1 master dvsb-br
  measure
  ip link del dvsb-br
}

declare -a DVS BR
for r in $(seq "$ROUNDS"); do
  d=$(run_dvs); b=$(run_bridge)
  echo "round $r: dvs-switchd $d Mpps, linux bridge $b Mpps"
  DVS+=("$d"); BR+=("$b")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
md=$(median "${DVS[@]}"); mb=$(median "${BR[@]}")
echo "RESULT median dvs-switchd=${md} Mpps linux-bridge=${mb} Mpps ratio=$(awk -v a="$md" -v b="$mb" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
