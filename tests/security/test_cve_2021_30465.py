"""CVE-2021-30465 and CVE-2024-45310: mount destinations (and the dirs/files
the runtime creates for them) that go through a symlink the container
controls must be resolved inside the rootfs, never on the host.

How they can fail: runc 1.1.5 resolves them in the rootfs too and passes.
pyrunc with its guard `resolve-in-root` turned off (both openat2's
RESOLVE_IN_ROOT and the in-root spelling of dangling links) creates the
directories and the file on the host, and the three static tests fail
(test_guards_are_load_bearing.py); the race is a stress test on top."""
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


def test_bind_source_below_rootfs_through_symlink_stays_inside(runtime, bundle, tmp_path, request):
    """A bind source spelled below the rootfs ($rootfs/abs-escape) is the
    container's own tree: the image's symlink there may not lead the bind to
    a host directory."""
    if support.is_runc():
        request.applymarker(pytest.mark.xfail(strict=True, reason=(
            "runc 1.1.5 resolves a bind source on the host, through the image's symlinks")))
    hostdir = tmp_path / "host-target"
    hostdir.mkdir()
    (hostdir / "host-secret").write_text("HOST-SECRET\n")
    _escape(bundle, hostdir)
    bundle.config["mounts"].append({"destination": "/mnt", "type": "bind",
                                    "source": f"{bundle.rootfs}/abs-escape", "options": ["rbind"]})
    proc = probe.run(runtime, bundle, args=["sh", "-c", "ls /mnt"])
    # refusing is fine (the path is missing inside the rootfs); showing the host is not
    assert "host-secret" not in proc.stdout, "the bind source was resolved on the host"


def test_racing_symlink_swap_never_reaches_the_host(runtime, bundle, tmp_path):
    """The attack itself: while the runtime sets up mounts, something swaps
    a directory of the rootfs for a symlink to a host directory and back.
    Whatever wins each race, nothing may be mounted or created on the host."""
    import threading

    hostdir = tmp_path / "host-target"
    hostdir.mkdir()
    cfg = bundle.config
    cfg["root"]["readonly"] = False
    for i in range(4):
        cfg["mounts"].append({"destination": f"/race/m{i}", "type": "tmpfs", "source": "tmpfs",
                              "options": ["nosuid", "size=64k"]})
    race = bundle.rootfs / "race"
    stop = threading.Event()

    swaps = [0]

    def swapper():
        real = bundle.rootfs / "race-real"
        while not stop.is_set():
            try:
                if race.is_symlink():
                    os.unlink(race)
                    os.rename(real, race)
                else:
                    os.rename(race, real)
                    os.symlink(str(hostdir), race)
                swaps[0] += 1
            except OSError:
                pass

    race.mkdir()
    before = support.host_mounts().count(str(hostdir))
    t = threading.Thread(target=swapper, daemon=True)
    t.start()
    try:
        for _ in range(12):
            probe.run(runtime, bundle, args=["true"])
            assert list(hostdir.iterdir()) == [], "the runtime created files on the host"
            assert support.host_mounts().count(str(hostdir)) == before, "a mount landed on the host"
    finally:
        stop.set()
        t.join(5)
    assert swaps[0] > 100, "the swapper did not race"
