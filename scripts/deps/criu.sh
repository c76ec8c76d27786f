#!/bin/sh
# CRIU for checkpoint/restore (issue 20): pyrunc drives Debian's `criu swrk`
# over its RPC; the tests skip where `criu check` fails on the host's kernel.
set -eu
dpkg -s criu >/dev/null 2>&1 && exit 0
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq criu >/dev/null
