"""The v1 driver for real on this (hybrid) host.

Every cgroup lives under /pyrunc-test/k-<uuid> and is destroyed by the
fixture; every process placed in one is a child this test forked (it waits on
a pipe until it has been placed, then does one thing and reports).
"""
from __future__ import annotations

import errno
import os
import signal
import time
import uuid

import pytest

from pyrunc.cgroups import load_manager, new_manager
from pyrunc.errors import CgroupError
from tests import support
from tests.conformance.test_cgroups_commands import blkio_weight_file, fresh_cgroup_files, hierarchy_id

pytestmark = [pytest.mark.requires("root"), pytest.mark.requires("cgroup_v1")]
ROOT = "/sys/fs/cgroup"


class Child:
    """A forked child that runs `fn` once released; its result comes back as text."""

    def __init__(self, fn):
        self.go_r, self.go_w = os.pipe()
        self.res_r, self.res_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # child
            try:
                os.close(self.go_w)
                os.read(self.go_r, 1)
                out = fn() or ""
                os.write(self.res_w, str(out).encode())
            finally:
                os._exit(0)
        os.close(self.go_r)
        os.close(self.res_w)

    def release(self):
        os.write(self.go_w, b"x")
        os.close(self.go_w)

    def result(self, timeout=20) -> str:
        import select
        ready, _, _ = select.select([self.res_r], [], [], timeout)
        assert ready, "child did not report"
        data = b""
        while True:
            chunk = os.read(self.res_r, 4096)
            if not chunk:
                break
            data += chunk
        return data.decode()

    def wait(self) -> int:
        _, status = os.waitpid(self.pid, 0)
        return status


@pytest.fixture
def cg():
    made = []

    def make(resources=None, path=None):
        cid = f"k-{uuid.uuid4().hex[:8]}"
        m = new_manager(cid, path or support.cgroup_path_for(cid), resources)
        made.append(m)
        return m
    yield make
    for m in made:
        try:
            m.signal_all(signal.SIGKILL)
        except CgroupError:
            pass
        m.destroy()


@pytest.fixture
def children():
    kids = []

    def spawn(fn):
        c = Child(fn)
        kids.append(c)
        return c
    yield spawn
    for c in kids:
        try:
            os.kill(c.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(c.pid, 0)
        except ChildProcessError:
            pass


def read(ctrl, m, name):
    with open(os.path.join(m.paths[ctrl], name)) as f:
        return f.read().strip()


def vda() -> tuple[int, int]:
    for dev in sorted(os.listdir("/sys/block")):
        if not dev.startswith(("loop", "zram", "ram")):
            maj, mnr = open(f"/sys/block/{dev}/dev").read().strip().split(":")
            return int(maj), int(mnr)
    pytest.skip("no block device")


def test_every_resource_this_host_has_is_applied(cg):
    """Every field whose file a fresh cgroup of this host has, read back."""
    maj, mnr = vda()
    files = {ctrl: fresh_cgroup_files(ctrl) for ctrl in ("memory", "cpu", "blkio")}
    weight_file = blkio_weight_file()
    mem = {"limit": 64 << 20, "reservation": 32 << 20, "swappiness": 7, "disableOOMKiller": False}
    want = [("memory", "memory.limit_in_bytes", str(64 << 20)), ("memory", "memory.soft_limit_in_bytes", str(32 << 20)),
            ("memory", "memory.swappiness", "7")]
    if "memory.memsw.limit_in_bytes" in files["memory"]:       # swap accounting on
        mem["swap"] = 96 << 20
        want.append(("memory", "memory.memsw.limit_in_bytes", str(96 << 20)))
    if "memory.kmem.tcp.limit_in_bytes" in files["memory"]:
        mem["kernelTCP"] = 16 << 20
        want.append(("memory", "memory.kmem.tcp.limit_in_bytes", str(16 << 20)))
    cpu = {"shares": 512, "quota": 50000, "period": 200000, "cpus": "0", "mems": "0"}
    want += [("cpu", "cpu.shares", "512"), ("cpu", "cpu.cfs_quota_us", "50000"), ("cpu", "cpu.cfs_period_us", "200000"),
             ("cpuset", "cpuset.cpus", "0"), ("cpuset", "cpuset.mems", "0")]
    for key, name, value in (("burst", "cpu.cfs_burst_us", 1000), ("realtimePeriod", "cpu.rt_period_us", 500000),
                             ("idle", "cpu.idle", 0)):
        if name in files["cpu"]:
            cpu[key] = value
            want.append(("cpu", name, str(value)))
    bio = {"throttleReadBpsDevice": [{"major": maj, "minor": mnr, "rate": 1048576}],
           "throttleWriteBpsDevice": [{"major": maj, "minor": mnr, "rate": 2097152}],
           "throttleReadIOPSDevice": [{"major": maj, "minor": mnr, "rate": 100}],
           "throttleWriteIOPSDevice": [{"major": maj, "minor": mnr, "rate": 200}]}
    want += [("blkio", "blkio.throttle.read_bps_device", f"{maj}:{mnr} 1048576"),
             ("blkio", "blkio.throttle.write_iops_device", f"{maj}:{mnr} 200")]
    if weight_file:
        bio["weight"] = 300
        want.append(("blkio", weight_file, "300"))
    res = {"memory": mem, "cpu": cpu, "pids": {"limit": 42}, "blockIO": bio,
           "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 11,
                                                           "access": "r"}]}
    want.append(("pids", "pids.max", "42"))
    m = cg(res)
    m.create()
    assert [(c, n, read(c, m, n)) for c, n, _ in want] == want
    devs = read("devices", m, "devices.list").splitlines()
    assert "c 1:11 r" in devs and "c 1:3 rwm" in devs and "a *:* rwm" not in devs


def test_kernel_memory_limit_ignored_by_the_kernel_is_a_warning():
    warnings = []
    cid = f"k-{uuid.uuid4().hex[:8]}"
    m = new_manager(cid, support.cgroup_path_for(cid), {"memory": {"kernel": 32 << 20}}, warn=warnings.append)
    try:
        m.create()
        got = read("memory", m, "memory.kmem.limit_in_bytes")
        if got == str(32 << 20):
            assert warnings == []              # an old kernel that still has kmem limits
        else:
            assert any("memory.kmem.limit_in_bytes" in w for w in warnings), warnings
    finally:
        m.destroy()


def test_weight_device_follows_the_disks_scheduler(cg):
    """A device weight lands where the disk's scheduler has a weight file
    (CFQ's or BFQ's); elsewhere create fails naming the file, as runc does."""
    maj, mnr = vda()
    sched = open(f"/sys/dev/block/{maj}:{mnr}/queue/scheduler").read()
    weight_file = blkio_weight_file()
    m = cg({"blockIO": {"weightDevice": [{"major": maj, "minor": mnr, "weight": 200}]}})
    if weight_file and ("[bfq]" in sched or "[cfq]" in sched):
        m.create()
        assert f"{maj}:{mnr} 200" in read("blkio", m, weight_file.replace("weight", "weight_device"))
        return
    dev_file = (weight_file or "blkio.bfq.weight").replace("weight", "weight_device")
    with pytest.raises(CgroupError, match=rf"^cgroup blkio: write {dev_file}={maj}:{mnr} 200: "):
        m.create()
    assert not m.exists()


def test_bad_value_fails_with_file_and_value_and_leaves_no_cgroup(cg):
    m = cg({"memory": {"limit": 64 << 20}, "cpu": {"cpus": "99"}})
    with pytest.raises(CgroupError) as ei:
        m.create()
    # the kernel says EINVAL or ERANGE depending on version
    assert str(ei.value).startswith("cgroup cpuset: write cpuset.cpus=99: ")
    assert not m.exists()
    assert not any(os.path.exists(d) for d in m.paths.values())


def test_default_path_lands_under_pyrunc_parent_and_parent_is_pruned(cg, children):
    m = new_manager(f"k-{uuid.uuid4().hex[:8]}", None, None)
    parent_existed = os.path.isdir(f"{ROOT}/memory/pyrunc")
    try:
        m.create()
        assert m.paths["memory"].startswith(f"{ROOT}/memory/pyrunc/")
        kid = children(lambda: open("/proc/self/cgroup").read())
        m.add(kid.pid)
        kid.release()
        lines = kid.result().splitlines()
        assert f"{hierarchy_id('memory')}:memory:/pyrunc/{m.container_id}" in lines
        assert f"0::/pyrunc/{m.container_id}" in lines           # hybrid: placed in cgroup2 too
        kid.wait()
    finally:
        load_manager(m.record()).destroy()
    assert not m.exists()
    if not parent_existed:
        assert not os.path.exists(f"{ROOT}/memory/pyrunc")


def test_pids_limit_blocks_extra_forks(cg, children):
    m = cg({"pids": {"limit": 3}})
    m.create()

    def fork_many():
        made, err = 0, ""
        pids = []
        for _ in range(6):
            try:
                p = os.fork()
            except OSError as exc:
                err = errno.errorcode[exc.errno]
                break
            if p == 0:
                time.sleep(2)
                os._exit(0)
            pids.append(p)
            made += 1
        for p in pids:
            os.kill(p, signal.SIGKILL)
            os.waitpid(p, 0)
        return f"{made} {err}"
    kid = children(fork_many)
    m.add(kid.pid)
    kid.release()
    assert kid.result() == "2 EAGAIN"       # itself + 2 = 3


def test_memory_limit_oom_kills_and_is_counted(cg, children):
    m = cg({"memory": {"limit": 32 << 20, "swap": 32 << 20}})
    m.create()
    before = m.oom_kill_count()

    def hog():
        blocks = []
        for _ in range(128):
            blocks.append(bytearray(1 << 20))
        return "survived"
    kid = children(hog)
    m.add(kid.pid)
    kid.release()
    status = kid.wait()
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert m.oom_kill_count() == before + 1
    assert m.stats()["memory"]["usage"]["limit"] == 32 << 20


def utime(pid) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[11])


def test_freeze_stops_a_busy_loop_and_thaw_resumes_it(cg, children):
    m = cg()
    m.create()

    def spin():
        while True:
            pass
    kid = children(spin)
    m.add(kid.pid)
    kid.release()
    time.sleep(0.3)
    m.freeze()
    assert m.frozen()
    t0 = utime(kid.pid)
    time.sleep(0.5)
    assert utime(kid.pid) == t0
    m.thaw()
    assert not m.frozen()
    time.sleep(0.5)
    assert utime(kid.pid) > t0
    assert m.stats()["cpu"]["usage"]["total"] > 0


def test_device_rules_are_enforced(cg, children):
    m = cg({"devices": [{"allow": False, "access": "rwm"}]})
    m.create()

    def probe():
        out = []
        for dev in ("/dev/null", "/dev/kmsg"):
            try:
                os.close(os.open(dev, os.O_RDONLY))
                out.append("ok")
            except OSError as exc:
                out.append(errno.errorcode[exc.errno])
        return " ".join(out)
    kid = children(probe)
    m.add(kid.pid)
    kid.release()
    assert kid.result() == "ok EPERM"


def test_update_and_signal_all_and_destroy_while_draining(cg, children):
    m = cg({"memory": {"limit": 64 << 20}})
    m.create()
    kids = [children(lambda: time.sleep(60)) for _ in range(2)]
    for k in kids:
        m.add(k.pid)
        k.release()
    live = load_manager(m.record())
    live.set({"memory": {"limit": 128 << 20}})
    assert read("memory", m, "memory.limit_in_bytes") == str(128 << 20)
    assert sorted(live.pids()) == sorted(k.pid for k in kids)
    live.signal_all(signal.SIGKILL)
    for k in kids:
        status = k.wait()
        assert os.WTERMSIG(status) == signal.SIGKILL
    live.destroy()            # retries while the cgroup drains
    assert not live.exists()
    live.destroy()            # idempotent


def test_oom_watch_uses_an_eventfd_and_sees_the_kill(cg, children):
    from pyrunc.cgroups.oom import OOMWatch
    m = cg({"memory": {"limit": 32 << 20, "swap": 32 << 20}})
    m.create()
    watch = OOMWatch(m)
    try:
        assert watch.efd >= 0                      # registered via cgroup.event_control
        assert watch.wait(0.05) == 0

        def hog():
            blocks = [bytearray(1 << 20) for _ in range(128)]
            return str(len(blocks))
        kid = children(hog)
        m.add(kid.pid)
        kid.release()
        kid.wait()
        seen = 0
        deadline = time.monotonic() + 5
        while not seen and time.monotonic() < deadline:
            seen = watch.wait(0.5)
        assert seen >= 1
    finally:
        watch.close()


def test_discovered_hierarchies_are_the_mounted_ones():
    """What the layout finds is exactly what /proc/self/mountinfo mounts below
    /sys/fs/cgroup (read here independently): no directory name is trusted."""
    from pyrunc.cgroups import layout
    known = {line.split()[0] for line in open("/proc/cgroups") if not line.startswith("#")}
    want = {}
    for line in open("/proc/self/mountinfo"):
        pre, _, post = line.partition(" - ")
        point, (fstype, _, opts) = pre.split()[4], post.split()[:3]
        if not point.startswith(ROOT + "/"):
            continue
        if fstype == "cgroup2":
            want.setdefault("", point)
        elif fstype == "cgroup":
            for opt in opts.split(","):
                if opt in known or opt.startswith("name="):
                    want.setdefault(opt, point)
    got = layout.v1_mounts()
    assert got == want
    plain = [e.path for e in os.scandir(ROOT) if e.is_dir() and not e.is_symlink() and e.path not in want.values()]
    assert not set(plain) & set(got.values())
