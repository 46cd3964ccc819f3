# ovs.sh -- the reference switch: Debian's OVS-DPDK 3.1, started fresh for every run (sourced by run.sh).
#
# Private ovsdb-server + ovs-vswitchd-dpdk under $RUN_DIR/ovs (OVS_RUNDIR/DBDIR/LOGDIR), one PMD
# on core 1 (pmd-cpu-mask=0x2), every other OVS thread on core 0 (taskset, dpdk-lcore-mask=0x1),
# DPDK with its own --file-prefix. netdev bridge br0 with two dpdkvhostuserclient ports (vhu0 =
# ofport 1, vhu1 = ofport 2) connecting to the generator's sockets. The flows of the case are
# added as given, plus "priority=0,actions=NORMAL" (dvs-switchd always has that default flow).
#
# OVS_TX_RETRIES=N sets the vhost ports' options:tx-retries-max (OVS's default is 8: a full guest
# ring makes the PMD retry, where dvs drops and counts); 0 makes OVS drop like dvs.
#
# Debian pitfalls (see shared/refbench): the `ovs-vswitchd` alternative is the non-DPDK binary,
# so the DPDK one is run directly; its control socket is named after the binary, hence
# `ovs-appctl -t ovs-vswitchd-dpdk`. `ovs-vsctl ... statistics` refreshes only every 5 s, so the
# live counters come from `ovs-ofctl dump-ports`. OVS is restarted per run so that its PMD never
# polls core 1 while another switch is measured.

OVS_VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
OVS_PIDS=(); OVS_PFX=""; OVS_DIR=""

ovs_appctl() { ovs-appctl -t ovs-vswitchd-dpdk "$@"; }

ovs_start() { # FLOWFILE
  local flows=$1 pid
  OVS_DIR=$RUN_DIR/ovs; OVS_PFX=$PG_PREFIX-ovs$PG_SEQ; OVS_PIDS=()
  mkdir -p "$OVS_DIR"
  export OVS_RUNDIR=$OVS_DIR OVS_LOGDIR=$OVS_DIR OVS_DBDIR=$OVS_DIR
  ovsdb-tool create "$OVS_DIR/conf.db" /usr/share/openvswitch/vswitch.ovsschema || return 1
  ovsdb-server --remote=punix:"$OVS_DIR/db.sock" --pidfile="$OVS_DIR/ovsdb-server.pid" --detach \
    --log-file="$OVS_DIR/ovsdb-server.log" -vconsole:off "$OVS_DIR/conf.db" 2>>"$OVS_DIR/start.err" || return 1
  pid=$(cat "$OVS_DIR/ovsdb-server.pid"); pg_track "$pid"; OVS_PIDS+=("$pid")
  ovs-vsctl --no-wait init
  ovs-vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true other_config:dpdk-lcore-mask=0x1 \
    other_config:pmd-cpu-mask=0x2 other_config:dpdk-socket-mem=1024 \
    "other_config:dpdk-extra=--file-prefix=$OVS_PFX --no-pci" || return 1
  taskset -c 0 "$OVS_VSWITCHD" --pidfile="$OVS_DIR/ovs-vswitchd-dpdk.pid" --detach \
    --log-file="$OVS_DIR/ovs-vswitchd.log" -vconsole:off unix:"$OVS_DIR/db.sock" 2>>"$OVS_DIR/start.err" || return 1
  pid=$(cat "$OVS_DIR/ovs-vswitchd-dpdk.pid"); pg_track "$pid"; OVS_PIDS+=("$pid")
  ovs-vsctl --timeout=30 wait-until Open_vSwitch . dpdk_initialized=true >/dev/null || return 1
  ovs-vsctl add-br br0 -- set bridge br0 datapath_type=netdev \
    -- add-port br0 vhu0 -- set Interface vhu0 type=dpdkvhostuserclient \
         options:vhost-server-path="$SOCK0" ofport_request=1 ${OVS_TX_RETRIES:+options:tx-retries-max=$OVS_TX_RETRIES} \
    -- add-port br0 vhu1 -- set Interface vhu1 type=dpdkvhostuserclient \
         options:vhost-server-path="$SOCK1" ofport_request=2 ${OVS_TX_RETRIES:+options:tx-retries-max=$OVS_TX_RETRIES} || return 1
  # dvs's bridges have no LOCAL port; OVS's is a kernel tap. testpmd's flowgen sends every frame
  # from 00:01:02:03:04:00 to 00:01:02:03:04:01 on both ports (so the destination is never
  # learned and NORMAL floods): without no-flood each frame would also be written to the tap, a
  # system call per packet, and the comparison would measure that.
  ovs-ofctl mod-port br0 br0 no-flood || return 1
  ovs-ofctl del-flows br0
  { echo "priority=0,actions=NORMAL"; cat "$flows"; } > "$OVS_DIR/flows.txt"
  ovs-ofctl add-flows br0 "$OVS_DIR/flows.txt" || return 1
}

ovs_wait_links() { # both vhost ports up (up to 10 s)
  local i n
  for i in $(seq 1 40); do
    n=$(ovs-vsctl get interface vhu0 link_state -- get interface vhu1 link_state 2>/dev/null | grep -c up)
    [ "$n" = 2 ] && return 0
    sleep 0.25
  done
  log "OVS vhost ports did not come up"; return 1
}

# "rx tx drops": packets received from / sent to the generator by ports 1 and 2, and all drops.
ovs_counters() {
  ovs-ofctl dump-ports br0 | tr -d ' ' | awk -F'[=,:]' '
    /^port/ { p = "" }
    /^port[12]:rxpkts/ { p = substr($1, 5); rx += $3; d += $7 }
    /^txpkts/ && p != "" { tx += $2; d += $6 }
    END { printf "%d %d %d\n", rx, tx, d }'
}

ovs_cycles_mark() { ovs_appctl dpif-netdev/pmd-stats-clear >/dev/null; }

# Average cycles per packet of the core-1 PMD since ovs_cycles_mark.
ovs_cycles() {
  ovs_appctl dpif-netdev/pmd-stats-show > "$OVS_DIR/pmd-stats.txt" 2>&1
  sed -n '/core_id 1/,$p' "$OVS_DIR/pmd-stats.txt" |
    awk -F': *' '/avg cycles per packet/ { split($2, v, " "); print v[1]; exit }'
}

ovs_stop() {
  local p
  [ ${#OVS_PIDS[@]} -gt 0 ] || return 0
  ovs_appctl dpctl/dump-flows > "$OVS_DIR/dpflows.txt" 2>&1
  for ((p = ${#OVS_PIDS[@]} - 1; p >= 0; p--)); do pg_kill "${OVS_PIDS[p]}" 5; pg_untrack "${OVS_PIDS[p]}"; done
  OVS_PIDS=()
  pg_dpdk_files_rm "$OVS_PFX"
}
