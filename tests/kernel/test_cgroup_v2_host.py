"""The v2 and systemd drivers on a pure cgroup v2 host (the tests/vm guest).

Skipped on this hybrid host; the VM test-bed runs them. Cgroups live under
/pyrunc-test/<id> (fs2) or a pyrunctest-<id>.scope in system.slice
(systemd); processes placed in them are children this test forked.
"""
from __future__ import annotations

import errno
import os
import signal
import time
import uuid

import pytest

from pyrunc.cgroups import load_manager, new_manager
from tests import support
from tests.kernel.test_cgroup_v1 import Child, utime

pytestmark = [pytest.mark.requires("root"), pytest.mark.requires("cgroup_v2")]


def _cleanup(m, kids):
    for k in kids:
        try:
            os.kill(k.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            k.wait()
        except ChildProcessError:
            pass
    m.destroy()


def _read(m, name):
    with open(os.path.join(m.paths[""], name)) as f:
        return f.read().strip()


RES = {"memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 16 << 20},
       "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0"},
       "pids": {"limit": 20},
       "devices": [{"allow": False, "access": "rwm"}]}


def test_fs2_resources_devices_freeze_kill():
    cid = f"k-{uuid.uuid4().hex[:8]}"
    m = new_manager(cid, support.cgroup_path_for(cid), RES)
    assert m.record()["driver"] == "fs2"
    kids = []
    try:
        m.create()
        assert _read(m, "memory.max") == str(64 << 20)
        assert _read(m, "memory.swap.max") == str(32 << 20)
        assert _read(m, "memory.low") == str(16 << 20)
        assert _read(m, "cpu.weight") == "39"
        assert _read(m, "cpu.max") == "50000 100000"
        assert _read(m, "pids.max") == "20"

        def probe():
            try:
                os.close(os.open("/dev/kmsg", os.O_RDONLY))
                return "open"
            except OSError as exc:
                return errno.errorcode[exc.errno]
        k = Child(probe)
        kids.append(k)
        m.add(k.pid)
        k.release()
        assert k.result() == "EPERM"

        def spin():
            while True:
                pass
        s = Child(spin)
        kids.append(s)
        m.add(s.pid)
        s.release()
        time.sleep(0.2)
        live = load_manager(m.record())
        live.freeze()
        t0 = utime(s.pid)
        time.sleep(0.3)
        assert utime(s.pid) == t0 and live.frozen()
        live.thaw()
        live.set({"memory": {"limit": 128 << 20}})
        assert _read(m, "memory.max") == str(128 << 20)
        assert live.stats()["memory"]["usage"]["limit"] == 128 << 20
        live.signal_all(signal.SIGKILL)
        assert os.WTERMSIG(s.wait()) == signal.SIGKILL
        kids.remove(s)
    finally:
        _cleanup(m, kids)
    assert not m.exists()


@pytest.mark.requires("systemd")
def test_systemd_scope_is_created_and_removed():
    cid = f"k-{uuid.uuid4().hex[:8]}"
    m = new_manager(cid, f"system.slice:pyrunctest:{cid}", {"memory": {"limit": 64 << 20}, "pids": {"limit": 20}},
                    systemd=True)
    unit_dir = m.paths[""]
    assert unit_dir.endswith(f"/system.slice/pyrunctest-{cid}.scope")
    kids = []
    try:
        m.create()
        k = Child(lambda: open("/proc/self/cgroup").read())
        kids.append(k)
        m.add(k.pid)
        # while the child lives: systemd removes a scope whose last process exits
        assert _read(m, "memory.max") == str(64 << 20)
        assert _read(m, "pids.max") == "20"
        load_manager(m.record()).set({"pids": {"limit": 30}})
        assert _read(m, "pids.max") == "30"
        k.release()
        assert f"0::/system.slice/pyrunctest-{cid}.scope" in k.result()
    finally:
        _cleanup(m, kids)
    assert not os.path.exists(unit_dir)
