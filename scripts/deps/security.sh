#!/bin/sh
# Security tests and bench/seccomp.py: Docker's default seccomp profile in moby
# form (/usr/share/containers/seccomp.json) comes with Debian's containers-common.
set -eu
dpkg -s golang-github-containers-common >/dev/null 2>&1 && exit 0
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-github-containers-common >/dev/null
