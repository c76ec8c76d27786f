"""A fake cgroupfs in a tmp dir for the cgroups unit tests (and its own checks).

`FakeCgroupFS(tmp, "hybrid"|"v1"|"v2")` lays out hierarchy roots with the files
a kernel would show and `.mountinfo`, the /proc/self/mountinfo text that
mounts them there; `.install(monkeypatch)` makes the layout read that text,
makes directories created by the drivers come up populated (the kernel's job)
and records every write in `.writes` as (directory relative to the root,
file, value).
"""
from __future__ import annotations

import os

import pytest

from pyrunc.cgroups import fsio, layout

V1_FILES = {
    "cpu": {"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1",
            "cpu.cfs_burst_us": "0", "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0",
            "cpu.stat": "nr_periods 7\nnr_throttled 2\nthrottled_time 1234\n"},
    "cpuacct": {"cpuacct.usage": "5000", "cpuacct.usage_percpu": "3000 2000 \n",
                "cpuacct.stat": "user 10\nsystem 5\n",
                "cpuacct.usage_all": "cpu user system\n0 2000 1000\n1 1500 500\n"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": "", "cpuset.cpu_exclusive": "0",
               "cpuset.sched_load_balance": "1"},
    "memory": {"memory.limit_in_bytes": "9223372036854771712", "memory.memsw.limit_in_bytes": "9223372036854771712",
               "memory.soft_limit_in_bytes": "9223372036854771712", "memory.swappiness": "60",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
               "memory.usage_in_bytes": "4096", "memory.max_usage_in_bytes": "8192", "memory.failcnt": "1",
               "memory.memsw.usage_in_bytes": "4096", "memory.memsw.max_usage_in_bytes": "8192",
               "memory.memsw.failcnt": "0", "memory.kmem.tcp.limit_in_bytes": "9223372036854771712",
               "memory.stat": "cache 100\nrss 200\n"},
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
    "freezer": {"freezer.state": "THAWED"},
    "pids": {"pids.max": "max", "pids.current": "2"},
    "blkio": {"blkio.bfq.weight": "100", "blkio.bfq.weight_device": "", "blkio.throttle.read_bps_device": "",
              "blkio.throttle.write_bps_device": "", "blkio.throttle.read_iops_device": "",
              "blkio.throttle.write_iops_device": "",
              "blkio.throttle.io_service_bytes_recursive": "8:0 Read 512\n8:0 Write 1024\nTotal 1536\n",
              "blkio.throttle.io_serviced_recursive": "8:0 Read 1\n8:0 Write 2\nTotal 3\n"},
    "systemd": {},
}
V1_ROOT_OVERRIDES = {"cpuset": {"cpuset.cpus": "0-1", "cpuset.mems": "0"}}
V2_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc"
V2_FILES = {
    "cgroup.controllers": V2_CONTROLLERS, "cgroup.subtree_control": "", "cgroup.freeze": "0",
    "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.kill": "", "cgroup.type": "domain",
    "memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "memory.current": "4096",
    "memory.swap.current": "0", "memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
    "memory.stat": "anon 100\nfile 300\n", "cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0",
    "cpu.idle": "0", "cpu.stat": "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\nnr_throttled 1\nthrottled_usec 7\n",
    "cpuset.cpus": "", "cpuset.mems": "", "cpuset.cpus.effective": "0-1", "cpuset.mems.effective": "0",
    "pids.max": "max", "pids.current": "1", "io.max": "", "io.weight": "default 100", "io.stat": "8:0 rbytes=512 wbytes=1024 rios=1 wios=2\n",
    "hugetlb.2MB.max": "max", "hugetlb.2MB.current": "0", "hugetlb.2MB.events": "max 0\n", "rdma.max": "",
}


def _fill(d: str, files: dict) -> None:
    for name, content in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(content)
    open(os.path.join(d, "cgroup.procs"), "a").close()


class FakeCgroupFS:
    def __init__(self, tmp, mode: str = "hybrid"):
        self.root = str(tmp / "cgroup")
        self.mode = mode
        self.writes: list[tuple[str, str, str]] = []
        os.makedirs(self.root)
        self.mounts: list[str] = [f"31 23 0:28 / {os.path.dirname(self.root)} rw - tmpfs tmpfs rw"]
        if mode == "v2":
            _fill(self.root, V2_FILES)
            self.add_mount(self.root, "cgroup2", "rw,nsdelegate")
            return
        for ctrl, files in V1_FILES.items():
            d = os.path.join(self.root, ctrl)
            os.mkdir(d)
            _fill(d, {**files, **V1_ROOT_OVERRIDES.get(ctrl, {})})
            self.add_mount(d, "cgroup", "rw," + ("name=systemd" if ctrl == "systemd" else ctrl))
        if mode == "hybrid":
            d = os.path.join(self.root, "unified")
            os.mkdir(d)
            _fill(d, {"cgroup.controllers": "", "cgroup.subtree_control": ""})
            self.add_mount(d, "cgroup2", "rw,nsdelegate")

    def add_mount(self, point: str, fstype: str, options: str, root: str = "/") -> None:
        n = len(self.mounts) + 32
        self.mounts.append(f"{n} 31 0:{n} {root} {point} rw,relatime shared:{n} - {fstype} {fstype} {options}")

    @property
    def mountinfo(self) -> str:
        return "".join(line + "\n" for line in self.mounts)

    def template_for(self, d: str) -> dict:
        if self.mode == "v2":
            return V2_FILES
        top = os.path.relpath(d, self.root).split("/")[0]
        if top == "unified":
            return {"cgroup.controllers": "", "cgroup.subtree_control": ""}
        return V1_FILES.get(top, {})

    def install(self, monkeypatch) -> "FakeCgroupFS":
        real_makedirs, real_write = fsio.makedirs, fsio.write

        def makedirs(path, controller):
            made = real_makedirs(path, controller)
            for d in made:
                _fill(d, self.template_for(d))
            return made

        def write(directory, name, value, controller=None):
            self.writes.append((os.path.relpath(directory, self.root), name, value))
            return real_write(directory, name, value, controller)

        monkeypatch.setattr(fsio, "makedirs", makedirs)
        monkeypatch.setattr(fsio, "write", write)
        monkeypatch.setattr(layout, "read_mountinfo", lambda: self.mountinfo)
        return self

    def rmtree_cgroup(self, d: str) -> None:
        """What rmdir does on cgroupfs (the files vanish with the dir)."""
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if not os.path.isdir(p):
                os.unlink(p)

    def read(self, rel: str, name: str) -> str:
        with open(os.path.join(self.root, rel, name)) as f:
            return f.read()

    def writes_to(self, rel: str) -> list[tuple[str, str]]:
        return [(n, v) for d, n, v in self.writes if d == rel]


@pytest.fixture
def fake_rmdir(monkeypatch):
    """On a fake cgroupfs, rmdir must drop the plain files first, as cgroupfs does."""
    real = os.rmdir

    def rmdir(path, *a, **kw):
        if os.path.isdir(path):
            if any(os.path.isdir(os.path.join(path, n)) for n in os.listdir(path)):
                raise OSError(16, "Device or resource busy", path)   # a cgroup with children
            for name in os.listdir(path):
                p = os.path.join(path, name)
                if not os.path.isdir(p):
                    os.unlink(p)
        return real(path, *a, **kw)

    monkeypatch.setattr(fsio.posix, "rmdir", rmdir)


def test_fake_hybrid_is_detected_as_hybrid(tmp_path):
    fs = FakeCgroupFS(tmp_path, "hybrid")
    assert layout.mode(fs.root) == "hybrid"
    mounts = layout.v1_mounts(fs.root, fs.mountinfo)
    assert mounts[""].endswith("/unified") and mounts["name=systemd"].endswith("/systemd")
    assert set(mounts) >= {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "pids", "blkio"}


def test_fake_v2_and_v1_modes(tmp_path):
    assert layout.mode(FakeCgroupFS(tmp_path / "a", "v2").root) == "v2"
    assert layout.mode(FakeCgroupFS(tmp_path / "b", "v1").root) == "v1"
