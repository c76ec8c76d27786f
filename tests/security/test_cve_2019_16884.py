"""CVE-2019-16884, CVE-2019-19921, CVE-2023-27561: a rootfs whose /proc (or
/sys) is a symlink, or a mount of something other than procfs over /proc,
redirected the runtime's procfs mounts and writes (e.g. LSM labels) to files
the container controls. Such a rootfs or config is refused; the host is
untouched.

How they can fail: runc 1.1.5 has both fixes and passes. pyrunc's guards
`proc-symlink` (the symlink test: the container then runs) and `proc-mounts`
(the fake /proc is then mounted, and only the later procfs-write check
stops the sysctl) turned off make them fail (test_guards_are_load_bearing.py)."""
from __future__ import annotations

import os
import shutil

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


@pytest.mark.parametrize("where", ["proc", "sys"])
def test_symlinked_proc_or_sys_in_rootfs_is_refused(runtime, bundle, tmp_path, where):
    decoy = bundle.rootfs / f"fake{where}"
    decoy.mkdir()
    target = bundle.rootfs / where
    shutil.rmtree(target, ignore_errors=True)
    if target.exists() or target.is_symlink():
        target.unlink()
    os.symlink(f"/fake{where}", target)
    before = support.host_mounts()
    proc = probe.run(runtime, bundle, args=["true"])
    assert proc.returncode != 0, "a symlinked /" + where + " must be refused"
    assert not any(decoy.iterdir()), "nothing may be mounted or written through the symlink"
    assert support.host_mounts().count(str(bundle.path)) == before.count(str(bundle.path))


@pytest.mark.parametrize("spelled", ["container", "host"])
def test_non_procfs_mount_over_proc_is_refused(runtime, bundle, tmp_path, spelled, request):
    """The runtime's own writes to /proc (an LSM label in the CVE; a sysctl
    here, which needs no LSM) must never land in a fake /proc: such a /proc
    is refused before anything is mounted. `host`: the destination spelled
    as the rootfs's host path ($rootfs/proc), which is /proc in the container."""
    if spelled == "host" and support.is_runc():
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "runc 1.1.5 checks $rootfs/proc joined below the rootfs, then mounts on the stripped /proc")))
    fake = tmp_path / "fakeproc"
    (fake / "sys" / "kernel").mkdir(parents=True)
    target = fake / "sys" / "kernel" / "domainname"
    target.write_text("ORIGINAL\n")
    cfg = bundle.config
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/proc"]
    dest = f"{bundle.rootfs}/proc" if spelled == "host" else "/proc"
    cfg["mounts"].insert(0, {"destination": dest, "type": "bind", "source": str(fake),
                             "options": ["rbind", "rw"]})
    cfg["linux"]["sysctl"] = {"kernel.domainname": "redirected"}
    proc = probe.run(runtime, bundle, args=["true"])
    assert target.read_text() == "ORIGINAL\n", "the runtime wrote into the fake /proc"
    assert proc.returncode != 0, "a non-procfs /proc must be refused"
    assert "not of type proc" in proc.stderr, proc.stderr
