#!/bin/sh
# Builds <bundle>/rootfs for every bundle in bundles/ from Debian's
# busybox-static: the static binary plus one symlink per applet, and the few
# files a container expects (/etc/passwd, /etc/group, empty mount points).
# Nothing binary is committed; run again any time (it rebuilds only what is missing).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bb=/bin/busybox
if [ ! -x "$bb" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi

build() {
  root=$1
  if [ -x "$root/bin/busybox" ]; then
    # the binary must run for the non-root users the tests switch to, whatever
    # mode the host's copy has come to have (seen: 0744 after a stray chmod)
    chmod 0755 "$root/bin/busybox"
    return 0
  fi
  tmp="$root.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  for d in bin sbin usr/bin usr/sbin etc proc sys dev tmp root home run var/tmp; do
    mkdir -p "$tmp/$d"
  done
  cp "$bb" "$tmp/bin/busybox"
  chmod 0755 "$tmp/bin/busybox"
  for applet in $("$bb" --list-full); do
    [ "$applet" = bin/busybox ] && continue
    mkdir -p "$tmp/$(dirname "$applet")"
    ln -sf /bin/busybox "$tmp/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home:/bin/sh\n' > "$tmp/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n' > "$tmp/etc/group"
  chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
  mv "$tmp" "$root"
}

for cfg in "$here"/*/config.json; do
  [ -f "$cfg" ] || continue
  build "$(dirname "$cfg")/rootfs"
done
