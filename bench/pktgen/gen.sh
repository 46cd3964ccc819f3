# gen.sh -- the traffic generator: one dpdk-testpmd standing in for two VMs (sourced by run.sh).
#
# Two net_virtio_user ports in server mode (they create the vhost-user sockets, the switch
# under test connects to them as client), forwarding lcore 0, main lcore 1 idle in its
# command line (`-l 0,1 --main-lcore 1`), 64-byte frames. Port 0 has MAC ...:01 and
# sends to ...:02, port 1 the reverse, so a MAC-learning switch forwards both directions.
#
# Two generators:
#   loop    : "io" forwarding started with `start tx_first 16`: a fixed population of
#             packets circulates testpmd -> switch -> testpmd with no allocation in testpmd,
#             so the switch (one PMD core) is the bottleneck.
#   flowgen : "flowgen" on both ports, destination IP 10.253.0.0 + (flow index), N flows,
#             whatever comes back is dropped. It offers more than the switches take.
#
# Counters: forwarded = packets the generator received (= delivered by the switch, both
# directions summed); generator TX = packets accepted by the virtio rings.
#
# Per run, gen_prepare creates RUN_DIR (sockets, logs, the switch's private files live there)
# and sets SOCK0/SOCK1 for the switch modules.

GEN_PID=""; GEN_FIFO=""; GEN_LOG=""; GEN_MODE=""; GEN_PFX=""

gen_prepare() { # a fresh RUN_DIR and socket paths for the next run
  pg_next
  RUN_DIR=$WORK/run$PG_SEQ; mkdir -p "$RUN_DIR"
  SOCK0=$RUN_DIR/vhu0.sock; SOCK1=$RUN_DIR/vhu1.sock
  GEN_FIFO=$RUN_DIR/gen.in; GEN_LOG=$RUN_DIR/gen.log; GEN_PFX=$PG_PREFIX-gen$PG_SEQ
  : > "$GEN_LOG"
}

# Start testpmd (after the switch: each virtio_user server vdev blocks testpmd's start-up
# until a client has connected to its socket, so vhu1.sock appears only once vhu0 is taken;
# the switch must keep retrying its connects, as OVS's dpdkvhostuserclient does).
gen_start() { # MODE (loop|flowgen) NFLOWS
  GEN_MODE=$1
  local nflows=$2 fwd
  case $GEN_MODE in
    loop)    fwd=(--forward-mode=io) ;;
    flowgen) fwd=(--forward-mode=flowgen "--flowgen-flows=$nflows") ;;
    *) log "unknown generator $GEN_MODE"; return 1 ;;
  esac
  tp_launch "$GEN_FIFO" "$GEN_LOG" -l 0,1 --main-lcore 1 --no-pci -m 512 --single-file-segments \
    --file-prefix "$GEN_PFX" \
    --vdev "net_virtio_user0,path=$SOCK0,server=1,queues=1,mac=00:00:00:00:00:01" \
    --vdev "net_virtio_user1,path=$SOCK1,server=1,queues=1,mac=00:00:00:00:00:02" \
    -- -i --nb-cores=1 --txpkts=64 --eth-peer=0,00:00:00:00:00:02 --eth-peer=1,00:00:00:00:00:01 \
    "${fwd[@]}"
  GEN_PID=$TP_LAST_PID
}

# Wait (up to 20 s) for the testpmd prompt, i.e. both sockets were connected.
gen_wait_prompt() {
  local i
  for i in $(seq 1 100); do
    grep -q 'testpmd>' "$GEN_LOG" && return 0
    kill -0 "$GEN_PID" 2>/dev/null || break
    sleep 0.2
  done
  log "generator did not come up (see $GEN_LOG)"; return 1
}

# Wait (up to 10 s) until testpmd sees both virtio links up, i.e. the switch has set up both
# vrings; tx_first packets sent before that would be lost.
gen_wait_links() {
  local i n
  for i in $(seq 1 40); do
    tp_say "$GEN_FIFO" "show port info all"
    sleep 0.25
    n=$(tac "$GEN_LOG" | awk '/Link status:/ {print $3; if (++k == 2) exit}' | grep -c '^up$')
    [ "$n" = 2 ] && return 0
  done
  log "generator links not up"; return 1
}

gen_go() {
  case $GEN_MODE in
    loop) tp_say "$GEN_FIFO" "start tx_first 16" ;;
    *)    tp_say "$GEN_FIFO" "start" ;;
  esac
}

gen_stats() { tp_stats "$GEN_FIFO" "$GEN_LOG"; }   # "rx0 tx0 rx1 tx1"

gen_stop() {
  [ -n "$GEN_PID" ] || return 0
  tp_quit "$GEN_PID" "$GEN_FIFO"
  pg_dpdk_files_rm "$GEN_PFX"
  GEN_PID=""
}
