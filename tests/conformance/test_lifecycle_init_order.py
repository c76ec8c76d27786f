"""Conformance: what the container's init must do in runc's order for a
config to work at all: read-only mounts made read-only only once what goes
under them exists, time offsets with a user namespace, a terminal in the
host's mount namespace (issue 21's items 4 and 14)."""
from __future__ import annotations

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


def _mount(cfg, dest):
    return next(m for m in cfg["mounts"] if m["destination"] == dest)


@pytest.mark.parametrize("userns", [False, pytest.param(True, marks=pytest.mark.requires("userns"))],
                         ids=["host-ids", "userns"])
def test_readonly_dev_tmpfs_still_gets_its_mounts_and_devices(runtime, bundle, userns):
    """runc mounts a `ro` /dev read-write, makes its mount points, devices
    and links, and remounts it read-only at the end."""
    cfg = bundle.config
    if userns:
        probe.user_namespace(runtime, bundle)
    _mount(cfg, "/dev")["options"].append("ro")
    got = probe.probe(runtime, bundle, {
        "mounts": "cat /proc/self/mountinfo",
        "dev": "ls -l /dev",
        "write": "touch /dev/new-file && echo wrote || echo refused",
        "null": "echo x > /dev/null && echo null-ok",
    })
    mounts = probe.parse_mountinfo(got["mounts"])
    assert "ro" in probe.mount_at(mounts, "/dev").options
    for point in ("/dev/pts", "/dev/shm", "/dev/mqueue"):
        assert probe.mount_at(mounts, point) is not None, point
    dev = probe.parse_ls_dev(got["dev"])
    assert dev["null"]["dev"] == (1, 3) and dev["ptmx"]["link"]
    assert got["write"].endswith("refused")
    assert got["null"] == "null-ok"


def test_readonly_tmpfs_with_a_mount_beneath(runtime, bundle):
    """Any `ro` tmpfs: a later mount's mount point is made in it first."""
    cfg = bundle.config
    cfg["mounts"] += [
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "mode=755"]},
        {"destination": "/data/inner/deep", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
    ]
    got = probe.probe(runtime, bundle, {
        "mounts": "cat /proc/self/mountinfo",
        "outer": "touch /data/x && echo wrote || echo refused",
        "inner": "touch /data/inner/deep/x && echo wrote || echo refused",
    })
    mounts = probe.parse_mountinfo(got["mounts"])
    assert "ro" in probe.mount_at(mounts, "/data").options
    assert "rw" in probe.mount_at(mounts, "/data/inner/deep").options
    assert got["outer"].endswith("refused")
    assert got["inner"] == "wrote"


@pytest.mark.requires("timens", "userns")
def test_time_offsets_with_a_user_namespace(runtime, bundle):
    """The offsets are written by a process privileged over the new time
    namespace before any process is in it: with a user namespace too, that
    is the namespace's owner (crun and runc 1.2 write them before the fork
    into the namespace)."""
    if support.is_runc():
        pytest.skip("runc 1.1.5 has no time namespace support (linux.timeOffsets)")
    probe.user_namespace(runtime, bundle)
    year = 365 * 24 * 3600
    cfg = bundle.config
    probe.set_namespace(cfg, "time")
    cfg["linux"]["timeOffsets"] = {"monotonic": {"secs": year, "nanosecs": 0},
                                   "boottime": {"secs": 2 * year, "nanosecs": 5}}
    got = probe.probe(runtime, bundle, {"offsets": "cat /proc/self/timens_offsets",
                                        "uptime": "cat /proc/uptime"})
    offsets = {line.split()[0]: line.split()[1:] for line in got["offsets"].splitlines()}
    assert offsets["monotonic"] == [str(year), "0"]
    assert offsets["boottime"] == [str(2 * year), "5"]
    assert float(got["uptime"].split()[0]) >= 2 * year


def test_terminal_without_a_mount_namespace(runtime, bundle, tmp_path):
    """No mount namespace: the rootfs is a plain directory (chroot) with an
    empty /dev, the pty comes from the host's devpts, for run and exec."""
    if support.is_runc():
        pytest.skip("runc 1.1.5 without a mount namespace makes the host's / rslave and "
                    "mounts the config's mounts in the host's namespace: not run against it")
    cid = support.unique_id("ttynomnt")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", "test -t 0 && test -t 1 && echo run-tty; sleep 1000"])
    probe.drop_namespace(cfg, "mount")
    cfg["mounts"] = []
    cfg["linux"].pop("maskedPaths", None)
    cfg["linux"].pop("readonlyPaths", None)
    cfg["process"]["terminal"] = True
    bundle.write()
    recv = probe.ConsoleReceiver(tmp_path / "c.sock")
    try:
        proc = probe.call(runtime, "run", "-d", "--console-socket", recv.path, "-b", bundle.path, cid)
        assert proc.returncode == 0, proc.stderr
        probe.wait_for(lambda: b"run-tty" in recv.output, what="output")
        code, out = probe.run_in_pty(runtime.argv("exec", "-t", cid, "sh", "-c",
                                                  "test -t 0 && test -t 1 && echo exec-tty"),
                                     env=probe.runtime_env(("exec", cid)))
    finally:
        runtime.run("delete", "--force", cid)
        recv.close()
    assert code == 0, out
    assert "exec-tty" in out, out
    probe.assert_no_leftovers(runtime, cid, bundle.path)
