# dvs.sh -- the switch under test: dvs-switchd with two vhost-user client ports (sourced by run.sh).
#
# One dvs-switchd per run, with a config written into $RUN_DIR/dvs: PMD pinned to core 1
# (pmd_cores = [1]); no taskset, since dvs-switchd checks pmd_cores against its own affinity
# (its control threads are idle while forwarding), bridge br0 with vhu0 (ofport 1) and vhu1 (ofport 2)
# as vhost-user *clients* of the generator's sockets (like OVS dpdkvhostuserclient). The case's
# flows go into `flows = [...]`; the NORMAL flow at priority 0 is built in.
#
# Counters come from `dvsctl --json switch ports br0`; cycles per packet is the delta of the PMD's
# busy_cycles over the delta of its packets between dvs_cycles_mark and dvs_cycles (dvs has no
# stats-clear), falling back to the cumulative `cycles_per_packet` if busy_cycles is missing.

# DVS_BIN=/path/to/dvs-switchd runs that binary instead of building this tree's (for A/B runs of
# two builds; the control protocol must match this tree's dvsctl).
DVS_SWITCHD=${DVS_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/release/dvs-switchd}
DVSCTL=${CARGO_TARGET_DIR:-$REPO/target}/release/dvsctl
DVS_PID=""; DVS_DIR=""; DVS_SOCK=""; DVS_MARK=""

dvs_build() {
  [ -n "${DVS_BIN:-}" ] && [ -x "$DVSCTL" ] && { log "using dvs-switchd $DVS_BIN"; return 0; }
  log "building dvs (cargo build --release -p dvs-switchd -p dvsctl --bins)"
  (cd "$REPO" && cargo build --release -p dvs-switchd -p dvsctl --bins -q) || die "cargo build failed"
}

dvsctl() { "$DVSCTL" --socket "$DVS_SOCK" "$@"; }

dvs_start() { # FLOWFILE
  local flows=$1 i
  DVS_DIR=$RUN_DIR/dvs; DVS_SOCK=$DVS_DIR/run/dvs-switchd.sock
  mkdir -p "$DVS_DIR"
  {
    printf '[switch]\nrundir = "%s"\npmd_cores = [1]\n' "$DVS_DIR/run"
    printf '\n[[bridge]]\nname = "br0"\nflows = [\n'
    sed 's/.*/  "&",/' "$flows"
    printf ']\n'
    for i in 0 1; do
      printf '\n[[bridge.port]]\nname = "vhu%d"\nkind = "vhost"\nsocket = "%s"\n' "$i" "$RUN_DIR/vhu$i.sock"
      printf 'vhost_role = "client"\nofport = %d\n' $((i + 1))
    done
    [ "${FLOOD_ON:-0}" = 1 ] && flood_dvs_ports
  } > "$DVS_DIR/switch.toml"
  "$DVS_SWITCHD" --config "$DVS_DIR/switch.toml" > "$DVS_DIR/switchd.log" 2>&1 &
  DVS_PID=$!; pg_track "$DVS_PID"
  for i in $(seq 1 50); do
    kill -0 "$DVS_PID" 2>/dev/null || { log "dvs-switchd exited: $(tail -3 "$DVS_DIR/switchd.log")"; return 1; }
    [ -S "$DVS_SOCK" ] && return 0
    sleep 0.2
  done
  log "dvs-switchd control socket did not appear (see $DVS_DIR/switchd.log)"; return 1
}

dvs_wait_links() { # both vhost ports up (up to 10 s)
  local i n
  for i in $(seq 1 50); do
    kill -0 "$DVS_PID" 2>/dev/null || { log "dvs-switchd exited: $(tail -3 "$DVS_DIR/switchd.log")"; return 1; }
    n=$(dvsctl --json switch ports br0 2>/dev/null |
        jq '[.[] | select((.ofport == 1 or .ofport == 2) and .link_up == true)] | length' 2>/dev/null)
    [ "$n" = 2 ] && return 0
    sleep 0.2
  done
  log "dvs vhost ports did not come up (see $DVS_DIR/switchd.log)"; return 1
}

# "rx tx drops" over ofports 1 and 2.
dvs_counters() {
  dvsctl --json switch ports br0 | jq -r '[.[] | select(.ofport == 1 or .ofport == 2)] |
    "\(map(.rx_packets // 0) | add) \(map(.tx_packets // 0) | add) \(map((.rx_dropped // 0) + (.tx_dropped // 0)) | add)"'
}

dvs_pmd_totals() { # "packets busy_cycles cycles_per_packet" summed over PMDs
  dvsctl --json switch pmd-stats | tee "$DVS_DIR/pmd-stats.json" |
    jq -r '"\(map(.packets // 0) | add) \(map(.busy_cycles // 0) | add) \(map(.cycles_per_packet // 0) | max)"'
}

dvs_cycles_mark() { DVS_MARK=$(dvs_pmd_totals); }

dvs_cycles() {
  local now_; now_=$(dvs_pmd_totals) || { echo "-"; return; }
  echo "$DVS_MARK $now_" | awk '{ dp = $4 - $1; dc = $5 - $2;
    if (dp > 0 && dc > 0) printf "%.1f\n", dc / dp; else if ($6 > 0) printf "%.1f\n", $6; else print "-" }'
}

dvs_stop() {
  [ -n "$DVS_PID" ] || return 0
  dvsctl switch dump-flows br0 > "$DVS_DIR/flows.txt" 2>&1
  pg_kill "$DVS_PID" 5; pg_untrack "$DVS_PID"
  DVS_PID=""
}
