#!/usr/bin/env bash
# Run the libFuzzer targets in fuzz/ (cargo-fuzz, nightly toolchain, AddressSanitizer).
#
#   scripts/fuzz.sh N [TARGET...]   every target (or the ones named) for N seconds each
#   scripts/fuzz.sh --smoke         every target for 5 s: the CI smoke run (a quicker build of its
#                                   own, see below); skips (exit 0, saying why) when the nightly
#                                   toolchain or cargo-fuzz is missing
#   scripts/fuzz.sh --list          the target names
#
# Each run starts from the seeds kept in the repo (fuzz/seeds/TARGET, read only; inputs that once
# crashed stay there as regress-*, so every run replays them first) plus a working corpus
# (fuzz/corpus/TARGET, not committed) that grows from run to run, with fuzz/dict/TARGET.dict
# (keywords) when there is one. A crash leaves its input
# in fuzz/artifacts/TARGET/; reproduce it with
#   cd fuzz && cargo +nightly fuzz run TARGET artifacts/TARGET/crash-...
# and, once fixed, add the input as a regression test in the crate that owns the parser.
# Prints one line per target: executions (libFuzzer's stat::number_of_executed_units), coverage
# (cov: edges, ft: features), corpus size and the outcome; exits 1 if any target failed.
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/../fuzz"

usage() {
  sed -n '2,9p' "$self" | sed 's/^# \{0,1\}//'
  exit 2
}

targets() { sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^dvs-fuzz$'; }

smoke=0
case "${1:-}" in
  --list) targets; exit 0 ;;
  --smoke) smoke=1; secs=5; shift ;;
  ''|-h|--help) usage ;;
  *) [[ $1 =~ ^[0-9]+$ ]] || usage; secs=$1; shift ;;
esac

missing=""
rustup run nightly rustc --version >/dev/null 2>&1 || missing="the nightly toolchain (rustup toolchain install nightly)"
cargo fuzz --version >/dev/null 2>&1 || missing="${missing:+$missing and }cargo-fuzz (cargo install cargo-fuzz)"
if [[ -n $missing ]]; then
  if ((smoke)); then
    echo "fuzz smoke run: skipped (needs $missing)"
    exit 0
  fi
  echo "fuzz.sh: needs $missing" >&2
  exit 1
fi

if (($#)); then
  list=("$@")
  for t in "${list[@]}"; do
    targets | grep -qx "$t" || { echo "fuzz.sh: no target '$t' (have: $(targets | xargs))" >&2; exit 2; }
  done
else
  mapfile -t list < <(targets)
fi

# One build for all targets, then the binaries are run directly: `cargo fuzz run` would rebuild
# whenever a workspace crate changed in the meantime. The smoke run builds with 8 codegen units
# instead of cargo-fuzz's 1 (which it needs for ThinLTO to inline across crates): binaries perhaps
# half as fast, but a cold build of the fuzz workspace takes about 3.5 minutes instead of 5.5 on
# 2 cores, which is what CI pays. It has a target directory of its own, so the two builds do not
# invalidate each other.
build=(-O)
bin=target/x86_64-unknown-linux-gnu/release
if ((smoke)); then
  build+=(--codegen-units 8 --target-dir target/smoke)
  bin=target/smoke/x86_64-unknown-linux-gnu/release
fi
echo "building ${#list[@]} fuzz targets (nightly, AddressSanitizer)..."
cargo +nightly fuzz build "${build[@]}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}

# Inputs larger than libFuzzer's default (4096 bytes) for targets that need them.
max_len() {
  case $1 in
    vhost_chains) echo 12291 ;; # 3 control bytes + 8 KiB + 4 KiB of guest memory
    packet_extract) echo 9018 ;; # a jumbo frame
    *) echo 4096 ;;
  esac
}

failed=0
summary=()
for t in "${list[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log=$(mktemp)
  status=ok
  dict=()
  [[ -f dict/$t.dict ]] && dict=(-dict="dict/$t.dict")
  # -rss_limit_mb: a parser that allocates without bound is a bug too.
  if ! "$bin/$t" "corpus/$t" "seeds/$t" \
      -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="artifacts/$t/" "${dict[@]}" >"$log" 2>&1; then
    status="FAILED: $(sed -n 's/.*Test unit written to //p' "$log" | head -n 1)"
    failed=1
    tail -n 60 "$log"
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | tail -n 1 | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | tail -n 1 | cut -d' ' -f2)
  corp=$(grep -oE 'corp: [0-9]+' <<<"$last" | tail -n 1 | cut -d' ' -f2)
  line=$(printf '%-16s execs %10s  cov %6s  ft %6s  corpus %5s  %ss  %s' \
    "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$secs" "$status")
  echo "$line"
  summary+=("$line")
  rm -f "$log"
done

echo "fuzz summary (${secs}s per target):"
printf '  %s\n' "${summary[@]}"
if ((failed)); then
  echo "fuzz run: FAILED (inputs under fuzz/artifacts/)"
  exit 1
fi
echo "fuzz run: ok"
