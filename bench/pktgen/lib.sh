# lib.sh -- shared pieces of the vhost-user PVP harness (sourced by run.sh, never run alone).
#
# What is here: logging, the private work directory and the exit cleanup (every process we
# started, every socket and DPDK hugepage file / runtime dir with our file prefix), the
# hugepage and tool checks, a driver for interactive testpmd through a FIFO, testpmd port
# counter reading, and small number helpers.
#
# Process model: every long-lived process is started by a function here or in the switch
# modules, which records its PID with pg_track; cleanup kills exactly those PIDs (never by
# name). Every DPDK process gets --file-prefix "$PG_PREFIX-<role><n>", so the hugepage files
# and /var/run/dpdk entries of this invocation are found by that prefix alone.
#
# Interactive testpmd: its stdin is a FIFO that the testpmd process itself holds open
# read-write on fd 7 (so the FIFO never sees EOF, and fd 3 stays free for the harness shell),
# and it runs under `stdbuf -oL` so its log is written line by line while it runs.

PG_PREFIX="pktgen$$"            # DPDK --file-prefix stem, unique per invocation
PG_PIDS=()                      # PIDs to kill on exit (in start order)
PG_HP_ORIG=""                   # nr_hugepages before we changed it ("" = untouched)
PG_STOP_HOOKS=()                # functions that stop a module gracefully (run before the kills)
PG_SEQ=0                        # counter for unique names of processes/sockets

log() { echo "[$(date +%T)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
pg_next() { PG_SEQ=$((PG_SEQ + 1)); }

pg_track() { PG_PIDS+=("$1"); }
pg_untrack() { local i; for i in "${!PG_PIDS[@]}"; do [ "${PG_PIDS[i]}" = "$1" ] && unset 'PG_PIDS[i]'; done; }

# Remove what a DPDK process with file prefix $1 left behind (call after it exited).
pg_dpdk_files_rm() { rm -rf /dev/hugepages/"$1"map_* /var/run/dpdk/"$1"; }

# Stop one PID: SIGTERM, wait up to $2 seconds (default 5), then SIGKILL.
pg_kill() {
  local pid=$1 grace=${2:-5} i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < grace * 10; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  sleep 0.2
}

# Create the private work dir and install the exit trap (stop hooks run before the kills).
pg_init() {
  pg_stale_cleanup
  WORK=$(mktemp -d /tmp/pktgen.XXXXXX) || die "mktemp failed"
  echo $$ > "$WORK/harness.pid"
  trap pg_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

pg_cleanup() {
  local rc=$? h p f
  trap - EXIT INT TERM
  for h in "${PG_STOP_HOOKS[@]}"; do "$h" 2>/dev/null; done
  for p in "${PG_PIDS[@]}"; do pg_kill "$p" 2 2>/dev/null; done
  if [ -n "${PG_KEEP_LOGS:-}" ] && [ -d "${WORK:-}" ]; then
    mkdir -p "$PG_KEEP_LOGS" && cp -r "$WORK"/. "$PG_KEEP_LOGS"/ 2>/dev/null
    find "$PG_KEEP_LOGS" \( -type s -o -type p \) -delete 2>/dev/null
    log "logs kept in $PG_KEEP_LOGS"
  fi
  [ -d "${WORK:-}" ] && rm -rf "$WORK"
  for f in /dev/hugepages/"$PG_PREFIX"-* /var/run/dpdk/"$PG_PREFIX"-*; do
    [ -e "$f" ] && rm -rf "$f"
  done
  [ -n "$PG_HP_ORIG" ] && echo "$PG_HP_ORIG" > /proc/sys/vm/nr_hugepages
  exit "$rc"
}

# Files left by an earlier invocation that was SIGKILLed (its harness PID is gone): work dirs,
# hugepage files and DPDK runtime dirs. Processes are not touched; a survivor is only reported.
pg_stale_cleanup() {
  local f pid
  for f in /tmp/pktgen.*/harness.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f"); kill -0 "$pid" 2>/dev/null || rm -rf "${f%/harness.pid}"
  done
  for f in /dev/hugepages/pktgen[0-9]*-* /var/run/dpdk/pktgen[0-9]*-*; do
    [ -e "$f" ] || continue
    pid=${f##*/pktgen}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || rm -rf "$f"
  done
  pgrep -f 'file-prefix[= ]pktgen[0-9]' >/dev/null && log "warning: DPDK processes of an earlier run are still alive"
  return 0
}

# ------------------------------------------------------------------ environment checks

# Installs missing Debian packages for the tools the selected switches need.
pg_need_tools() { # $1 = 1 when OVS is needed
  local need=""
  command -v dpdk-testpmd >/dev/null || need="$need dpdk-dev"   # testpmd lives in dpdk-dev
  command -v jq >/dev/null || need="$need jq"
  if [ "$1" = 1 ]; then
    [ -x "$OVS_VSWITCHD" ] || need="$need openvswitch-switch-dpdk"
    command -v ovsdb-server >/dev/null || need="$need openvswitch-switch"
  fi
  [ -z "$need" ] && return 0
  log "installing:$need"
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null \
    || die "apt-get install$need failed"
}

# 2 MiB hugepages: at least $1 pages in total (reserve them if needed) and mounted.
pg_hugepages() {
  local want=${1:-1024} have
  have=$(cat /proc/sys/vm/nr_hugepages)
  if [ "$have" -lt "$want" ]; then
    PG_HP_ORIG=$have
    echo "$want" > /proc/sys/vm/nr_hugepages
  fi
  mount | grep -q 'type hugetlbfs' || { mkdir -p /dev/hugepages; mount -t hugetlbfs nodev /dev/hugepages; }
  log "hugepages: total $(cat /proc/sys/vm/nr_hugepages), free $(hugepages_free)"
}

# ------------------------------------------------------------------ interactive testpmd

# tp_launch FIFO LOG testpmd-args... : start testpmd in the background; sets TP_LAST_PID.
tp_launch() {
  local fifo=$1 logf=$2; shift 2
  rm -f "$fifo"; mkfifo "$fifo"
  ( exec 7<>"$fifo"; exec stdbuf -oL dpdk-testpmd "$@" <&7 >>"$logf" 2>&1 ) &
  TP_LAST_PID=$!
  pg_track "$TP_LAST_PID"
}

# tp_say FIFO CMD : one command line; never blocks on a FIFO whose reader died.
tp_say() { timeout 2 bash -c 'echo "$1" > "$2"' _ "$2" "$1"; }

# tp_quit PID FIFO : stop forwarding, quit, and make sure the process is gone.
tp_quit() {
  local pid=$1 fifo=$2 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  tp_say "$fifo" stop; sleep 0.5; tp_say "$fifo" quit
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  pg_kill "$pid" 3
  pg_untrack "$pid"
}

# tp_stats FIFO LOG : prints "rx0 tx0 rx1 tx1" (cumulative port counters) from a fresh
# "show port stats all"; fails if testpmd does not answer within 3 s.
tp_stats() {
  local fifo=$1 logf=$2 n0 i out
  n0=$(grep -c 'NIC statistics for port 1 ' "$logf")
  tp_say "$fifo" "show port stats all" || return 1
  for i in $(seq 1 60); do
    out=$(awk -v n0="$n0" '
      /NIC statistics for port/ { p = $6; if (p == 1) n++ }
      /RX-packets:/ { rx[p] = $2 }
      /TX-packets:/ { tx[p] = $2; if (p == 1 && n > n0) done = 1 }
      END { if (done) print rx[0], tx[0], rx[1], tx[1] }' "$logf")
    [ -n "$out" ] && { echo "$out"; return 0; }
    sleep 0.05
  done
  return 1
}

# ------------------------------------------------------------------ numbers

now() { date +%s.%N; }
median() { # numbers as arguments ("-" and "" ignored); prints "-" when none
  printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g |
    awk '{a[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2];
                           else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0)
                                             printf "%.2f", a / b; else print "-"}'; }

# CPU time (jiffies) that is not ours: "busy-jiffies-of-the-whole-machine our-jiffies". Busy
# includes steal (the hypervisor giving our vCPUs to someone else). Two samples give the CPU
# that other processes took from the benchmark during a window ("noise").
cpu_sample() {
  local ours=0 p
  for p in "${PG_PIDS[@]}"; do
    [ -r /proc/"$p"/stat ] && ours=$((ours + $(awk '{sub(/^.*\) /, ""); print $12 + $13}' /proc/"$p"/stat)))
  done
  echo "$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat) $ours"
}
noise_pct() { # SAMPLE0 SAMPLE1 SECONDS -> foreign CPU in % of one core
  echo "$1 $2" | awk -v dt="$3" -v hz="$(getconf CLK_TCK)" '{printf "%.0f", 100 * (($3 - $1) - ($4 - $2)) / hz / dt}'
}

hugepages_free() { awk '/HugePages_Free/ {print $2}' /proc/meminfo; }

# wait_ready PAGES MAXSECS [CPU%] : wait until PAGES 2 MiB hugepages are free (other DPDK users
# on this machine come and go) and other processes use < CPU% (default 15) of a core over 2 s.
# Gives up after MAXSECS: returns 1 if the hugepages are still missing, goes on (with a
# warning) if only the CPU is busy.
wait_ready() {
  local pages=$1 max=$2 cpu=${3:-15} waited=0 a b n said=""
  while :; do
    a=$(cpu_sample); sleep 2; b=$(cpu_sample); n=$(noise_pct "$a" "$b" 2)
    [ "$(hugepages_free)" -ge "$pages" ] && [ "$n" -lt "$cpu" ] && return 0
    if [ "$waited" -ge "$max" ]; then
      [ "$(hugepages_free)" -ge "$pages" ] || { log "only $(hugepages_free) of $pages hugepages free"; return 1; }
      log "machine still busy (${n}% of a core used by others); going on"; return 0
    fi
    [ -z "$said" ] && { log "waiting up to ${max}s: $(hugepages_free)/$pages hugepages free, others use ${n}% of a core"; said=1; }
    waited=$((waited + 2))
  done
}

# busy_threads PID : threads above 50% CPU over 1 s, as "name@cpuN" (to check core placement).
busy_threads() {
  local pid=$1 hz a b
  hz=$(getconf CLK_TCK)
  snap() { for t in /proc/"$pid"/task/*; do
             awk -v t="${t##*/}" '{sub(/^[0-9]+ \(/, ""); n = split($0, f, ") "); split(f[n], s, " ");
                                   print t, s[12] + s[13], s[37]}' "$t/stat" 2>/dev/null; done; }
  a=$(snap); sleep 1; b=$(snap)
  LC_ALL=C join <(echo "$a" | LC_ALL=C sort) <(echo "$b" | LC_ALL=C sort) | while read -r tid u0 _ u1 cpu; do
    [ $(((u1 - u0) * 100 / hz)) -gt 50 ] && echo -n "$(cat /proc/"$pid"/task/"$tid"/comm 2>/dev/null)@cpu$cpu "
  done
  echo
}

# ------------------------------------------------------------------ core-to-core probe

C2C_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/c2c

c2c_build() {
  (cd "$REPO" && cargo build --release -p bench --bin c2c -q) || { log "warning: c2c probe did not build"; C2C_BIN=""; }
}

c2c_sample() { # median core-to-core round trip (cycles) between cores 0 and 1, or "-"
  local v
  [ -n "$C2C_BIN" ] && [ -x "$C2C_BIN" ] && v=$("$C2C_BIN" 0 1 300 2>/dev/null) && [ -n "$v" ] && { echo "$v"; return; }
  echo -
}

c2c_worst() { # the larger of two samples, "-" if either is missing
  case "$1$2" in *-*) echo - ;; *) echo $(( $1 > $2 ? $1 : $2 )) ;; esac
}
