#!/usr/bin/env bash
# Setup for a fresh Debian 12 machine: system packages, hugepages, and a build of everything.
# Usage: scripts/setup.sh   (as root for packages and hugepages; the build works without)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(iproute2 iputils-ping ethtool tcpdump netsniff-ng iperf3 procps
      pkg-config libclang-dev clang libdpdk-dev dpdk dpdk-dev libxdp-dev libbpf-dev jq
      openvswitch-common openvswitch-switch-dpdk)
if [[ $(id -u) -eq 0 ]]; then
  missing=()
  for p in "${PKGS[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # 2 MiB hugepages for packet pools (the switch falls back to normal pages without them).
  if [[ -w /proc/sys/vm/nr_hugepages ]] && (( $(cat /proc/sys/vm/nr_hugepages) < 1024 )); then
    echo 1024 > /proc/sys/vm/nr_hugepages || true
  fi
  if ! mountpoint -q /dev/hugepages 2>/dev/null; then
    mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages || true
  fi
  echo "setup: hugepages: $(grep HugePages_Total /proc/meminfo)"
else
  echo "setup: not root: skipping packages (${PKGS[*]}) and hugepages"
fi

cargo build --workspace --all-targets
echo "setup: done"
