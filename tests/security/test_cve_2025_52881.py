"""CVE-2025-52881: the runtime's writes to /proc (sysctls, LSM attrs) could be
redirected by a mount put over those procfs files after the config was
checked (in the CVE: racing mounts through a shared volume). Every such write
must go to a verified procfs file.

The config itself may not mount inside /proc (validation refuses it, see
test_cve_2019_16884.py), so the mount is put there the way the attack does,
from outside the config: a createContainer hook, which runs in the container's
mount namespace after its /proc is mounted and before the sysctls are written,
binds a host file over <rootfs>/proc/sys/kernel/domainname. The host file
must stay untouched (refusing the container is the expected outcome).

How it can fail: runc 1.1.5 is vulnerable (fixed in 1.2.8) and writes the
sysctl into the host file: xfail(strict) for runc. pyrunc with its guard
`procfs-write` turned off does the same (test_guards_are_load_bearing.py)."""
from __future__ import annotations

import sys

import pytest

from tests.conformance import probe
from tests.security.conftest import fails_with_runc

pytestmark = pytest.mark.requires("root")

# the hook: bind argv[1] over argv[2] with mount(2)
BIND = ("import ctypes, os, sys; libc = ctypes.CDLL(None, use_errno=True); "
        "r = libc.mount(sys.argv[1].encode(), sys.argv[2].encode(), None, 4096, None); "
        "sys.exit(0 if r == 0 else os.strerror(ctypes.get_errno()))")


@fails_with_runc("vulnerable (fixed in 1.2.8): the sysctl is written into the bind-mounted host file")
def test_sysctl_write_is_not_redirected_to_a_mount_over_procfs(runtime, bundle, tmp_path):
    host_file = tmp_path / "not-procfs"
    host_file.write_text("ORIGINAL\n")
    cfg = bundle.config
    target = bundle.rootfs / "proc" / "sys" / "kernel" / "domainname"
    cfg.setdefault("hooks", {})["createContainer"] = [
        {"path": sys.executable, "args": [sys.executable, "-c", BIND, str(host_file), str(target)]}]
    cfg["linux"]["sysctl"] = {"kernel.domainname": "redirected"}
    proc = probe.run(runtime, bundle, args=["true"])
    assert host_file.read_text() == "ORIGINAL\n", "the sysctl write landed in a non-procfs file"
    assert proc.returncode != 0, "a sysctl over a non-procfs file must be refused"
