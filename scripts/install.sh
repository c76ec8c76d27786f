#!/bin/sh
# Installs what pyrunc needs to run on Debian 12 (as root): the Debian packages
# python-prctl builds against, a virtualenv in .venv with pyrunc in it, and the
# `pyrunc` command in /usr/local/bin. Safe to run again.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

need_apt=""
for p in gcc libcap-dev libseccomp2 busybox-static python3-venv python3-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need_apt="$need_apt $p"
done
if [ -n "$need_apt" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_apt >/dev/null
fi

# The venv's interpreter must be one every user can run, or pyrunc is root's
# alone (rootless use, README "Rootless"): pyenv's, in /root, is not.
# scripts/shared-python finds one; a venv made from another is made again.
python=$(python3 scripts/shared-python) || python=""
if [ -x .venv/bin/python ] && [ -n "$python" ] && ! python3 scripts/shared-python --check .venv/bin/python 2>/dev/null; then
  echo "install: .venv's interpreter cannot be run by other users: making .venv again from $python" >&2
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  "${python:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${PYRUNC_EXTRAS:-}"
# the `pyrunc` command: python -I -S with explicit paths, and next to it pyrunc.bundle,
# pyrunc's compiled modules in one file (scripts/write-launcher says why)
.venv/bin/python scripts/write-launcher .venv/bin/pyrunc
ln -sf "$top/.venv/bin/pyrunc" /usr/local/bin/pyrunc
