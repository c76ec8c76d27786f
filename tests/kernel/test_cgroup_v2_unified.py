"""The v2 driver for real, on this hybrid host's cgroup2 hierarchy.

/sys/fs/cgroup/unified has no controllers, but everything cgroup2 does by
itself works there: directories, cgroup.procs, cgroup.freeze, cgroup.kill,
and eBPF device programs. So the fs2 manager is pointed at it (the cgroupfs
root is injectable) with device rules only, and a forked child is placed in
it. Everything lives under pyrunc-test-v2-<uuid> and is removed.
"""
from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from pyrunc.cgroups import load_manager, new_manager
from tests.kernel.test_cgroup_v1 import Child, utime
from tests.kernel.test_cgroup_ebpf import probe

UNIFIED = "/sys/fs/cgroup/unified"
pytestmark = [pytest.mark.requires("root"),
              pytest.mark.skipif(not os.path.exists(f"{UNIFIED}/cgroup.freeze") and
                                 not os.path.exists(f"{UNIFIED}/cgroup.procs"), reason="no cgroup2 here")]


@pytest.fixture
def mgr():
    made = []

    def make(resources=None):
        cid = f"v2-{uuid.uuid4().hex[:8]}"
        m = new_manager(cid, f"/pyrunc-test-v2-{cid}/{cid}", resources, root=UNIFIED)
        made.append(m)
        return m
    yield make
    for m in made:
        if m.exists():
            m.signal_all(signal.SIGKILL)
            deadline = time.monotonic() + 5
            while m.pids() and time.monotonic() < deadline:
                time.sleep(0.01)
        m.destroy()
        parent = os.path.dirname(m.paths[""])
        if os.path.isdir(parent):
            os.rmdir(parent)


def test_device_program_create_add_and_destroy(mgr):
    m = mgr({"devices": [{"allow": False, "access": "rwm"}]})
    assert m.record()["driver"] == "fs2"
    m.create()
    kid = Child(probe)
    try:
        m.add(kid.pid)
        kid.release()
        assert kid.result() == "ok ok EPERM"
        assert f"0::/pyrunc-test-v2-{m.container_id}/{m.container_id}" in open(f"/proc/{kid.pid}/cgroup").read()
    finally:
        kid.wait()
    m.destroy()
    assert not m.exists()


def test_freeze_and_kill_without_controllers(mgr):
    m = mgr()
    m.create()

    def spin():
        while True:
            pass
    kids = [Child(spin) for _ in range(2)]
    try:
        for k in kids:
            m.add(k.pid)
            k.release()
        time.sleep(0.2)
        live = load_manager(m.record())
        assert sorted(live.pids()) == sorted(k.pid for k in kids)
        live.freeze()
        assert live.frozen()
        t0 = utime(kids[0].pid)
        time.sleep(0.4)
        assert utime(kids[0].pid) == t0
        live.thaw()
        assert not live.frozen()
        if os.path.exists(os.path.join(m.paths[""], "cgroup.kill")):
            live.signal_all(signal.SIGKILL)            # cgroup.kill: the whole tree at once
            for k in kids:
                assert os.WTERMSIG(k.wait()) == signal.SIGKILL
    finally:
        for k in kids:
            try:
                os.kill(k.pid, signal.SIGKILL)
                k.wait()
            except (ProcessLookupError, ChildProcessError):
                pass
