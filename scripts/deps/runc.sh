#!/bin/sh
# The reference runtime: the conformance suite also runs against Debian's runc.
set -eu
dpkg -s runc >/dev/null 2>&1 && exit 0
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runc >/dev/null
