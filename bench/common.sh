# common.sh -- what the control-plane bench scripts share (sourced, from the repository root).
#
#   dvs_build            build dvs-switchd and dvsctl (release) and set BIN to their directory
#   ns_pair NS LINK NET  two namespace hosts NS-a and NS-b, each on a veth whose switch end is
#                        LINK-a / LINK-b (up, in the root namespace), addressed NET.1 and NET.2/24
#   ns_pair_del NS LINK  remove them (also what a leftover from an aborted run needs)

dvs_build() {
  cargo build --release -p dvs-switchd -p dvsctl --bins -q
  BIN=${CARGO_TARGET_DIR:-$(pwd)/target}/release
}

ns_pair_del() {
  local h
  for h in a b; do ip netns del "$1-$h" 2>/dev/null || true; ip link del "$2-$h" 2>/dev/null || true; done
}

ns_pair() {
  local h
  ns_pair_del "$1" "$2"
  for h in a b; do
    ip netns add "$1-$h"
    ip link add "$2-$h" type veth peer name "$2-$h-p"
    ip link set "$2-$h-p" netns "$1-$h"
    ip -n "$1-$h" link set "$2-$h-p" name eth0
    ip -n "$1-$h" addr add "$3.$([[ $h == a ]] && echo 1 || echo 2)/24" dev eth0
    ip -n "$1-$h" link set eth0 up
    ip -n "$1-$h" link set lo up
    ip link set "$2-$h" up
  done
}
