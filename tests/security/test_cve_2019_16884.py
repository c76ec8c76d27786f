"""CVE-2019-16884, CVE-2019-19921, CVE-2023-27561: a rootfs whose /proc (or
/sys) is a symlink, or a mount of something other than procfs over /proc,
redirected the runtime's procfs mounts and writes (e.g. LSM labels) to files
the container controls. Such a rootfs or config is refused; the host is
untouched."""
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


def test_non_procfs_mount_over_proc_is_refused(runtime, bundle, tmp_path):
    fake = tmp_path / "fakeproc"
    (fake / "self" / "attr").mkdir(parents=True)
    (fake / "self" / "attr" / "exec").write_text("")
    cfg = bundle.config
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/proc"]
    cfg["mounts"].insert(0, {"destination": "/proc", "type": "bind", "source": str(fake),
                             "options": ["rbind", "rw"]})
    proc = probe.run(runtime, bundle, args=["true"])
    assert proc.returncode != 0, "a non-procfs /proc must be refused"
    assert (fake / "self" / "attr" / "exec").read_text() == ""
