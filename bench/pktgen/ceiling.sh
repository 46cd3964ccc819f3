# ceiling.sh -- the no-lookup ceiling: a second testpmd in place of the switch (sourced by run.sh).
#
# Two net_vhost ports as vhost-user clients of the generator's sockets (client=1), "io"
# forwarding port 0 <-> port 1 on lcore 1 (main lcore 0 idle in its command line), so it sits
# exactly where the switch's PMD sits but does no parsing and no lookup at all: whatever a real
# switch forwards in the same setup is a fraction of this. --huge-unlink: it shares no memory
# with anyone, so its hugepage files need not exist once mapped.

CEIL_PID=""; CEIL_FIFO=""; CEIL_LOG=""; CEIL_PFX=""

ceiling_start() { # FLOWFILE (ignored: there is no lookup)
  CEIL_FIFO=$RUN_DIR/ceil.in; CEIL_LOG=$RUN_DIR/ceil.log; CEIL_PFX=$PG_PREFIX-ceil$PG_SEQ
  tp_launch "$CEIL_FIFO" "$CEIL_LOG" -l 0,1 --main-lcore 0 --no-pci -m 512 --huge-unlink \
    --file-prefix "$CEIL_PFX" \
    --vdev "net_vhost0,iface=$SOCK0,client=1,queues=1" --vdev "net_vhost1,iface=$SOCK1,client=1,queues=1" \
    -- -i --nb-cores=1 --forward-mode=io
  CEIL_PID=$TP_LAST_PID
}

ceiling_wait_links() { # both vhost devices ready (up to 20 s), then start forwarding
  local i
  for i in $(seq 1 100); do
    if [ "$(grep -c 'virtio is now ready for processing' "$CEIL_LOG")" -ge 2 ] && grep -q 'testpmd>' "$CEIL_LOG"; then
      tp_say "$CEIL_FIFO" start; return 0
    fi
    kill -0 "$CEIL_PID" 2>/dev/null || break
    sleep 0.2
  done
  log "ceiling testpmd not ready (see $CEIL_LOG)"; return 1
}

ceiling_counters() { # "rx tx drops" (drops are not counted by testpmd io)
  tp_stats "$CEIL_FIFO" "$CEIL_LOG" | awk '{ print $1 + $3, $2 + $4, "-" }'
}

ceiling_cycles_mark() { :; }
ceiling_cycles() { echo "-"; }

ceiling_stop() {
  [ -n "$CEIL_PID" ] || return 0
  tp_quit "$CEIL_PID" "$CEIL_FIFO"
  pg_dpdk_files_rm "$CEIL_PFX"
  CEIL_PID=""
}
