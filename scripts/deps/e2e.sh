#!/bin/sh
# The real clients the e2e suite (tests/e2e/) drives: podman 4 + conmon and
# containerd 1.6 with its runc v2 shim, from Debian's packages. Idempotent:
# nothing is fetched when they are already installed. No service is started
# here and no host-global configuration is written: the tests give podman
# and containerd private config, storage and state dirs of their own.
set -eu
pkgs="podman conmon containerd golang-github-containers-common runc"
missing=""
for p in $pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
apt-get update -qq
# --no-install-recommends: no slirp4netns/buildah/fuse-overlayfs; the tests
# use --network none and kernel overlay. policy-rc.d (if any) keeps the
# package from starting a host containerd; we never want one running.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
