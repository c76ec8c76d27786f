#!/bin/sh
# containerd's CRI plugin under test (tests/e2e/cri/): a local registry on
# loopback so that PullImage works offline (Debian's docker-registry, the
# reference distribution registry), and the CNI plugins (bridge, host-local,
# loopback) for pod networks. policy-rc.d (if any) keeps the package from
# starting a host registry service: the tests start their own, on a loopback
# port inside a network namespace they made, with storage in a temp dir.
set -eu
need=""
for p in docker-registry containernetworking-plugins; do
  dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
[ -z "$need" ] && exit 0
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
