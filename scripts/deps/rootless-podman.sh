#!/bin/sh
# Rootless podman end to end (tests/e2e/test_podman_rootless.py): besides
# podman itself (scripts/deps/e2e.sh) and newuidmap/newgidmap
# (scripts/deps/rootless.sh), a rootless container's published ports need
# the user-mode network stack podman 4.3 uses, Debian's `slirp4netns` (pasta
# needs podman 4.4). Storage is vfs: no fuse-overlayfs is needed.
# Idempotent: nothing is fetched when it is installed.
set -eu
here=$(dirname "$0")
sh "$here/rootless.sh"
dpkg -s slirp4netns >/dev/null 2>&1 && exit 0
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slirp4netns >/dev/null
