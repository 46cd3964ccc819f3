#!/usr/bin/env bash
# run.sh -- vhost-user PVP benchmark: dvs-switchd vs OVS-DPDK vs a no-lookup ceiling.
#
#   testpmd (2x net_virtio_user, fwd lcore 0)  <-- vhost-user -->  switch under test (PMD core 1)
#
# For every round and case it runs dvs-switchd, then OVS-DPDK, each freshly started, with the
# same generator; once per round it runs the ceiling (testpmd io between two net_vhost ports in
# place of the switch, loop generator). Every run prints a RUN line: forwarded Mpps (packets the
# generator received back over the window, both directions), generator TX Mpps, loss (TX vs
# delivered), the switch's cycles per packet where it reports them, the switch's own counters,
# and which threads were busy on which core. Then a table of medians and one line per case:
#   RESULT case=<c> dvs=<Mpps> ovs=<Mpps> ceiling=<Mpps> ratio=<dvs/ovs>
#
# Cases (64-byte frames):
#   normal      NORMAL (MAC learning), one flow each way        loop generator (io, tx_first 16)
#   port        in_port=1->2 and in_port=2->1                     loop generator
#   normal1000  NORMAL, 1000 flows each way                       flowgen --flowgen-flows=1000
#   rules2000   2000 rules on nw_dst 10.253.x.y (-> other port)   flowgen --flowgen-flows=1000
# Past the exact-match cache (8192 flows), issue 17's megaflow measurement:
#   normal10k, normal100k, normal1m          NORMAL with 10k / 100k / 1M flows each way
#   rules2000_10k, rules2000_100k, rules2000_1m
#                the 2000 rules above with 10k / 100k / 1M flows: the first 1000 destinations
#                match a rule, the rest fall through to NORMAL
#   Issue 17's measurement: sudo bench/pktgen/run.sh -r 3 -t 10 -s dvs,ovs \
#                             -c normal1000,normal10k,normal100k,rules2000,rules2000_10k,rules2000_100k
#   port1000    the port flows with flowgen's 1000 flows each way
#   flood       `port1000` while 100k new flows per second arrive on a third port (flood.sh):
#               sudo bench/pktgen/run.sh -r 3 -t 10 -s dvs,ovs -c port1000,flood
# Port-group security (policy.sh; rules in policy.flows + policy.meters, the dvs agent's table
# layout 0/10/11/12/20/21/30/40, loaded with `ovs-ofctl -O OpenFlow13 add-meter`/`add-flows` into
# both switches before the generator starts; all with the loop generator, to compare with normal):
#   policy      IP-MAC binding + DHCP isolation + broadcast suppression + policing (meter far
#               above the offered rate), then NORMAL
#   bind        only IP-MAC binding (tables 10, 11); every other policy table a pass-through
#   dhcpiso     only DHCP isolation / RA guard (table 12)
#   bcast       only broadcast suppression (table 20; the loop is unicast: the match is the cost)
#   police      only the policing meter (table 21)
#   passthru    the same tables, every one a pass-through (the cost of the table chain alone)
#   Each policy run's RUN line ends with "policy: drop_pkts= pass_pkts= rx= foreign= meter_in=
#   meter_drops= ok|MISMATCH", read from dump-flows/meter-stats after the generator stopped:
#   nothing the generator sent may be dropped (--ci fails on MISMATCH). With `normal` in the same
#   invocation, a line per policy case gives its cost over plain NORMAL:
#   COST case=<c> dvs_vs_normal=<ratio> dvs_ns_per_pkt=<1/rate-1/rate_normal> ovs_vs_normal= ovs_ns_per_pkt=
#   Issue 16's measurement: sudo bench/pktgen/run.sh -r 5 -t 10 -s dvs,ovs \
#                             -c normal,policy,bind,dhcpiso,bcast,police,passthru
#
# Usage: bench/pktgen/run.sh [-t secs] [-r rounds] [-c case,...] [-s dvs,ovs,ceiling]
#                            [--ci] [--ovs] [--ceiling-each] [--keep-logs DIR] [--idle-wait S]
#                            [--max-noise P]
#   -t  measurement window per run (default 10 s; 3 s with --ci), after a 3 s warm-up
#   -r  rounds (default 3; 1 with --ci)          -c  cases (default: the first four above)
#   -s  switches to run (default dvs,ovs,ceiling; dvs with --ci)
#   --ci            short smoke run; exits non-zero unless dvs forwarded traffic in every case
#   --ovs           with --ci: also run OVS-DPDK
#   --ceiling-each  run the ceiling for every case with that case's generator, not once per round
#   --keep-logs DIR copy every run's logs (testpmd, switch, configs, pmd stats) to DIR
#   --idle-wait S   before each run wait up to S s (default 60; 0 with --ci) for other processes
#                   to use < 15% of a core. Every RUN line reports noise=: the CPU others took.
#                   (A run always waits, up to S or 30 s, for enough free hugepages.)
#   --max-noise P   leave runs with noise above P% out of the medians (they are still printed)
#   --slow-c2c C    core-to-core round trip (cycles) above which a run counts as "slow-core"
#                   (default 400). Every RUN line reports c2c=BEFORE/AFTER, probed by the
#                   bench crate's `c2c` with both cores idle; a second table gives the medians
#                   of the runs that were not slow-core (see "Core-to-core latency" below).
# Environment: DVS_BIN=PATH runs that dvs-switchd binary (no build), to compare two builds.
# Core-to-core latency: on this virtual machine the round trip of a cache line between the two
# vCPUs flips between about 150 and 850 cycles over tens of seconds, whatever runs; every
# cross-core transfer a switch makes per packet costs that much, so runs in the slow state are
# slower for every switch, by different amounts. Compare switches within one state.
# Needs root, 2 cores, hugepages (1024 x 2 MiB are reserved if fewer). Cleans up on any exit.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"; . "$HERE/gen.sh"; . "$HERE/ovs.sh"; . "$HERE/dvs.sh"; . "$HERE/ceiling.sh"; . "$HERE/policy.sh"; . "$HERE/flood.sh"

usage() { sed -n '2,/^# Needs root/p' "$0" | sed 's/^# \{0,1\}//'; }
T=""; ROUNDS=""; CASES=normal,port,normal1000,rules2000; SWITCHES=""
CI=0; WITH_OVS=0; CEIL_EACH=0; PG_KEEP_LOGS=""; WARMUP=3; IDLE_WAIT=""; MAX_NOISE=100000
SLOW_C2C=400
while [ $# -gt 0 ]; do
  case $1 in
    -t) T=$2; shift 2 ;;
    -r) ROUNDS=$2; shift 2 ;;
    -c) CASES=$2; shift 2 ;;
    -s) SWITCHES=$2; shift 2 ;;
    --ci) CI=1; shift ;;
    --ovs) WITH_OVS=1; shift ;;
    --ceiling-each) CEIL_EACH=1; shift ;;
    --keep-logs) PG_KEEP_LOGS=$(realpath -m "$2"); shift 2 ;;
    --idle-wait) IDLE_WAIT=$2; shift 2 ;;
    --max-noise) MAX_NOISE=$2; shift 2 ;;
    --slow-c2c) SLOW_C2C=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
if [ "$CI" = 1 ]; then
  T=${T:-3}; ROUNDS=${ROUNDS:-1}; WARMUP=2; IDLE_WAIT=${IDLE_WAIT:-0}
  [ -n "$SWITCHES" ] || { SWITCHES=dvs; [ "$WITH_OVS" = 1 ] && SWITCHES=dvs,ovs; }
fi
T=${T:-10}; ROUNDS=${ROUNDS:-3}; SWITCHES=${SWITCHES:-dvs,ovs,ceiling}; IDLE_WAIT=${IDLE_WAIT:-60}
IFS=, read -ra CASE_LIST <<< "$CASES"
has() { [[ ",$SWITCHES," == *",$1,"* ]]; }
for c in "${CASE_LIST[@]}"; do
  case $c in normal|port|normal1000|rules2000|normal10k|normal100k|normal1m|rules2000_10k|rules2000_100k|rules2000_1m|port1000|flood) ;; *) policy_is_case "$c" || die "unknown case '$c'" ;; esac
done
[ "$(id -u)" = 0 ] || die "needs root (hugepages, DPDK)"

# ------------------------------------------------------------------ cases

case_gen() { # -> "generator nflows"
  case $1 in
    normal|port) echo "loop 1" ;;
    normal1000|rules2000|port1000|flood) echo "flowgen 1000" ;;
    normal10k|rules2000_10k) echo "flowgen 10000" ;;
    normal100k|rules2000_100k) echo "flowgen 100000" ;;
    normal1m|rules2000_1m) echo "flowgen 1000000" ;;
    *) echo "loop 1" ;;
  esac
}

case_flows() { # OpenFlow rules, one per line (the priority-0 NORMAL flow is implied)
  local i
  case $1 in
    port|port1000|flood) echo "priority=10,in_port=1,actions=output:2"; echo "priority=10,in_port=2,actions=output:1" ;;
    rules2000|rules2000_*)  # flowgen's destinations are 10.253.0.0 + flow index
      for ((i = 0; i < 1000; i++)); do
        echo "priority=10,ip,in_port=1,nw_dst=10.253.$((i / 256)).$((i % 256)),actions=output:2"
        echo "priority=10,ip,in_port=2,nw_dst=10.253.$((i / 256)).$((i % 256)),actions=output:1"
      done ;;
  esac
}

# ------------------------------------------------------------------ one run

pages_for() { # 2 MiB hugepages a run needs: generator 256 (+ OVS 512 | ceiling 256)
  case $1 in ovs) echo 768 ;; ceiling) echo 512 ;; *) echo 256 ;; esac
}

switch_pid() {
  case $1 in dvs) echo "$DVS_PID" ;; ovs) echo "${OVS_PIDS[1]:-}" ;; ceiling) echo "$CEIL_PID" ;; esac
}

run_one() { # CASE SWITCH ROUND [LABEL]
  local c=$1 sw=$2 r=$3 label=${4:-$1} gen nfl why="" t0 t1 g0 g1 s0 s1 cyc thr line bg n0 n1 noise fwd tx loss rest
  local cb ca pol f0=0 f1=0
  read -r gen nfl <<< "$(case_gen "$c")"
  if [ "$IDLE_WAIT" -gt 0 ]; then wait_ready "$(pages_for "$sw")" "$IDLE_WAIT"
  else wait_ready "$(pages_for "$sw")" 30 100000; fi || why="not enough free hugepages"
  cb=$(c2c_sample)
  gen_prepare
  case_flows "$c" > "$RUN_DIR/flows.txt"
  # switch first: testpmd's virtio_user server ports block its start-up until connected
  FLOOD_ON=0; flood_is_case "$c" && [ "$sw" != ceiling ] && FLOOD_ON=1
  [ -z "$why" ] && { "${sw}_start" "$RUN_DIR/flows.txt" || why="$sw did not start"; }
  if [ -z "$why" ] && [ "$FLOOD_ON" = 1 ] && [ "$sw" = ovs ]; then
    flood_ovs_attach || why="ovs refused the flood port"
  fi
  if [ -z "$why" ] && [ "$sw" != ceiling ] && policy_is_case "$c"; then
    policy_program "$sw" "$c" || why="$sw refused the policy (see above)"
  fi
  [ -z "$why" ] && { gen_start "$gen" "$nfl" || why="generator did not start"; }
  [ -z "$why" ] && { gen_wait_prompt || why="generator did not come up"; }
  [ -z "$why" ] && { "${sw}_wait_links" || why="$sw links down"; }
  [ -z "$why" ] && { gen_wait_links || why="generator links down"; }
  if [ -z "$why" ]; then
    gen_go
    [ "$FLOOD_ON" = 1 ] && flood_start
    sleep "$WARMUP"
    "${sw}_cycles_mark"
    t0=$(now); g0=$(gen_stats); s0=$("${sw}_counters"); n0=$(cpu_sample); f0=$(flood_tx)
    { echo "switch: $(busy_threads "$(switch_pid "$sw")")gen: $(busy_threads "$GEN_PID")" > "$RUN_DIR/threads"; } &
    bg=$!
    sleep "$T"
    n1=$(cpu_sample); t1=$(now); g1=$(gen_stats); s1=$("${sw}_counters"); f1=$(flood_tx)
    cyc=$("${sw}_cycles")
    wait "$bg"
    thr=$(tr -s ' ' < "$RUN_DIR/threads" | tr '\n' ' ')
    [ -n "$g0" ] && [ -n "$g1" ] || why="no generator counters"
  fi
  [ -n "$GEN_PID" ] && tp_say "$GEN_FIFO" stop
  flood_stop
  pol=""
  [ -z "$why" ] && [ "$FLOOD_ON" = 1 ] && pol="flood: sent_pps=$(awk -v a="$f0" -v b="$f1" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", (b - a) / (t1 - t0) }')"
  if [ -z "$why" ] && [ "$sw" != ceiling ] && policy_is_case "$c"; then pol="policy: $(policy_check "$sw")"; fi
  "${sw}_stop"; gen_stop
  ca=$(c2c_sample)
  if [ -n "$why" ]; then
    echo "RUN round=$r case=$label switch=$sw FAILED: $why"
    echo "$label $sw FAIL - -" >> "$WORK/results"
    { [ -s "$GEN_LOG" ] && { echo "--- generator log tail:"; tail -5 "$GEN_LOG"; }
      for f in "$RUN_DIR"/dvs/switchd.log "$RUN_DIR"/ovs/ovs-vswitchd.log "$RUN_DIR"/ceil.log; do
        [ -f "$f" ] && { echo "--- $f tail:"; tail -5 "$f"; }; done; } >&2
    return 1
  fi
  line=$(echo "$t0 $t1 $g0 $g1 ${s0:-- - -} ${s1:-- - -}" | awk -v cyc="${cyc:--}" '{
      dt = $2 - $1
      fwd = ($7 + $9 - $3 - $5) / dt / 1e6; tx = ($8 + $10 - $4 - $6) / dt / 1e6
      loss = (tx > 0) ? 100 * (tx - fwd) / tx : 0
      sw = ($11 == "-" || $14 == "-") ? "sw_rx_mpps=- sw_tx_mpps=-" : \
           sprintf("sw_rx_mpps=%.2f sw_tx_mpps=%.2f", ($14 - $11) / dt / 1e6, ($15 - $12) / dt / 1e6)
      drops = ($13 == "-" || $16 == "-") ? "-" : $16 - $13
      printf "%.3f %s %.2f %.2f %s sw_drops=%s dt=%.2f", fwd, cyc, loss, tx, sw, drops, dt }')
  read -r fwd cyc loss tx rest <<< "$line"
  noise=$(noise_pct "$n0" "$n1" "$T")
  echo "RUN round=$r case=$label switch=$sw fwd_mpps=$fwd gen_tx_mpps=$tx loss=${loss}% cycles_per_pkt=$cyc $rest noise=${noise}% c2c=$cb/$ca threads: $thr${pol:+ $pol}"
  [[ $pol == *MISMATCH ]] && { POLICY_BAD=1; log "warning: $label on $sw: the policy dropped or skipped packets ($pol)"; }
  [ "$noise" -gt 10 ] && log "warning: other processes used ${noise}% of a core during this run"
  [[ $thr == switch:*@cpu0*gen:* || $thr == *gen:*@cpu1* ]] && log "warning: a busy thread ran on the wrong core: $thr"
  echo "$label $sw $fwd $cyc $loss $noise $(c2c_worst "$cb" "$ca")" >> "$WORK/results"
}

# ------------------------------------------------------------------ main

pg_init
pg_need_tools "$(has ovs && echo 1 || echo 0)"
pg_hugepages 1024
has dvs && dvs_build
c2c_build
PG_STOP_HOOKS=(gen_stop dvs_stop ovs_stop ceiling_stop flood_teardown)
[[ ",$CASES," == *,flood,* ]] && flood_setup
: > "$WORK/results"
log "switches=$SWITCHES cases=$CASES rounds=$ROUNDS window=${T}s warm-up=${WARMUP}s"
FAILED=0
for ((r = 1; r <= ROUNDS; r++)); do
  if has ceiling && [ "$CEIL_EACH" = 0 ]; then run_one normal ceiling "$r" all || FAILED=1; fi
  for c in "${CASE_LIST[@]}"; do
    for sw in dvs ovs; do has $sw && { run_one "$c" $sw "$r" || FAILED=1; }; done
    if has ceiling && [ "$CEIL_EACH" = 1 ]; then run_one "$c" ceiling "$r" || FAILED=1; fi
  done
done

# ------------------------------------------------------------------ summary

col() { # CASE SWITCH FIELD [MAX_C2C]: values of successful runs whose noise is at most
        # MAX_NOISE (and whose worse core-to-core probe is at most MAX_C2C, when given)
  awk -v c="$1" -v s="$2" -v k="$3" -v m="$MAX_NOISE" -v x="${4:-}" '$1 == c && $2 == s &&
    $3 != "FAIL" && $6 <= m && (x == "" || ($7 != "-" && $7 + 0 <= x + 0)) {print $k}' "$WORK/results"
}
table() { # [MAX_C2C]: the summary table over the runs col selects
  local c d o ce rt
  printf '%-11s %9s %9s %9s %7s %12s %12s %9s %9s %5s\n' case dvs_Mpps ovs_Mpps ceil_Mpps dvs/ovs \
    dvs_cyc/pkt ovs_cyc/pkt dvs_loss% ovs_loss% runs
  for c in "${CASE_LIST[@]}"; do
    d=$(median $(col "$c" dvs 3 "$1")); o=$(median $(col "$c" ovs 3 "$1"))
    ce=$(median $(col "$c" ceiling 3 "$1")); [ "$ce" = - ] && ce=$(median $(col all ceiling 3 "$1"))
    rt=$(ratio "$d" "$o")
    printf '%-11s %9s %9s %9s %7s %12s %12s %9s %9s %5s\n' "$c" "$d" "$o" "$ce" "$rt" \
      "$(median $(col "$c" dvs 4 "$1"))" "$(median $(col "$c" ovs 4 "$1"))" \
      "$(median $(col "$c" dvs 5 "$1"))" "$(median $(col "$c" ovs 5 "$1"))" \
      "$(col "$c" dvs 3 "$1" | wc -l)/$(col "$c" ovs 3 "$1" | wc -l)"
    if [ -z "$1" ]; then
      RESULTS+=("RESULT case=$c dvs=$d ovs=$o ceiling=$ce ratio=$rt")
      awk -v d="$d" 'BEGIN { exit !(d ~ /^[0-9.]+$/ && d > 0) }' || CI_OK=0
    else
      RESULTS+=("RESULT-FAST-CORES case=$c dvs=$d ovs=$o ceiling=$ce ratio=$rt")
    fi
  done
}
CI_OK=1; RESULTS=()
echo; echo "All runs (runs = dvs/ovs runs in the medians):"
table ""
if [ "$CI" = 0 ]; then
  echo; echo "Runs whose core-to-core round trip stayed at or below $SLOW_C2C cycles:"
  table "$SLOW_C2C"
fi
printf '%s\n' "${RESULTS[@]}"
policy_costs
flood_costs
if [ "$CI" = 1 ]; then
  [ "$CI_OK" = 1 ] || { log "FAIL: dvs did not forward traffic in every case"; exit 1; }
  [ "$POLICY_BAD" = 0 ] || { log "FAIL: a policy case dropped packets or its flows missed some (see the policy: fields)"; exit 1; }
  log "ok: dvs forwarded traffic in every case"
fi
[ "$FAILED" = 0 ] || { log "some runs failed (see above)"; exit 1; }
exit 0
