"""The v1 (hybrid) and v2 drivers on a fake cgroupfs: create, add, set,
rollback, destroy/prune, freezer, signals and stats shape."""
from __future__ import annotations

import json
import os
import posix
import signal

import pytest

from pyrunc.cgroups import load_manager, new_manager
from pyrunc.cgroups.v2 import V2Manager
from pyrunc.errors import CgroupError
from tests.unit.test_cgroups_fakefs import FakeCgroupFS, fake_rmdir  # noqa: F401

RES = {"memory": {"limit": 67108864, "swappiness": 0}, "pids": {"limit": 10},
       "cpu": {"shares": 512, "cpus": "0"}, "devices": [{"allow": False, "access": "rwm"}]}


@pytest.fixture
def v1fs(tmp_path, monkeypatch):
    return FakeCgroupFS(tmp_path, "hybrid").install(monkeypatch)


@pytest.fixture
def v2fs(tmp_path, monkeypatch):
    fs = FakeCgroupFS(tmp_path, "v2").install(monkeypatch)
    installed = []
    monkeypatch.setattr(V2Manager, "device_installer", staticmethod(lambda d, prog: installed.append((d, prog))))
    fs.installed = installed
    return fs


def roundtrip(mgr):
    return load_manager(json.loads(json.dumps(mgr.record())))


# ------------------------------------------------------------------ v1


def test_v1_create_applies_resources_in_every_hierarchy(v1fs):
    mgr = new_manager("c1", "/pyrunc-test/c1", RES, root=v1fs.root)
    mgr.create()
    for ctrl in ("cpu", "memory", "devices", "freezer", "pids", "systemd", "unified", "cpuset"):
        assert os.path.isdir(f"{v1fs.root}/{ctrl}/pyrunc-test/c1"), ctrl
    assert v1fs.read("memory/pyrunc-test/c1", "memory.limit_in_bytes") == "67108864"
    assert v1fs.read("memory/pyrunc-test/c1", "memory.swappiness") == "0"
    assert v1fs.read("pids/pyrunc-test/c1", "pids.max") == "10"
    assert v1fs.read("cpu/pyrunc-test/c1", "cpu.shares") == "512"
    assert v1fs.read("cpuset/pyrunc-test/c1", "cpuset.cpus") == "0"
    # the new cpuset parent got the root's cpus/mems copied down first
    assert v1fs.read("cpuset/pyrunc-test", "cpuset.cpus") == "0-1"
    assert v1fs.read("cpuset/pyrunc-test", "cpuset.mems") == "0"
    dev = v1fs.writes_to("devices/pyrunc-test/c1")
    assert dev[0] == ("devices.deny", "a") and ("devices.allow", "c 1:3 rwm") in dev
    # the unified and name=systemd hierarchies get no resources
    assert v1fs.writes_to("unified/pyrunc-test/c1") == [] and v1fs.writes_to("systemd/pyrunc-test/c1") == []


def test_v1_add_writes_pid_everywhere(v1fs):
    mgr = new_manager("c1", "/pyrunc-test/c1", None, root=v1fs.root)
    mgr.create()
    mgr.add(4242)
    for ctrl in ("memory", "devices", "systemd", "unified"):
        assert v1fs.read(f"{ctrl}/pyrunc-test/c1", "cgroup.procs") == "4242"


def test_v1_self_placement_names_the_cgroup2_dir_and_each_v1_tasks_file_once(v1fs, monkeypatch):
    from pyrunc.kernel import clone_into
    monkeypatch.setattr(clone_into, "free", lambda: True)
    mgr = new_manager("c1", "/pyrunc-test/c1", None, root=v1fs.root)
    placement = mgr.self_placement()
    into, tasks = placement.into, placement.tasks
    assert into == f"{v1fs.root}/unified/pyrunc-test/c1"
    files = [path for _, path, _ in tasks]
    assert len(files) == len(set(files)) == len(set(mgr.dirs())) - 1  # co-mounted cpu,cpuacct: one file
    assert all(p.endswith("/pyrunc-test/c1/tasks") for p in files)
    # runc ignores the named hierarchy's failures; every controller's is an error
    assert {ctrl for ctrl, _, required in tasks if not required} == {"name=systemd"}
    mgr.create()
    mgr.add(4242, only=("",))  # what spawn writes when the kernel refuses the fork into the cgroup2 dir
    assert v1fs.read("unified/pyrunc-test/c1", "cgroup.procs") == "4242"
    assert ("cgroup.procs", "4242") not in v1fs.writes_to("memory/pyrunc-test/c1")


def test_self_placement_is_none_where_the_parent_must_place(v1fs, monkeypatch):
    from pyrunc.kernel import clone_into
    monkeypatch.setattr(clone_into, "free", lambda: True)
    rootless = new_manager("c1", "/pyrunc-test/c1", None, root=v1fs.root)
    rootless.mark_rootless()
    assert rootless.self_placement() is None
    monkeypatch.setattr(clone_into, "free", lambda: False)  # not root, or a kernel before 6.0
    assert new_manager("c2", "/pyrunc-test/c2", None, root=v1fs.root).self_placement() is None


def test_v1_failed_write_names_file_and_value_and_leaves_nothing(v1fs, fake_rmdir):
    os.unlink(f"{v1fs.root}/memory/memory.oom_control")  # the template the child copies... is per-dir:
    mgr = new_manager("c1", "/pyrunc-test/c1", {"memory": {"limit": 100}, "network": {"classID": 1}},
                      root=v1fs.root)
    with pytest.raises(CgroupError) as ei:
        mgr.create()
    assert str(ei.value) == ("cgroup net_cls: controller not available on this host: "
                             "cannot write net_cls.classid=1")
    assert not os.path.exists(f"{v1fs.root}/memory/pyrunc-test")
    assert not os.path.exists(f"{v1fs.root}/unified/pyrunc-test")


@pytest.mark.parametrize("bio,file", [({"weight": 300}, "blkio.bfq.weight=300"),
                                      ({"weightDevice": [{"major": 8, "minor": 0, "weight": 50}]},
                                       "blkio.bfq.weight_device=8:0 50")])
def test_v1_blkio_weight_without_cfq_or_bfq_fails_saying_why(v1fs, fake_rmdir, monkeypatch, bio, file):
    """A kernel without CFQ and BFQ has no weight file at all: runc 1.1 fails
    the create writing blkio.bfq.weight, and so do we, naming the reason."""
    monkeypatch.setitem(v1fs_files(), "blkio", {k: v for k, v in v1fs_files()["blkio"].items() if "weight" not in k})
    mgr = new_manager("c1", "/pyrunc-test/c1", {"blockIO": bio}, root=v1fs.root)
    with pytest.raises(CgroupError) as ei:
        mgr.create()
    assert str(ei.value) == (f"cgroup blkio: write {file}: no such file or directory (this host has no "
                             "proportional-weight I/O scheduler: neither CFQ's blkio.weight nor BFQ's blkio.bfq.weight)")
    assert not mgr.exists()


def test_v1_frozen_target_is_refused_and_nothing_made_is_left(v1fs, fake_rmdir):
    frozen = f"{v1fs.root}/freezer/t/c1"
    os.makedirs(frozen)
    with open(f"{frozen}/freezer.state", "w") as f:
        f.write("FROZEN\n")
    m = new_manager("c1", "/t/c1", {"pids": {"limit": 5}}, root=v1fs.root)
    with pytest.raises(CgroupError) as ei:
        m.create()
    assert str(ei.value) == f"cgroup freezer: {frozen}: container's cgroup unexpectedly frozen"
    assert not os.path.exists(f"{v1fs.root}/memory/t/c1") and os.path.isdir(frozen)   # not ours to remove
    assert ("pids/t/c1", "pids.max", "5") not in v1fs.writes                       # refused before any write


@pytest.mark.parametrize("freeze,events", [("1", "populated 0\nfrozen 1\n"), ("0", "populated 0\nfrozen 1\n")])
def test_v2_frozen_target_or_frozen_parent_is_refused(v2fs, fake_rmdir, freeze, events):
    d = f"{v2fs.root}/t/c1"
    os.makedirs(d)
    for name, value in (("cgroup.freeze", freeze), ("cgroup.events", events)):
        with open(f"{d}/{name}", "w") as f:
            f.write(value)
    m = new_manager("c1", "/t/c1", None, root=v2fs.root)
    with pytest.raises(CgroupError, match=f"^cgroup freezer: {d}: container's cgroup unexpectedly frozen"):
        m.create()


def test_v1_thaw_tree_and_all_pids_reach_sub_cgroups(v1fs):
    m = new_manager("c1", "/t/c1", None, root=v1fs.root)
    m.create()
    sub = f"{v1fs.root}/freezer/t/c1/a/b"
    os.makedirs(sub)
    for d, state in ((f"{v1fs.root}/freezer/t/c1/a", "FROZEN"), (sub, "FROZEN")):
        with open(f"{d}/freezer.state", "w") as f:
            f.write(state)
    with open(f"{sub}/cgroup.procs", "w") as f:
        f.write("77\n")                          # moved out of the pids hierarchy's leaf
    with open(f"{v1fs.root}/pids/t/c1/cgroup.procs", "w") as f:
        f.write("42\n")
    live = load_manager(m.record())
    live.thaw_tree()
    assert v1fs.read("freezer/t/c1/a", "freezer.state") == v1fs.read("freezer/t/c1/a/b", "freezer.state") == "THAWED"
    assert live.pids() == [42] and live.all_pids() == [42, 77]


def test_v1_realtime_runtime_gets_a_budget_in_parents_pyrunc_made(v1fs, fake_rmdir):
    """The default parent starts with no realtime budget: it is raised (before
    the leaf's write) to cover its children, and lowered again on destroy."""
    cpu = f"{v1fs.root}/cpu"
    with open(f"{cpu}/cpu.rt_runtime_us", "w") as f:
        f.write("950000")
    a = new_manager("a", None, {"cpu": {"realtimeRuntime": 30000, "realtimePeriod": 500000}}, root=v1fs.root)
    a.create()
    assert v1fs.writes_to("cpu/pyrunc") == [("cpu.rt_runtime_us", "60000")]    # 30000 per 500000 = 60000 per 1 s
    writes = [(d, n) for d, n, _ in v1fs.writes if n.startswith("cpu.rt")]
    assert writes.index(("cpu/pyrunc", "cpu.rt_runtime_us")) < writes.index(("cpu/pyrunc/a", "cpu.rt_runtime_us"))
    b = new_manager("b", None, {"cpu": {"realtimeRuntime": 10000}}, root=v1fs.root)
    b.create()
    assert v1fs.read("cpu/pyrunc", "cpu.rt_runtime_us") == "70000"
    load_manager(a.record()).destroy()
    assert v1fs.read("cpu/pyrunc", "cpu.rt_runtime_us") == "10000"              # b's share stays
    load_manager(b.record()).destroy()
    assert not os.path.exists(f"{cpu}/pyrunc")


def test_v1_realtime_runtime_never_raises_a_parent_pyrunc_did_not_make(v1fs, fake_rmdir):
    os.makedirs(f"{v1fs.root}/cpu/theirs")
    _fill_like_kernel(f"{v1fs.root}/cpu/theirs", v1fs)
    m = new_manager("c1", "/theirs/c1", {"cpu": {"realtimeRuntime": 10000}}, root=v1fs.root)
    m.create()
    assert v1fs.writes_to("cpu/theirs") == []


def test_v1_realtime_einval_names_the_parent_without_room(v1fs, fake_rmdir, monkeypatch):
    """The kernel refuses the budget (EINVAL) when a parent pyrunc may not
    raise has no room: the line says which parent and what it has."""
    os.makedirs(f"{v1fs.root}/cpu/theirs")
    _fill_like_kernel(f"{v1fs.root}/cpu/theirs", v1fs)
    _writes_fail_with_einval(monkeypatch, "cpu.rt_runtime_us")
    m = new_manager("c1", "/theirs/mine/c1", {"cpu": {"realtimeRuntime": 10000}}, root=v1fs.root)
    with pytest.raises(CgroupError) as ei:
        m.create()
    assert str(ei.value) == ("cgroup cpu: write cpu.rt_runtime_us=10000: invalid argument (the parent cgroup "
                             f"{v1fs.root}/cpu/theirs has a realtime budget of 0 us per 1000000 us; "
                             "pyrunc raises only the parents it made)")
    assert not os.path.exists(f"{v1fs.root}/cpu/theirs/mine")


def _writes_fail_with_einval(monkeypatch, filename):
    """The kernel answers EINVAL to every write of `filename`."""
    real_open = os.open

    def failing_open(path, flags, *a):
        if str(path).endswith(filename) and flags & os.O_WRONLY:
            raise OSError(22, "Invalid argument", path)
        return real_open(path, flags, *a)
    monkeypatch.setattr("pyrunc.cgroups.fsio.posix.open", failing_open)


def _fill_like_kernel(d, fs):
    for name, content in fs.template_for(d).items():
        with open(os.path.join(d, name), "w") as f:
            f.write(content)


def v1fs_files():
    from tests.unit import test_cgroups_fakefs
    return test_cgroups_fakefs.V1_FILES


def test_v1_kernel_error_message_shape(v1fs, fake_rmdir, monkeypatch):
    mgr = new_manager("c1", "/pyrunc-test/c1", {"memory": {"limit": 100}}, root=v1fs.root)
    _writes_fail_with_einval(monkeypatch, "memory.limit_in_bytes")
    with pytest.raises(CgroupError, match=r"^cgroup memory: write memory.limit_in_bytes=100: invalid argument$"):
        mgr.create()
    assert not mgr.exists()


def test_v1_update_sets_only_given_fields_and_skips_devices(v1fs):
    mgr = new_manager("c1", "/pyrunc-test/c1", RES, root=v1fs.root)
    mgr.create()
    v1fs.writes.clear()
    roundtrip(mgr).set({"memory": {"limit": 134217728}, "cpu": {"quota": 20000, "period": 100000}})
    assert v1fs.writes_to("memory/pyrunc-test/c1") == [("memory.limit_in_bytes", "134217728")]
    assert v1fs.writes_to("cpu/pyrunc-test/c1") == [("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "20000")]
    assert v1fs.writes_to("devices/pyrunc-test/c1") == []


def test_v1_destroy_prunes_default_parent_but_not_a_foreign_one(v1fs, fake_rmdir):
    a = new_manager("a", None, None, root=v1fs.root)          # /pyrunc/a
    b = new_manager("b", None, None, root=v1fs.root)
    a.create(), b.create()
    os.makedirs(f"{v1fs.root}/memory/kubepods")                 # somebody else's empty parent
    c = new_manager("c", "/kubepods/c", None, root=v1fs.root)
    rec_c = c.record()                                          # saved before create
    c.create()
    roundtrip(a).destroy()
    assert os.path.isdir(f"{v1fs.root}/memory/pyrunc/b")        # b's parent stays while b lives
    roundtrip(b).destroy()
    assert not os.path.exists(f"{v1fs.root}/memory/pyrunc")     # last one out removes our parent
    load_manager(rec_c).destroy()
    assert os.path.isdir(f"{v1fs.root}/memory/kubepods")        # never removed: not ours
    roundtrip(b).destroy()                                      # idempotent


def test_v1_record_after_create_remembers_parents_it_made(v1fs, fake_rmdir):
    m = new_manager("x", "/deep/er/x", None, root=v1fs.root)
    m.create()
    rec = m.record()
    assert f"{v1fs.root}/memory/deep" in rec["prune"] and f"{v1fs.root}/memory/deep/er" in rec["prune"]
    load_manager(rec).destroy()
    assert not os.path.exists(f"{v1fs.root}/memory/deep")


def test_v1_freezer(v1fs):
    m = new_manager("c1", "/t/c1", None, root=v1fs.root)
    m.create()
    assert not m.frozen()
    m.freeze()
    assert m.frozen() and v1fs.read("freezer/t/c1", "freezer.state") == "FROZEN"
    m.thaw()
    assert not m.frozen()


def test_v1_pids_signal_all_and_oom_count(v1fs, monkeypatch):
    m = new_manager("c1", "/t/c1", None, root=v1fs.root)
    m.create()
    with open(f"{v1fs.root}/pids/t/c1/cgroup.procs", "w") as f:
        f.write("11\n12\n")
    os.makedirs(f"{v1fs.root}/pids/t/c1/sub")
    with open(f"{v1fs.root}/pids/t/c1/sub/cgroup.procs", "w") as f:
        f.write("13\n")
    assert m.pids() == [11, 12, 13]
    killed = []
    monkeypatch.setattr(posix, "kill", lambda pid, sig: killed.append((pid, sig)))
    m.signal_all(signal.SIGTERM)
    assert killed == [(11, signal.SIGTERM), (12, signal.SIGTERM), (13, signal.SIGTERM)]
    assert not m.frozen()                    # frozen while signalling, thawed after
    assert ("freezer.state", "FROZEN") in v1fs.writes_to("freezer/t/c1")
    assert m.oom_kill_count() == 3


def test_v1_stats_shape(v1fs):
    m = new_manager("c1", "/t/c1", None, root=v1fs.root)
    m.create()
    s = m.stats()
    assert set(s) == {"cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"}
    assert s["cpu"]["usage"]["total"] == 5000 and s["cpu"]["usage"]["percpu"] == [3000, 2000]
    assert s["cpu"]["usage"]["percpu_user"] == [2000, 1500]
    assert s["cpu"]["throttling"] == {"periods": 7, "throttledPeriods": 2, "throttledTime": 1234}
    assert s["memory"]["usage"] == {"limit": 9223372036854771712, "usage": 4096, "max": 8192, "failcnt": 1}
    assert s["memory"]["cache"] == 100 and s["memory"]["raw"] == {"cache": 100, "rss": 200}
    assert s["pids"] == {"current": 2}
    assert s["blkio"]["ioServiceBytesRecursive"] == [{"major": 8, "op": "Read", "value": 512},
                                                     {"major": 8, "op": "Write", "value": 1024}]
    json.dumps(s)


def test_v1_unified_resource_rejected(v1fs):
    with pytest.raises(CgroupError, match="unified"):
        new_manager("c1", "/t/c1", {"unified": {"memory.high": "1"}}, root=v1fs.root).create()
    assert not os.path.exists(f"{v1fs.root}/memory/t")


# ------------------------------------------------------------------ v2


def test_v2_create_delegates_controllers_top_down(v2fs):
    m = new_manager("c1", "/pyrunc-test/c1", RES, root=v2fs.root)
    m.create()
    enable = "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc"
    assert v2fs.writes_to(".") [0] == ("cgroup.subtree_control", enable)
    assert v2fs.writes_to("pyrunc-test")[0] == ("cgroup.subtree_control", enable)
    assert v2fs.writes_to("pyrunc-test/c1") == [
        ("cpuset.cpus", "0"), ("memory.max", "67108864"), ("cpu.weight", "20"), ("pids.max", "10")]
    # the device filter: default deny + runc's defaults, attached to our dir
    (d, prog), = v2fs.installed
    assert d == f"{v2fs.root}/pyrunc-test/c1" and len(prog) > 100


def test_v2_failure_rolls_back(v2fs, fake_rmdir):
    os.unlink(f"{v2fs.root}/hugetlb.2MB.max")  # irrelevant to the child; kill its template instead:
    m = new_manager("c1", "/a/b/c1", {"unified": {"nosuch.file": "1"}}, root=v2fs.root)
    with pytest.raises(CgroupError, match=r"^cgroup nosuch: write nosuch.file=1: no such file or directory$"):
        m.create()
    assert not os.path.exists(f"{v2fs.root}/a")


def test_v2_freeze_waits_for_events(v2fs):
    m = new_manager("c1", "/t/c1", None, root=v2fs.root)
    m.create()
    with open(f"{v2fs.root}/t/c1/cgroup.events", "w") as f:
        f.write("populated 1\nfrozen 1\n")
    m.freeze()
    assert m.frozen()


def test_v2_sigkill_uses_cgroup_kill(v2fs, monkeypatch):
    m = new_manager("c1", "/t/c1", None, root=v2fs.root)
    m.create()
    monkeypatch.setattr(posix, "kill", lambda *a: pytest.fail("must not signal one by one"))
    m.signal_all(signal.SIGKILL)
    assert v2fs.writes_to("t/c1")[-1] == ("cgroup.kill", "1")


def test_v2_stats_and_oom(v2fs):
    m = new_manager("c1", "/t/c1", None, root=v2fs.root)
    m.create()
    s = roundtrip(m).stats()
    assert s["cpu"]["usage"] == {"total": 10000, "kernel": 4000, "user": 6000}
    assert s["cpu"]["throttling"] == {"periods": 3, "throttledPeriods": 1, "throttledTime": 7000}
    assert s["memory"]["usage"] == {"limit": 2**64 - 1, "usage": 4096, "failcnt": 4}
    assert s["memory"]["cache"] == 300
    assert s["blkio"]["ioServicedRecursive"] == [{"major": 8, "op": "Read", "value": 1},
                                                 {"major": 8, "op": "Write", "value": 2}]
    assert s["hugetlb"] == {"2MB": {"failcnt": 0}}
    assert m.oom_kill_count() == 1
    assert m.oom_event_file().endswith("/t/c1/memory.events")


def test_v2_update_does_not_touch_devices(v2fs):
    m = new_manager("c1", "/t/c1", RES, root=v2fs.root)
    m.create()
    v2fs.installed.clear()
    roundtrip(m).set({"pids": {"limit": 20}})
    assert v2fs.installed == [] and v2fs.read("t/c1", "pids.max") == "20"


@pytest.mark.parametrize("mode", ["hybrid", "v2"])
def test_bad_device_rule_fails_before_anything_is_made(tmp_path, monkeypatch, mode):
    fs = FakeCgroupFS(tmp_path, mode).install(monkeypatch)
    m = new_manager("c1", "/t/c1", {"devices": [{"allow": True, "type": "c"}]}, root=fs.root)
    with pytest.raises(CgroupError, match=r"devices\[0\].access"):
        m.create()
    assert fs.writes == [] and not m.exists()


def test_oom_watch_counts_new_v2_events(v2fs):
    from pyrunc.cgroups.oom import OOMWatch
    m = new_manager("c1", "/t/c1", None, root=v2fs.root)
    m.create()
    w = OOMWatch(m)
    assert w.efd == -1 and w.wait(0.01) == 0
    with open(f"{v2fs.root}/t/c1/memory.events", "w") as f:
        f.write("low 0\nhigh 0\nmax 9\noom 3\noom_kill 2\n")
    assert w.wait(0.01) == 2          # was oom 1 in the template
    assert w.wait(0.01) == 0
    w.close()


def test_oom_watch_v1_without_event_control_polls_oom_kill(v1fs):
    from pyrunc.cgroups.oom import OOMWatch
    m = new_manager("c1", "/t/c1", None, root=v1fs.root)
    m.create()
    w = OOMWatch(m)                   # the fake has no cgroup.event_control
    assert w.efd == -1
    with open(f"{v1fs.root}/memory/t/c1/memory.oom_control", "w") as f:
        f.write("oom_kill_disable 0\nunder_oom 0\noom_kill 4\n")
    assert w.wait(0.01) == 1


def test_v1_cpuset_fills_an_empty_parent_made_by_someone_else(v1fs):
    os.makedirs(f"{v1fs.root}/cpuset/other")
    for name in ("cpuset.cpus", "cpuset.mems"):
        open(f"{v1fs.root}/cpuset/other/{name}", "w").close()     # empty, as the kernel makes it
    m = new_manager("c1", "/other/c1", None, root=v1fs.root)
    m.create()
    assert v1fs.read("cpuset/other", "cpuset.cpus") == "0-1"
    assert v1fs.read("cpuset/other/c1", "cpuset.mems") == "0"


def test_makedirs_survives_a_parent_pruned_under_it(tmp_path, monkeypatch):
    from pyrunc.cgroups import fsio
    real_mkdir = os.mkdir
    calls = []

    def racy_mkdir(path, mode=0o777):
        calls.append(path)
        if len(calls) == 2:                      # the shared parent vanished meanwhile
            os.rmdir(os.path.dirname(path))
            raise FileNotFoundError(2, "No such file or directory", path)
        return real_mkdir(path, mode)
    monkeypatch.setattr(fsio.posix, "mkdir", racy_mkdir)
    made = fsio.makedirs(str(tmp_path / "p" / "leaf"), "memory")
    assert os.path.isdir(tmp_path / "p" / "leaf") and made[-1].endswith("/p/leaf")


@pytest.mark.parametrize("sig,frozen_after", [(signal.SIGKILL, False), (signal.SIGTERM, True)])
def test_signal_all_on_a_paused_container(v1fs, monkeypatch, sig, frozen_after):
    m = new_manager("c1", "/t/c1", None, root=v1fs.root)
    m.create()
    m.freeze()
    monkeypatch.setattr(posix, "kill", lambda pid, s: None)
    m.signal_all(sig)
    assert m.frozen() is frozen_after   # SIGKILL must thaw: frozen tasks cannot die
