"""Conformance: mount details that clients rely on and that are easy to drop
silently (issue 14, items 4 and 11): a tmpfs keeps the mode of the directory
it covers; `tmpcopyup` (podman's --tmpfs, /dev/shm) starts the tmpfs with the
image's contents; a bind mount into a user namespace works even when its
source sits below a host directory the container's ids cannot traverse.
Everything is checked from inside the container with the probe."""
from __future__ import annotations

import os

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


def _tmpfs(dest, *options):
    return {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": list(options)}


def test_tmpfs_without_mode_keeps_the_mountpoint_mode(runtime, bundle):
    (bundle.rootfs / "data").mkdir()
    os.chmod(bundle.rootfs / "data", 0o712)
    (bundle.rootfs / "given").mkdir()
    os.chmod(bundle.rootfs / "given", 0o712)
    bundle.config["mounts"] += [_tmpfs("/data", "nosuid"), _tmpfs("/given", "mode=750"),
                                _tmpfs("/fresh")]
    got = probe.probe(runtime, bundle, {"data": "stat -c %a /data", "given": "stat -c %a /given",
                                        "fresh": "stat -c %a /fresh",
                                        "mountinfo": "cat /proc/self/mountinfo"})
    assert probe.mount_at(probe.parse_mountinfo(got["mountinfo"]), "/data").fstype == "tmpfs"
    assert got["data"] == "712"      # the directory's own mode, not tmpfs's 1777
    if not support.is_runc():
        # runc 1.1.5 chmods after mounting and so loses the config's mode= (later runc
        # puts the directory's mode first in the data, as pyrunc does)
        assert got["given"] == "750"     # the config's mode= wins
    assert got["fresh"] == "1777"    # created by the runtime: tmpfs's default


def _image_tree(rootfs):
    data = rootfs / "data"
    (data / "sub").mkdir(parents=True)
    (data / "file").write_text("from the image\n")
    os.chmod(data / "file", 0o604)
    os.chown(data / "file", 1000, 1000)
    os.chmod(data / "sub", 0o701)
    (data / "sub" / "deep").write_text("deep\n")
    os.symlink("../etc/passwd", data / "link")
    os.chmod(data, 0o770)  # the container's root (no CAP_DAC_OVERRIDE) writes as group 0
    os.chown(data, 1000, 0)


def test_tmpcopyup_starts_with_the_image_contents(runtime, bundle):
    _image_tree(bundle.rootfs)
    bundle.config["mounts"].append(_tmpfs("/data", "nosuid", "nodev", "tmpcopyup"))
    got = probe.probe(runtime, bundle, {
        "mountinfo": "cat /proc/self/mountinfo",
        "file": "cat /data/file", "deep": "cat /data/sub/deep",
        "stat": "stat -c '%n %a %u %g %F' /data /data/file /data/sub",
        "link": "readlink /data/link",
        "write": "echo new > /data/new && echo wrote",
    })
    assert probe.mount_at(probe.parse_mountinfo(got["mountinfo"]), "/data").fstype == "tmpfs"
    assert got["file"] == "from the image"
    assert got["deep"] == "deep"
    assert got["link"] == "../etc/passwd"   # a symlink stays a symlink, never followed
    # the tmpfs root keeps the image directory's mode (mode=) and is root's, as in runc
    assert got["stat"].splitlines() == ["/data 770 0 0 directory",
                                        "/data/file 604 1000 1000 regular file",
                                        "/data/sub 701 0 0 directory"]
    assert got["write"] == "wrote"
    assert not (bundle.rootfs / "data" / "new").exists()  # the tmpfs took the write


def test_tmpcopyup_read_only_is_filled_then_read_only(runtime, bundle):
    _image_tree(bundle.rootfs)
    bundle.config["mounts"].append(_tmpfs("/data", "ro", "tmpcopyup"))
    got = probe.probe(runtime, bundle, {"file": "cat /data/file",
                                        "write": "touch /data/x 2>/dev/null && echo wrote || echo refused"})
    assert got["file"] == "from the image"
    assert got["write"] == "refused"


@pytest.mark.requires("userns")
def test_bind_from_below_a_closed_host_dir_into_a_user_namespace(tmp_path):
    """runc opens bind sources on the host's side before the user namespace
    exists; the container's root (host uid 100000) cannot traverse 0000."""
    import shutil
    import tempfile
    from pathlib import Path
    top = Path(tempfile.mkdtemp(prefix="pyrunc-closed-", dir="/tmp"))  # pytest's tmp is 0700
    try:
        top.chmod(0o711)
        runtime = support.Runtime(top / "root")
        runtime.root.mkdir(mode=0o711)
        bundle = support.Bundle(top / "bundle")
        bundle.path.chmod(0o711)
        closed = top / "closed"
        (closed / "src").mkdir(parents=True)
        (closed / "src" / "hello").write_text("through a closed door\n")
        (closed / "src").chmod(0o755)
        (closed / "file").write_text("a file source\n")
        (closed / "file").chmod(0o644)
        closed.chmod(0o000)
        (bundle.rootfs / "data").mkdir()  # mount points: the container's root may not create them
        (bundle.rootfs / "one").touch()
        cfg = bundle.config
        probe.set_namespace(cfg, "user")
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["mounts"] += [
            {"destination": "/data", "type": "bind", "source": str(closed / "src"), "options": ["rbind", "ro"]},
            {"destination": "/one", "type": "bind", "source": str(closed / "file"), "options": ["bind"]},
        ]
        got = probe.probe(runtime, bundle, {"hello": "cat /data/hello", "one": "cat /one",
                                            "ro": "touch /data/x 2>/dev/null && echo wrote || echo refused"})
        assert got["hello"] == "through a closed door"
        assert got["one"] == "a file source"
        assert got["ro"] == "refused"
    finally:
        (top / "closed").chmod(0o755) if (top / "closed").exists() else None
        shutil.rmtree(top, ignore_errors=True)
