#!/usr/bin/env bash
# criterion_runs.sh -- run a criterion benchmark group several times and report, per benchmark,
# every run's estimate and their median (this machine is noisy: one run proves little).
#
# Usage: bench/criterion_runs.sh BENCH FILTER [RUNS] [MEASURE_SECS]
#   e.g. bench/criterion_runs.sh datapath datapath_per_packet 5 3
# Prints: <benchmark> runs=<ns/elem,...> median=<ns/elem>  (time per element: per packet for
# the datapath groups, whose throughput is set per packet)
set -eu
BENCH=$1; FILTER=$2; RUNS=${3:-5}; SECS=${4:-3}
cd "$(dirname "$0")/.."
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
for r in $(seq 1 "$RUNS"); do
  cargo bench -q -p bench --bench "$BENCH" -- "$FILTER" --warm-up-time 1 \
    --measurement-time "$SECS" --noplot 2>/dev/null |
    awk -v r="$r" '
      /^[a-z_]+\/[A-Za-z0-9_\/]+$/ { name = $1 }
      /^[a-z_]+\/[A-Za-z0-9_\/]+ +time:/ { name = $1 }
      /thrpt:/ && name != "" {
        # thrpt: [lo mid hi] in Melem/s or Kelem/s or elem/s
        v = $4; u = $5
        if (u ~ /^Melem/) ns = 1000 / v; else if (u ~ /^Kelem/) ns = 1e6 / v;
        else if (u ~ /^Gelem/) ns = 1 / v; else ns = 1e9 / v
        printf "%s %d %.1f\n", name, r, ns; name = ""
      }' >> "$OUT/all"
done
sort -k1,1 -k2,2n "$OUT/all" | awk '
  function flush() {
    if (cur == "") return
    n = split(vals, a, ",")
    for (i = 2; i <= n; i++) { x = a[i] + 0; j = i - 1
      while (j > 0 && a[j] + 0 > x) { a[j + 1] = a[j]; j-- }
      a[j + 1] = x }
    med = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    printf "%-55s runs=%s median=%.1f ns\n", cur, vals, med
  }
  { if ($1 != cur) { flush(); cur = $1; vals = $3 } else vals = vals "," $3 }
  END { flush() }'
