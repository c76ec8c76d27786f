"""CVE-2021-30465 and CVE-2024-45310: mount destinations (and the dirs/files
the runtime creates for them) that go through a symlink the container
controls must be resolved inside the rootfs, never on the host."""
from __future__ import annotations

import os

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


def _escape(bundle, hostdir):
    # an absolute symlink and a ../ chain, both meant to reach hostdir
    os.symlink(str(hostdir), bundle.rootfs / "abs-escape")
    os.symlink("../" * 20 + str(hostdir).lstrip("/"), bundle.rootfs / "rel-escape")


@pytest.mark.parametrize("link", ["abs-escape", "rel-escape"])
def test_mount_through_symlink_lands_inside_rootfs(runtime, bundle, tmp_path, link):
    hostdir = tmp_path / "host-target"
    hostdir.mkdir()
    _escape(bundle, hostdir)
    bundle.config["mounts"].append({"destination": f"/{link}/newdir/deeper", "type": "tmpfs",
                                    "source": "tmpfs", "options": ["nosuid"]})
    before = support.host_mounts()
    proc = probe.run(runtime, bundle, args=["sh", "-c", f"grep -c ' /{link}' /proc/self/mountinfo || true"])
    # refusing is fine; succeeding is fine only if it all happened in the rootfs
    assert list(hostdir.iterdir()) == [], "the runtime created files on the host"
    after = support.host_mounts()
    assert str(hostdir) not in after and after.count(str(hostdir)) == before.count(str(hostdir))
    if proc.returncode == 0:
        inside = bundle.rootfs / str(hostdir).lstrip("/") / "newdir" / "deeper"
        assert inside.is_dir(), "the mount point should have been made inside the rootfs"


def test_bind_file_target_through_symlink_stays_inside(runtime, bundle, tmp_path):
    hostdir = tmp_path / "host-target"
    hostdir.mkdir()
    src = tmp_path / "src-file"
    src.write_text("payload")
    _escape(bundle, hostdir)
    bundle.config["mounts"].append({"destination": "/rel-escape/made-by-runtime", "type": "bind",
                                    "source": str(src), "options": ["bind", "ro"]})
    probe.run(runtime, bundle, args=["true"])
    assert list(hostdir.iterdir()) == [], "CVE-2024-45310: an empty file appeared on the host"
