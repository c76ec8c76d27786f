"""`--no-pivot`: the rootfs is moved onto / and chrooted into instead of
pivot_root. The host's mounts then stay in the container's mount namespace,
out of the chroot's sight but not out of the kernel's: a fully visible
procfs or sysfs anywhere in the namespace lets a new user namespace mount a
bare, unmasked one. Like runc (msMoveRoot), the runtime must detach those
host mounts first, so the container's own attempt is denied."""
from __future__ import annotations

import pytest

from tests.conformance import probe

pytestmark = [pytest.mark.requires("root", "userns")]


def test_no_pivot_does_not_expose_a_bare_proc(runtime, bundle):
    cfg = bundle.config
    # mapping root into the new user namespace needs CAP_SETFCAP (Linux 5.12)
    for kind in ("bounding", "permitted"):
        cfg["process"]["capabilities"][kind].append("CAP_SETFCAP")
    proc = probe.run(runtime, bundle, extra=["--no-pivot"], args=[
        "unshare", "-mrpf", "sh", "-c", "mount -t proc none /proc && echo MOUNTED"])
    assert "MOUNTED" not in proc.stdout, "a new procfs was mounted inside a --no-pivot container"
    assert proc.returncode != 0
    assert "permission denied" in proc.stderr, proc.stderr


def test_no_pivot_still_mounts_the_containers_proc_and_sys(runtime, bundle):
    """The host's procfs and sysfs go; the container's own stay."""
    proc = probe.run(runtime, bundle, extra=["--no-pivot"], args=[
        "sh", "-c", "cat /proc/self/mountinfo; ls /sys/kernel >/dev/null && echo SYS-OK"])
    assert proc.returncode == 0, proc.stderr
    mounts = probe.parse_mountinfo(proc.stdout)
    assert probe.mount_at(mounts, "/proc").fstype == "proc"
    assert probe.mount_at(mounts, "/sys").fstype == "sysfs"
    assert "SYS-OK" in proc.stdout
