# flood.sh -- the upcall-flood case (sourced by run.sh): what a flood of new flows costs the
# established traffic of the same PMD.
#
#   flood   flowgen's 1000 flows each way through the port flows (as `port1000`: in_port=1 ->
#           2 and back, so the established traffic never floods into the third port; flowgen's
#           destination MAC is never learned, and NORMAL would), measured while a sender puts
#           FLOOD_PPS frames per second (default 100000) into a third switch port, each from a
#           new random source MAC: every one is a new flow for NORMAL (which reads the source
#           address), i.e. a slow-path run, a MAC learning attempt and a new cache entry.
#
# The flood frames go to an address learned on the flood port itself (an anchor frame sent
# first, source = destination = 02:fe:00:00:00:01), so NORMAL drops them as "same port" (or, past
# the port's learned-MAC limit, as mac_limit): nothing reaches the generator, and the measured
# forwarding is the established flows' alone. The third port is an AF_PACKET socket on a veth
# (pgfl0, its peer pgfl1 is the sender's) polled by the switch's PMD in both switches: dvs as a
# `kind = "afpacket"` port, OVS-DPDK as a DPDK `net_af_packet` port (type=dpdk), so both pay for
# the flood on the core that forwards the established traffic. The sender is the bench crate's
# `flood` (batches of a millisecond's frames through sendmmsg, then a sleep: trafgen's rate
# limiter spins a whole core, and this machine has none to spare), on core 0 with the
# generator. (Not the loop generator: its fixed population of frames drains away at the first
# loss, and a flood that slows the generator's core makes some.) The flood's frames match no
# port flow and go to NORMAL (priority 0). With `port1000` in the same invocation a line per
# switch gives the cost:
#   FLOOD dvs_vs_port1000=<ratio> ovs_vs_port1000=<ratio>
# and every flood RUN line ends with "flood: sent_pps=<the sender's rate over the window>".

FLOOD_PPS=${FLOOD_PPS:-100000}
FLOOD_PID=""; FLOOD_LOG=""

flood_is_case() { [ "$1" = flood ]; }

flood_setup() { # the sender and the veth pair, once per invocation
  flood_build
  ip link del pgfl0 2>/dev/null
  ip link add pgfl0 type veth peer name pgfl1 || die "cannot create veth pgfl0/pgfl1"
  sysctl -qw net.ipv6.conf.pgfl0.disable_ipv6=1 net.ipv6.conf.pgfl1.disable_ipv6=1 2>/dev/null
  ip link set pgfl0 up && ip link set pgfl1 up
}

flood_teardown() { flood_stop; ip link del pgfl0 2>/dev/null; true; }

# The dvs port, appended to its switch.toml.
flood_dvs_ports() {
  printf '\n[[bridge.port]]\nname = "fl0"\nkind = "afpacket"\ninterface = "pgfl0"\nofport = 3\n'
}

flood_ovs_attach() {
  ovs-vsctl add-port br0 fl0 -- set Interface fl0 type=dpdk \
    options:dpdk-devargs=net_af_packet0,iface=pgfl0 ofport_request=3
}

FLOOD_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/flood

flood_build() { (cd "$REPO" && cargo build --release -p bench --bin flood -q) || die "flood did not build"; }

flood_start() { # after the generator started: the anchor, then the flood in the background
  local dir=$RUN_DIR/flood
  mkdir -p "$dir"; FLOOD_LOG=$dir/flood.log
  taskset -c 0 "$FLOOD_BIN" pgfl1 "$FLOOD_PPS" > "$FLOOD_LOG" 2>&1 &
  FLOOD_PID=$!; pg_track "$FLOOD_PID"
}

flood_tx() { cat /sys/class/net/pgfl1/statistics/tx_packets 2>/dev/null || echo 0; }

flood_stop() {
  [ -n "$FLOOD_PID" ] || return 0
  kill -INT "$FLOOD_PID" 2>/dev/null; wait "$FLOOD_PID" 2>/dev/null
  FLOOD_PID=""
}

flood_costs() {
  [[ " ${CASE_LIST[*]} " == *" port1000 "* && " ${CASE_LIST[*]} " == *" flood "* ]] || return 0
  local line="FLOOD" sw d n
  for sw in dvs ovs; do
    d=$(median $(col flood $sw 3)); n=$(median $(col port1000 $sw 3))
    line+=" ${sw}_vs_port1000=$(ratio "$d" "$n")"
  done
  echo "$line"
}
