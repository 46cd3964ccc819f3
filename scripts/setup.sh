#!/usr/bin/env bash
# Setup for a fresh Debian 12 machine: system packages, hugepages, and a build of everything.
# Usage: scripts/setup.sh   (as root for packages and hugepages; the build works without)
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(iproute2 iputils-ping ethtool tcpdump netsniff-ng iperf3 procps
      pkg-config libclang-dev clang libdpdk-dev dpdk dpdk-dev libxdp-dev libbpf-dev jq
      openvswitch-common openvswitch-switch openvswitch-switch-dpdk python3 python3-pip
      openssl  # the TLS tests make throwaway certificates with it
      python3-scapy dnsmasq-base  # crafted attack frames and a real DHCP server (port-group security tests)
      g++)  # libfuzzer-sys compiles libFuzzer (C++) for the fuzz targets
# Real test VMs (tests/tests/qemu_guest.rs): QEMU under TCG, Debian's cloud kernel and a busybox
# initramfs (tests/guest/mkinitramfs.sh). Installed without recommends (no GUI stack).
VM_PKGS=(qemu-system-x86 linux-image-cloud-amd64 busybox-static cpio gzip)
# Debian 12's QEMU 7.2 can give a vhost-user guest only INTx interrupts under TCG (its MSI-X
# path for vhost is KVM-only). The MSI-X guest test runs QEMU 10 from bookworm-backports,
# unpacked beside the system QEMU into /opt/dvs-qemu10 (nothing of the system's is replaced).
# The backports suite is added with the mirror the machine already uses, at apt's default
# backports priority, so it never upgrades anything by itself.
setup_qemu_msix() {
  local dest=/opt/dvs-qemu10 bin=/opt/dvs-qemu10/usr/bin/qemu-system-x86_64
  if [[ -x $bin ]] && "$bin" --version >/dev/null 2>&1; then
    return 0
  fi
  local src=/etc/apt/sources.list.d/debian.sources list=/etc/apt/sources.list.d/dvs-backports.sources
  local uri
  uri=$(awk '/^URIs:/ { print $2; exit }' "$src" 2>/dev/null) || return 1
  [[ -n $uri ]] || return 1
  if [[ ! -f $list ]]; then
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
      "$uri" /usr/share/keyrings/debian-archive-keyring.gpg > "$list"
    apt-get update -qq || return 1
  fi
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && chmod 777 . && apt-get download -qq qemu-system-x86/bookworm-backports \
     qemu-system-common/bookworm-backports qemu-system-data/bookworm-backports) || { rm -rf "$tmp"; return 1; }
  for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dest"; done
  rm -rf "$tmp"
  "$bin" --version | head -1
}

# install_missing [--no-install-recommends] PKG...: apt-get install the packages not yet installed.
install_missing() {
  local opts=() missing=() p
  if [[ ${1:-} == --no-install-recommends ]]; then
    opts=("$1")
    shift
  fi
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${opts[@]}" "${missing[@]}" >/dev/null
  fi
}

if [[ $(id -u) -eq 0 ]]; then
  install_missing "${PKGS[@]}"
  install_missing --no-install-recommends "${VM_PKGS[@]}"
  # 2 MiB hugepages for packet pools (the switch falls back to normal pages without them).
  if [[ -w /proc/sys/vm/nr_hugepages ]] && (( $(cat /proc/sys/vm/nr_hugepages) < 1024 )); then
    echo 1024 > /proc/sys/vm/nr_hugepages || true
  fi
  if ! mountpoint -q /dev/hugepages 2>/dev/null; then
    mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages || true
  fi
  echo "setup: hugepages: $(grep HugePages_Total /proc/meminfo)"
  setup_qemu_msix || echo "setup: WARNING: no QEMU 10 for the MSI-X guest test (it will skip)" >&2
else
  echo "setup: not root: skipping packages (${PKGS[*]}) and hugepages"
fi

# os-ken (an OpenFlow controller framework, from PyPI) for tests/tests/controller.rs. Optional:
# that test skips, saying why, when os-ken cannot be imported, so a failed install only warns.
if ! command -v python3 >/dev/null; then
  echo "setup: WARNING: python3 not found: os-ken not installed (the os-ken controller test will skip)" >&2
elif python3 -c 'import os_ken.base.app_manager' >/dev/null 2>&1; then
  echo "setup: os-ken already installed"
elif PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check os-ken \
  || PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
       --break-system-packages os-ken; then
  # The second form is for a distribution python that refuses pip (PEP 668, Debian 12).
  echo "setup: installed os-ken"
else
  echo "setup: WARNING: 'python3 -m pip install os-ken' failed (is python3-pip installed?);" \
       "the os-ken controller test will skip" >&2
fi

# The fuzz smoke run (scripts/fuzz.sh --smoke, part of scripts/test.sh) needs the nightly
# toolchain (the sanitizer flags) and cargo-fuzz, at the version fuzz/ was written against.
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "setup: installing the nightly toolchain (for the fuzz targets)"
  rustup toolchain install nightly --profile minimal
fi
if [[ $(cargo fuzz --version 2>/dev/null) != "cargo-fuzz 0.13.2" ]]; then
  echo "setup: installing cargo-fuzz 0.13.2"
  cargo install cargo-fuzz --version 0.13.2 --locked
fi

cargo build --workspace --all-targets
echo "setup: done"
