#!/bin/sh
# Host tools for the cgroup v2 + systemd guest (tests/vm/run): qemu to boot it,
# debootstrap to build its root filesystem, mkfs.ext4 -d to pack it into an image.
# Recommends are skipped: they pull in GUI libraries that a headless qemu never uses.
set -eu
need=""
for p in qemu-system-x86 debootstrap e2fsprogs; do
  dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
[ -z "$need" ] && exit 0
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
