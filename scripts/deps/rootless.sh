#!/bin/sh
# Rootless containers (tests/conformance/test_rootless.py): Debian's `uidmap`,
# the setuid newuidmap/newgidmap that write a user namespace's id maps from
# the ranges /etc/subuid and /etc/subgid grant a user; pyrunc uses them, as
# runc does, when a rootless config maps more than the user's own id.
# Idempotent: nothing is fetched when it is installed.
set -eu
dpkg -s uidmap >/dev/null 2>&1 && exit 0
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends uidmap >/dev/null
