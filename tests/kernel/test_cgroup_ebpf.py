"""The v2 device filter loaded with bpf(2) and attached for real.

This host's cgroup2 hierarchy (/sys/fs/cgroup/unified) has no controllers,
but device programs attach to any cgroup2 directory. The test makes its own
directory there, puts a child it forked inside, and removes both.
"""
from __future__ import annotations

import errno
import os
import signal
import uuid

import pytest

from pyrunc.cgroups import devicefilter, devices, ebpf, fsio
from tests.kernel.test_cgroup_v1 import Child

UNIFIED = "/sys/fs/cgroup/unified"
pytestmark = [pytest.mark.requires("root"),
              pytest.mark.skipif(not os.path.exists(f"{UNIFIED}/cgroup.procs"), reason="no hybrid cgroup2 here")]


@pytest.fixture
def cgdir():
    d = f"{UNIFIED}/pyrunc-test-ebpf-{uuid.uuid4().hex[:8]}"
    os.mkdir(d)
    yield d
    fsio.rmdir_tree(d)


def probe():
    out = []
    for dev in ("/dev/null", "/dev/zero", "/dev/kmsg"):
        try:
            os.close(os.open(dev, os.O_RDONLY))
            out.append("ok")
        except OSError as exc:
            out.append(errno.errorcode[exc.errno])
    return " ".join(out)


def run_inside(d: str) -> str:
    kid = Child(probe)
    try:
        fsio.write(d, "cgroup.procs", str(kid.pid))
        kid.release()
        return kid.result()
    finally:
        try:
            os.kill(kid.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        kid.wait()


def test_default_deny_program_is_enforced(cgdir):
    rules = devices.from_spec([{"allow": False, "access": "rwm"}])
    ebpf.install(cgdir, devicefilter.build(rules))
    fd = os.open(cgdir, os.O_DIRECTORY)
    try:
        assert len(ebpf.query(fd)) == 1
    finally:
        os.close(fd)
    assert run_inside(cgdir) == "ok ok EPERM"     # /dev/kmsg (1:11) is not in runc's list


def test_reinstall_replaces_the_program(cgdir):
    deny_zero = devices.from_spec([{"allow": False, "access": "rwm"}]) + [
        devices.Rule("c", 1, 5, "rw", False)]
    ebpf.install(cgdir, devicefilter.build(devices.from_spec([{"allow": False, "access": "rwm"}])))
    ebpf.install(cgdir, devicefilter.build(deny_zero))
    fd = os.open(cgdir, os.O_DIRECTORY)
    try:
        assert len(ebpf.query(fd)) == 1             # never two filters left behind
    finally:
        os.close(fd)
    assert run_inside(cgdir) == "ok EPERM EPERM"


def test_allow_all_program(cgdir):
    ebpf.install(cgdir, devicefilter.build([devices.Rule("a", -1, -1, "rwm", True)]))
    assert run_inside(cgdir) == "ok ok ok"
