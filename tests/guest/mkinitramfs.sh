#!/usr/bin/env bash
# mkinitramfs.sh OUT.cpio.gz [KERNEL_VERSION]
# A tiny test VM's initramfs: busybox-static, the virtio-net modules of Debian's cloud kernel,
# ethtool (for `ethtool -L` multiqueue) with the libraries it links, and an /init that loads
# the modules and hands ttyS0 to a shell the test drives (tests/src/guest.rs).
# Needs: busybox-static, linux-image-cloud-amd64, ethtool, cpio, gzip (scripts/setup.sh).
set -euo pipefail
out=$1
kver=${2:-$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -1 | sed 's|/boot/vmlinuz-||')}
mods=/lib/modules/$kver/kernel
here=$(cd "$(dirname "$0")" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,mods,lib64,lib/x86_64-linux-gnu}
cp /bin/busybox "$root/bin/"
for a in $("$root/bin/busybox" --list); do
  [[ -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"
done
# Load order matters: each module after the ones it needs.
for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_modern_dev \
         virtio/virtio_pci_legacy_dev virtio/virtio_pci; do
  cp "$mods/drivers/$m.ko" "$root/mods/"
done
cp "$mods/net/core/failover.ko" "$mods/drivers/net/net_failover.ko" \
   "$mods/drivers/net/virtio_net.ko" "$root/mods/"
# ethtool and the shared libraries it needs (busybox has no ethtool).
cp /usr/sbin/ethtool "$root/sbin/"
for lib in $(ldd /usr/sbin/ethtool | grep -o '/[^ ]*'); do
  cp -L "$lib" "$root$lib" 2>/dev/null || { mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; }
done
cp "$here/init" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$out.$$"
mv "$out.$$" "$out"
