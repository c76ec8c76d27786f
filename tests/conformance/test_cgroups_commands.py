"""Conformance: linux.resources applied to the container's cgroup, read back on
the host and from inside, and the cgroup verbs (ps, pause/resume, update,
events, kill --all). The same tests on every host class: on a hybrid or v1
host they read the v1 files, on a pure v2 host (the tests/vm guest) the v2
files the same request becomes (cpu.shares 512 -> cpu.weight 20, as runc
converts), and with PYRUNC_TEST_SYSTEMD_CGROUP=1 through the systemd driver.
Runs against runc too (PYRUNC_TEST_RUNTIME=runc)."""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest

from tests import support
from tests.conformance import probe

pytestmark = [pytest.mark.requires("root")]
CG = "/sys/fs/cgroup"
V2 = os.path.exists(f"{CG}/cgroup.controllers")
v1_only = pytest.mark.requires("cgroup_v1")


def cgroup_file(cid: str, name: str) -> str:
    """The container's cgroup file `name` (its controller is the name's
    prefix on v1: memory.max is v2's, memory.limit_in_bytes v1's)."""
    rel = support.cgroup_rel_for(cid).lstrip("/")
    if V2:
        return f"{CG}/{rel}/{name}"
    return f"{CG}/{name.split('.', 1)[0]}/{rel}/{name}"


def host(cid: str, name: str) -> str:
    with open(cgroup_file(cid, name)) as f:
        return f.read().strip()


def on_host(v1, v2):
    """What one request shows on this host's cgroup version: v1's or v2's."""
    return v2 if V2 else v1


def fresh_cgroup_files(ctrl: str) -> set[str]:
    """The files a new cgroup of this hierarchy has on this host (some, like
    blkio.bfq.weight, never show at the root): what the host can apply."""
    d = f"{CG}/{ctrl}/{support.TEST_CGROUP_PARENT}/files-{uuid.uuid4().hex[:8]}"
    if not os.path.isdir(f"{CG}/{ctrl}"):
        return set()
    os.makedirs(d)
    try:
        return set(os.listdir(d))
    finally:
        os.rmdir(d)


def blkio_weight_file() -> str | None:
    """CFQ's blkio.weight, BFQ's blkio.bfq.weight, or None (neither scheduler,
    or no v1 blkio hierarchy)."""
    if V2:
        return None
    files = fresh_cgroup_files("blkio")
    return next((f for f in ("blkio.weight", "blkio.bfq.weight") if f in files), None)


def hierarchy_id(ctrl: str) -> str:
    """The hierarchy number /proc/<pid>/cgroup shows for `ctrl` on this host."""
    for line in open("/proc/self/cgroup").read().splitlines():
        num, ctrls, _ = line.split(":", 2)
        if ctrl in ctrls.split(","):
            return num
    raise AssertionError(f"{ctrl} is not in /proc/self/cgroup")


def cgroup_line(cid: str) -> str:
    """The line of the init's /proc/<pid>/cgroup that names its cgroup."""
    rel = support.cgroup_rel_for(cid)
    return f"0::{rel}" if V2 else f"{hierarchy_id('memory')}:memory:{rel}"


def cpu_usage_ns(cid: str) -> int:
    if V2:
        stat = dict(line.split() for line in host(cid, "cpu.stat").splitlines())
        return int(stat["usage_usec"]) * 1000
    return int(host(cid, "cpuacct.usage"))


def frozen(cid: str) -> bool:
    if V2:
        return host(cid, "cgroup.freeze") == "1"
    return host(cid, "freezer.state") == "FROZEN"


class Detached:
    """create (+ start) a container whose stdio goes to a file, deleted at the end."""

    def __init__(self, runtime, bundle, tmp_path, args, resources=None, start=True):
        self.runtime = runtime
        self.cid = support.unique_id("cg")
        cfg = probe.prepare(bundle, self.cid, args)
        if resources:
            cfg["linux"].setdefault("resources", {}).update(resources)
        bundle.write()
        self.out_path = tmp_path / f"{self.cid}.out"
        with open(self.out_path, "w") as out:
            proc = runtime.run("create", "-b", bundle.path, self.cid, capture_output=False,
                               stdout=out, stderr=out)
        assert proc.returncode == 0, self.output()
        if start:
            runtime.run("start", self.cid, check=True)

    def output(self) -> str:
        return self.out_path.read_text()

    def run(self, *args, **kw):
        return self.runtime.run(*args, **kw)

    def delete(self):
        self.runtime.run("delete", "--force", self.cid)


@pytest.fixture
def detached(runtime, bundle, tmp_path):
    made = []

    def make(args, resources=None, start=True):
        c = Detached(runtime, bundle, tmp_path, args, resources, start)
        made.append(c)
        return c
    yield make
    for c in made:
        c.delete()
        probe.assert_no_leftovers(runtime, c.cid)


RESOURCES = {"memory": {"limit": 64 << 20, "reservation": 32 << 20},
             "cpu": {"shares": 512, "quota": 30000, "period": 100000, "cpus": "0", "mems": "0"},
             "pids": {"limit": 50}}
# what RESOURCES becomes on each version (v2: runc's conversions)
APPLIED = on_host(
    {"memory.limit_in_bytes": str(64 << 20), "memory.soft_limit_in_bytes": str(32 << 20),
     "cpu.shares": "512", "cpu.cfs_quota_us": "30000", "cpu.cfs_period_us": "100000",
     "cpuset.cpus": "0", "pids.max": "50"},
    {"memory.max": str(64 << 20), "memory.low": str(32 << 20), "cpu.weight": "20",
     "cpu.max": "30000 100000", "cpuset.cpus": "0", "pids.max": "50"})


def host_resources() -> dict:
    """RESOURCES plus a blkio weight where this host has a weight file, and
    v1's swappiness (v2 has none: runc ignores it there)."""
    res = dict(RESOURCES)
    if not V2:
        res["memory"] = {**res["memory"], "swappiness": 10}
    if blkio_weight_file():
        res["blockIO"] = {"weight": 300}
    return res


def test_resources_are_applied_on_the_host(detached):
    weight_file = blkio_weight_file()
    c = detached(["sleep", "60"], host_resources(), start=False)
    for name, value in APPLIED.items():
        assert (name, host(c.cid, name)) == (name, value)
    if not V2:
        assert host(c.cid, "memory.swappiness") == "10"
        devs = host(c.cid, "devices.list").splitlines()
        assert "c 1:3 rwm" in devs and "c 136:* rwm" in devs and "a *:* rwm" not in devs
    if weight_file:
        assert host(c.cid, weight_file) == "300"
    # the init is in its final cgroup already at `created` (shims read this)
    pid = c.runtime.state(c.cid)["pid"]
    assert cgroup_line(c.cid) in open(f"/proc/{pid}/cgroup").read().splitlines()


@v1_only
def test_blkio_weight_follows_the_host(runtime, bundle, detached):
    """Applied where the host has CFQ's or BFQ's weight file; where it has
    neither, create fails naming blkio.bfq.weight, as runc 1.1 does."""
    weight_file = blkio_weight_file()
    if weight_file:
        c = detached(["true"], {"blockIO": {"weight": 300}}, start=False)
        assert host(c.cid, weight_file) == "300"
        return
    cid = support.unique_id("w")
    cfg = probe.prepare(bundle, cid, ["true"])
    cfg["linux"]["resources"]["blockIO"] = {"weight": 300}
    bundle.write()
    proc = runtime.run("create", "-b", bundle.path, cid)
    assert proc.returncode != 0
    assert "blkio.bfq.weight" in proc.stderr and "no such file or directory" in proc.stderr
    if not support.is_runc():
        assert probe.error_lines(proc.stderr) == [
            "cgroup blkio: write blkio.bfq.weight=300: no such file or directory (this host has no "
            "proportional-weight I/O scheduler: neither CFQ's blkio.weight nor BFQ's blkio.bfq.weight)"]
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_resources_seen_from_inside(runtime, bundle):
    bundle.config["linux"]["resources"].update(host_resources())
    if V2:
        # the container's own cgroup as /sys/fs/cgroup, whatever the runtime
        # mounts without a cgroup namespace
        bundle.config["linux"]["namespaces"].append({"type": "cgroup"})
        files = {"mem": "memory.max", "pids": "pids.max", "shares": "cpu.weight", "cpus": "cpuset.cpus"}
    else:
        files = {"mem": "memory/memory.limit_in_bytes", "pids": "pids/pids.max",
                 "shares": "cpu/cpu.shares", "cpus": "cpuset/cpuset.cpus"}
    got = probe.probe(runtime, bundle, {
        **{key: f"cat /sys/fs/cgroup/{name}" for key, name in files.items()},
        "nproc": "grep -c ^processor /proc/cpuinfo; cat /proc/self/status | grep Cpus_allowed_list",
        "kmsg": "head -c1 /dev/kmsg >/dev/null 2>&1 && echo open || echo denied",
    })
    assert got["mem"] == str(64 << 20)
    assert got["pids"] == "50"
    assert got["shares"] == ("20" if V2 else "512")
    assert got["cpus"] == "0"
    assert got["nproc"].splitlines()[-1].split()[-1] == "0"   # affinity follows cpuset
    assert got["kmsg"] == "denied"                            # not in the default device list


def test_pids_limit_blocks_the_eleventh_process(detached):
    # busybox sh exits when a fork fails, so the forks run in a subshell: sh +
    # subshell + 8 sleeps = 10 processes; the 11th fork must fail
    script = ("(for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 60 & echo started; done); "
              "echo spawned; sleep 60")
    c = detached(["sh", "-c", script], {"pids": {"limit": 10}})
    probe.wait_for(lambda: "spawned" in c.output(), what="the forks")
    assert c.output().count("started") == 8
    assert "can't fork" in c.output()
    assert host(c.cid, "pids.max") == "10"
    pids = json.loads(c.run("ps", "--format", "json", c.cid, check=True).stdout)
    assert len(pids) == 9 and int(host(c.cid, "pids.current")) == 9   # the subshell is gone


def test_ps_table_lists_the_containers_processes(detached):
    c = detached(["sleep", "60"])
    out = c.run("ps", c.cid, check=True).stdout.splitlines()
    assert out[0].split()[:2] == ["UID", "PID"]
    pid = c.runtime.state(c.cid)["pid"]
    assert len(out) == 2 and out[1].split()[1] == str(pid)
    out = c.run("ps", c.cid, "-o", "pid,comm", check=True).stdout.splitlines()
    assert out[1].split() == [str(pid), "sleep"]


def test_pause_freezes_a_busy_loop_and_resume_restarts_it(detached):
    c = detached(["sh", "-c", "while :; do :; done"])
    probe.wait_for(lambda: cpu_usage_ns(c.cid) > 50_000_000, what="cpu use")
    c.run("pause", c.cid, check=True)
    assert c.runtime.state(c.cid)["status"] == "paused"
    assert frozen(c.cid)
    t0 = cpu_usage_ns(c.cid)
    time.sleep(0.5)
    assert cpu_usage_ns(c.cid) == t0
    assert c.run("pause", c.cid).returncode != 0               # already paused (runc: "not running")
    c.run("resume", c.cid, check=True)
    assert c.runtime.state(c.cid)["status"] == "running"
    assert not frozen(c.cid)
    probe.wait_for(lambda: cpu_usage_ns(c.cid) > t0 + 50_000_000, what="cpu use after resume")
    probe.stderr_says(c.run("resume", c.cid), "not paused")


MEMORY_LIMIT = on_host("memory.limit_in_bytes", "memory.max")


def test_update_changes_a_running_containers_limits(detached, tmp_path):
    c = detached(["sleep", "60"], {"memory": {"limit": 64 << 20}, "pids": {"limit": 50}})
    c.run("update", "--memory", "128M", c.cid, check=True)
    assert host(c.cid, MEMORY_LIMIT) == str(128 << 20)
    c.run("update", "--pids-limit", "20", "--cpu-share", "256", c.cid, check=True)
    assert host(c.cid, "pids.max") == "20"
    assert host(c.cid, on_host("cpu.shares", "cpu.weight")) == on_host("256", "10")
    res = tmp_path / "res.json"
    res.write_text(json.dumps({"memory": {"limit": 96 << 20}, "cpu": {"quota": 20000, "period": 100000}}))
    c.run("update", "-r", str(res), c.cid, check=True)
    assert host(c.cid, MEMORY_LIMIT) == str(96 << 20)
    if V2:
        assert host(c.cid, "cpu.max") == "20000 100000"
    else:
        assert host(c.cid, "cpu.cfs_quota_us") == "20000"
    assert host(c.cid, "pids.max") == "20"            # untouched fields keep their value


def test_memory_limit_oom_kill_is_reported_by_events(runtime, detached, tmp_path):
    c = detached(["sh", "-c", "sleep 1; dd if=/dev/zero of=/dev/null bs=128M count=1; sleep 60"],
                 {"memory": {"limit": 64 << 20}}, start=False)
    events_out = tmp_path / "events.out"
    with open(events_out, "w") as out:
        ev = subprocess.Popen(runtime.argv("events", "--interval", "300ms", c.cid), stdout=out,
                              stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.5)                                       # let events register for OOM
        c.run("start", c.cid, check=True)
        probe.wait_for(lambda: '"oom"' in events_out.read_text(), timeout=20, what="an oom event")
        c.delete()                                            # the cgroup goes: events ends
        ev.wait(timeout=15)
    finally:
        if ev.poll() is None:
            ev.kill()
            ev.wait()
    lines = [json.loads(line) for line in events_out.read_text().splitlines() if line.startswith("{")]
    assert {"type": "oom", "id": c.cid} in lines
    stats = [e for e in lines if e["type"] == "stats"]
    assert stats and stats[0]["id"] == c.cid and "memory" in stats[0]["data"]


# the field set of runc 1.1's `events --stats` on this host (types.Stats, Go omitempty)
STATS_TOP = {"type", "id", "data"}
STATS_DATA = {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"}
STATS_MEMORY = {"cache", "usage", "swap", "kernel", "kernelTCP", "raw"}


def test_events_stats_has_runcs_shape(detached):
    c = detached(["sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; sleep 60"],
                 {"memory": {"limit": 64 << 20}, "pids": {"limit": 30}})
    time.sleep(0.5)
    out = c.run("events", "--stats", c.cid, check=True).stdout
    assert out.count("\n") == 1
    ev = json.loads(out)
    assert set(ev) == STATS_TOP and ev["type"] == "stats" and ev["id"] == c.cid
    data = ev["data"]
    assert set(data) == STATS_DATA
    assert set(data["cpu"]) == {"usage", "throttling"}
    # v2 accounts no per-cpu usage (runc omits percpu there)
    assert {"total", "kernel", "user"} | on_host({"percpu"}, set()) <= set(data["cpu"]["usage"])
    assert set(data["memory"]) <= STATS_MEMORY and {"usage", "swap", "kernel", "kernelTCP"} <= set(data["memory"])
    assert data["memory"]["usage"]["limit"] == 64 << 20 and {"limit", "failcnt"} <= set(data["memory"]["usage"])
    assert data["pids"] == {"current": 1, "limit": 30}
    assert data["network_interfaces"] is None and data["intel_rdt"] == {}


def test_kill_all_signals_every_process(detached):
    c = detached(["sh", "-c", "sleep 60 & sleep 60 & wait"])
    probe.wait_for(lambda: len(json.loads(c.run("ps", "--format", "json", c.cid).stdout or "[]")) == 3,
                   what="3 processes")
    c.run("kill", "--all", c.cid, "KILL", check=True)
    probe.wait_status(c.runtime, c.cid, "stopped")
    assert support.live_pids_with_env(probe.marker(c.cid)) == []


def test_events_on_a_stopped_container_is_an_error(detached):
    c = detached(["true"])
    probe.wait_status(c.runtime, c.cid, "stopped")
    proc = c.run("events", "--stats", c.cid)
    probe.stderr_says(proc, "is not running")


def _key_paths(obj, prefix=""):
    out = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(f"{prefix}/{k}")
            out |= _key_paths(v, f"{prefix}/{k}")
    elif isinstance(obj, list):
        for v in obj:
            out |= _key_paths(v, prefix + "[]")
    return out


# Go omitempty fields of types.Stats: present or not depending on the value
_OMITEMPTY = {"total", "percpu", "percpu_kernel", "percpu_user", "periods", "throttledPeriods", "throttledTime",
              "cpus", "mems", "cache", "usage", "max", "raw", "current", "limit", "major", "minor", "op", "value"}


@pytest.mark.requires("runc")
def test_events_stats_field_set_equals_runcs(bundle, tmp_path):
    """The same container under runc and under the runtime being tested."""
    if support.is_runc():
        pytest.skip("compares another runtime with runc")
    outputs = {}
    for name, binary in (("runc", "runc"), ("test", support.runtime_binary())):
        rt = support.Runtime(tmp_path / f"root-{name}", binary)
        c = Detached(rt, bundle, tmp_path, ["sh", "-c", "i=0; while [ $i -lt 50000 ]; do i=$((i+1)); done; sleep 60"],
                     {"memory": {"limit": 64 << 20}, "pids": {"limit": 30}, "cpu": {"quota": 50000, "period": 100000}})
        try:
            time.sleep(0.5)
            outputs[name] = json.loads(rt.run("events", "--stats", c.cid, check=True).stdout)
        finally:
            c.delete()
            probe.assert_no_leftovers(rt, c.cid)
    ours, theirs = _key_paths(outputs["test"]), _key_paths(outputs["runc"])
    differ = {p for p in ours ^ theirs
              if p.rsplit("/", 1)[-1] not in _OMITEMPTY and "/raw/" not in p and "/blkio/" not in p}
    assert not differ, f"only ours: {sorted(ours - theirs)}; only runc's: {sorted(theirs - ours)}"
    assert set(outputs["test"]["data"]["memory"]["raw"]) == set(outputs["runc"]["data"]["memory"]["raw"])


def test_verbs_on_a_stopped_container(detached):
    c = detached(["true"])
    probe.wait_status(c.runtime, c.cid, "stopped")
    assert c.run("ps", "--format", "json", c.cid, check=True).stdout.strip() == "null"
    assert c.run("ps", c.cid, check=True).stdout.splitlines()[0].split()[:2] == ["UID", "PID"]
    probe.stderr_says(c.run("pause", c.cid), "container not running")
    probe.stderr_says(c.run("update", "--memory", "64M", c.cid), "container not running")


def test_verbs_on_a_missing_container(runtime):
    for args in (("ps", "nosuch"), ("pause", "nosuch"), ("resume", "nosuch"), ("events", "--stats", "nosuch"),
                 ("update", "--memory", "64M", "nosuch")):
        probe.stderr_says(runtime.run(*args), "container does not exist")
