# policy.sh -- the port-group security cases of the PVP harness (sourced by run.sh, never run alone).
#
# Cases: `policy` (IP-MAC binding, DHCP isolation, broadcast suppression and policing together),
# one case per feature (`bind`, `dhcpiso`, `bcast`, `police`) and `passthru` (the same tables, every
# one a single pass-through flow: what the table chain alone costs). All use the loop generator,
# like `normal`, so each compares with `normal` (plain NORMAL in table 0) in the same invocation.
#
# The rules live in one file, policy.flows (the `policy` case as it stands), with the meters in
# policy.meters. A case with a feature off replaces that feature's tables by one pass-through flow
# each (`table=T,priority=0,actions=goto_table:<next>`). Both switches get the rules the same
# way -- `ovs-ofctl -O OpenFlow13 add-meter` per meter, then `add-flows` of the case's file, on the
# bridge's management socket -- after the switch has started and before the generator sends a
# packet, so every packet meets the policy.
#
# Checking the policy did what it should: once the generator has stopped, policy_check waits for
# the flow counters to settle and compares them with the switch's port counters: the meters' drop
# bands must count zero, and the table-40 NORMAL flow (the end of the pipeline) must have counted
# every packet the two ports received except those the drop flows dropped; the drop flows may
# count only packets the generator did not send. Those exist on OVS: its bridge's LOCAL port (the
# br0 tap) sends a few IPv6 MLD/ND frames, which NORMAL (table 0, priority 0, `foreign=`) floods
# to the VM ports, and testpmd's io loop sends them back with br0's source MAC, so the source-MAC
# check drops them, as it should. So: drop_pkts <= foreign, pass_pkts + drop_pkts >= rx.

# Feature -> the tables it owns in policy.flows.
POLICY_TABLES_bind="10 11"; POLICY_TABLES_dhcpiso="12"; POLICY_TABLES_bcast="20"
POLICY_TABLES_police="21"
POLICY_NEXT=([10]=11 [11]=12 [12]=20 [20]=21 [21]=30)   # pass-through target of each table
POLICY_BAD=0                                            # run.sh sets it when a check found a mismatch

policy_is_case() { case $1 in policy|bind|dhcpiso|bcast|police|passthru) return 0 ;; esac; return 1; }

policy_features() { # CASE -> the features it turns on
  case $1 in
    policy) echo "bind dhcpiso bcast police" ;;
    passthru) echo "" ;;
    *) echo "$1" ;;
  esac
}

# policy_flows CASE : the case's flows on stdout (policy.flows minus the tables of features that
# are off, each replaced by a pass-through).
policy_flows() {
  local on t f keep=" 0 30 40 "
  on=$(policy_features "$1")
  for f in bind dhcpiso bcast police; do
    local var="POLICY_TABLES_$f"
    if [[ " $on " == *" $f "* ]]; then keep+="${!var} "; fi
  done
  awk -v keep="$keep" '/^table=/ { split($0, a, /[=,]/); if (index(keep, " " a[2] " ")) print }' \
    "$HERE/policy.flows"
  for t in 10 11 12 20 21; do
    [[ $keep == *" $t "* ]] || echo "table=$t,priority=0,actions=goto_table:${POLICY_NEXT[$t]}"
  done
}

policy_target() { # SWITCH -> the OpenFlow target of its br0
  case $1 in dvs) echo "unix:$DVS_DIR/run/br0.mgmt" ;; ovs) echo "unix:$OVS_DIR/br0.mgmt" ;; esac
}

# policy_program SWITCH CASE : meters, then the case's flows, on a running switch.
policy_program() {
  local sw=$1 c=$2 tgt m i
  tgt=$(policy_target "$sw")
  for i in $(seq 1 50); do [ -S "${tgt#unix:}" ] && break; sleep 0.1; done
  policy_flows "$c" > "$RUN_DIR/policy.flows"
  grep -v '^#' "$HERE/policy.meters" | grep -v '^ *$' > "$RUN_DIR/policy.meters"
  while read -r m; do
    ovs-ofctl -O OpenFlow13 add-meter "$tgt" "$m" 2>>"$RUN_DIR/ofctl.err" ||
      { log "$sw refused meter '$m': $(tail -3 "$RUN_DIR/ofctl.err")"; return 1; }
  done < "$RUN_DIR/policy.meters"
  ovs-ofctl -O OpenFlow13 add-flows "$tgt" "$RUN_DIR/policy.flows" 2>>"$RUN_DIR/ofctl.err" ||
    { log "$sw refused flows of case $c: $(tail -3 "$RUN_DIR/ofctl.err")"; return 1; }
}

# policy_check SWITCH : after the generator stopped. Prints "drop_pkts=.. pass_pkts=.. rx=..
# foreign=.. meter_in=.. meter_drops=.. ok|MISMATCH" (run.sh fails --ci on MISMATCH).
policy_check() {
  local sw=$1 tgt rx flows meters verdict dp pp fp mi md
  tgt=$(policy_target "$sw")
  sleep 1.5   # in-flight packets drain; flow stats are charged (dvs: 100 ms, OVS: revalidators)
  rx=$("${sw}_counters" | awk '{print $1}')
  ovs-ofctl -O OpenFlow13 dump-flows "$tgt" > "$RUN_DIR/policy-dump-flows.txt" 2>&1
  ovs-ofctl -O OpenFlow13 meter-stats "$tgt" > "$RUN_DIR/policy-meter-stats.txt" 2>&1
  flows=$(awk '{ n = ""; for (i = 1; i <= NF; i++) if ($i ~ /^n_packets=/) { n = $i; sub(/^n_packets=/, "", n); sub(/,$/, "", n) }
                 if (n == "") next
                 if ($0 ~ /actions=drop/) d += n
                 if ($0 ~ /table=40,/ && $0 ~ /actions=NORMAL/) p += n
                 if ($0 ~ /table=0,/ && $0 ~ /priority=0 / && $0 ~ /actions=NORMAL/) f += n }
               END { printf "%d %d %d", d, p, f }' "$RUN_DIR/policy-dump-flows.txt")
  # meter-stats: "meter:N flow_count:.. packet_in_count:P ..." then "0: packet_count:D ...".
  meters=$(tr ' ' '\n' < "$RUN_DIR/policy-meter-stats.txt" | awk -F: '
    /^packet_in_count:/ { i += $2 } /^packet_count:/ { d += $2 } END { printf "%d %d", i, d }')
  read -r dp pp fp <<< "$flows"; read -r mi md <<< "$meters"
  verdict=ok
  if [ "$dp" -gt "$fp" ] || [ "$md" != 0 ] || [ -z "$rx" ] || [ $((pp + dp)) -lt "$rx" ]; then
    verdict=MISMATCH
  fi
  echo "drop_pkts=$dp pass_pkts=$pp rx=${rx:--} foreign=$fp meter_in=$mi meter_drops=$md $verdict"
}

# policy_costs : after the summary table (uses run.sh's CASE_LIST, col, median, ratio). For every
# policy case run together with `normal`, per switch: the rate relative to plain NORMAL and the
# extra cost per packet, 1/rate_case - 1/rate_normal, in ns (rates are both directions summed; one
# PMD forwards both, so this is the PMD's time per packet). A line per case:
#   COST case=<c> dvs_vs_normal=<ratio> dvs_ns_per_pkt=<+ns> ovs_vs_normal=<ratio> ovs_ns_per_pkt=<+ns>
policy_costs() {
  local c sw line n d
  [[ " ${CASE_LIST[*]} " == *" normal "* ]] || return 0
  for c in "${CASE_LIST[@]}"; do
    policy_is_case "$c" || continue
    line="COST case=$c"
    for sw in dvs ovs; do
      d=$(median $(col "$c" $sw 3)); n=$(median $(col normal $sw 3))
      line+=" ${sw}_vs_normal=$(ratio "$d" "$n") ${sw}_ns_per_pkt=$(awk -v d="$d" -v n="$n" 'BEGIN {
        if (d ~ /^[0-9.]+$/ && n ~ /^[0-9.]+$/ && d > 0 && n > 0) printf "%+.2f", 1000 / d - 1000 / n; else print "-" }')"
    done
    echo "$line"
  done
}
