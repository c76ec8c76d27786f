"""Conformance: the cgroup at the edges of a container's life: a target cgroup
that is already frozen, `delete` (with and without --force) and `kill --all` of
a container whose cgroup still holds processes or sub-cgroups after its init
is gone, a realtime cpu budget
under the default parent, and a systemd-form cgroupsPath without
--systemd-cgroup (containerd's CRI). Runs against runc too (PYRUNC_TEST_RUNTIME=runc)."""
from __future__ import annotations

import os
import subprocess
import tempfile
import time

import pytest

from tests import support
from tests.conformance import probe

pytestmark = [pytest.mark.requires("root")]
CG = "/sys/fs/cgroup"


def _create_in_frozen(runtime, bundle, cid, freeze_dir, freeze_file, frozen_value, thawed_value):
    """`run -d` into a cgroup frozen beforehand: it must fail at once."""
    os.makedirs(freeze_dir)
    with open(os.path.join(freeze_dir, freeze_file), "w") as f:
        f.write(frozen_value)
    cfg = probe.prepare(bundle, cid, ["true"])
    bundle.write()
    out = bundle.path / "out"
    try:
        with open(out, "w") as f:
            proc = runtime.run("run", "-d", "-b", bundle.path, cid, capture_output=False, stdout=f,
                               stderr=subprocess.STDOUT, timeout=20)
        err = out.read_text()
        support.assert_no_traceback(err)
        assert proc.returncode != 0, err
        assert "frozen" in err
        if not support.is_runc():
            assert probe.error_lines(err) == [
                f"cgroup freezer: {freeze_dir}: container's cgroup unexpectedly frozen"]
    finally:
        with open(os.path.join(freeze_dir, freeze_file), "w") as f:
            f.write(thawed_value)
    os.rmdir(freeze_dir)
    probe.assert_no_leftovers(runtime, cid, bundle.path)
    assert cfg["linux"]["cgroupsPath"] == support.cgroup_path_for(cid)


@pytest.mark.requires("cgroup_v1")
def test_run_into_a_frozen_v1_cgroup_fails_at_once(runtime, bundle):
    cid = support.unique_id("frz")
    _create_in_frozen(runtime, bundle, cid, f"{CG}/freezer/{support.TEST_CGROUP_PARENT}/{cid}",
                      "freezer.state", "FROZEN", "THAWED")


@pytest.mark.requires("cgroup_v2", "cgroupfs_driver")
def test_run_into_a_frozen_v2_cgroup_fails_at_once(runtime, bundle):
    cid = support.unique_id("frz")
    _create_in_frozen(runtime, bundle, cid, f"{CG}/{support.TEST_CGROUP_PARENT}/{cid}",
                      "cgroup.freeze", "1", "0")


def _detached_without_pidns(runtime, bundle, cid, script):
    """`run -d` a container in the host's pid namespace; its init runs `script`."""
    probe.prepare(bundle, cid, ["sh", "-c", script])
    probe.drop_namespace(bundle.config, "pid")
    bundle.write()
    out = bundle.path / "out"
    with open(out, "w") as f:  # a file, not a pipe: the background child keeps it open
        proc = runtime.run("run", "-d", "-b", bundle.path, cid, capture_output=False, stdout=f,
                           stderr=subprocess.STDOUT)
    assert proc.returncode == 0, out.read_text()


def _left_running(cid):
    # a killed process is gone once reaped; a zombie holds nothing
    return [p for p in support.live_pids_with_env(probe.marker(cid))
            if not open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"]


@pytest.mark.xfail(support.runc_rmdirs_a_v2_cgroup_once(), strict=True, reason=support.RUNC_V2_RMDIR_GAP)
def test_delete_force_kills_what_the_init_left_behind(runtime, bundle):
    cid = support.unique_id("bg")
    _detached_without_pidns(runtime, bundle, cid, "sleep 313 & exec true")
    probe.wait_status(runtime, cid, "stopped")
    assert len(_left_running(cid)) == 1                      # the sleep outlives its parent
    t0 = time.monotonic()
    proc = runtime.run("delete", "--force", cid)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 < 5
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.xfail(support.runc_rmdirs_a_v2_cgroup_once(), strict=True, reason=support.RUNC_V2_RMDIR_GAP)
def test_delete_of_a_stopped_container_kills_what_the_init_left_behind(runtime, bundle):
    """Plain delete (no --force): the cgroup is not empty, so its one-rmdir
    quick path must fall back to killing what is there."""
    cid = support.unique_id("bg")
    _detached_without_pidns(runtime, bundle, cid, "sleep 313 & exec true")
    probe.wait_status(runtime, cid, "stopped")
    assert len(_left_running(cid)) == 1
    proc = runtime.run("delete", cid)
    assert proc.returncode == 0, proc.stderr
    probe.wait_for(lambda: not _left_running(cid), what="the left-behind sleep to be killed")
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.requires("cgroupfs_driver")
def test_delete_of_a_stopped_container_removes_its_sub_cgroups(runtime, bundle):
    """A sub-cgroup (made here from the host, as a container with a writable
    cgroupfs could) makes the leaf's rmdir fail: delete still removes all.
    Not under the systemd driver: systemd removes a scope once it is empty."""
    cid = support.unique_id("sub")
    probe.prepare(bundle, cid, ["true"])
    bundle.write()
    probe.call(runtime, "run", "-d", "-b", bundle.path, cid, check=True)
    probe.wait_status(runtime, cid, "stopped")
    subs = [os.path.join(d, "sub") for d in support.cgroup_dirs_named(cid)]
    assert subs
    for sub in subs:
        os.mkdir(sub)
    try:
        proc = runtime.run("delete", cid)
        assert proc.returncode == 0, proc.stderr
        assert not [s for s in subs if os.path.isdir(s)]
        probe.assert_no_leftovers(runtime, cid, bundle.path)
    finally:
        for sub in subs:
            if os.path.isdir(sub):
                os.rmdir(sub)
        runtime.run("delete", "--force", cid)


@pytest.mark.requires("cgroup_v1")
@pytest.mark.xfail(support.is_runc(), strict=True,
                   reason="runc 1.1.5 thaws only the container's own cgroup: the process stays frozen, rmdir fails")
def test_delete_force_thaws_a_sub_cgroup_that_froze_itself(runtime, bundle):
    cid = support.unique_id("bg")
    _detached_without_pidns(runtime, bundle, cid, "sleep 313 & exec true")
    probe.wait_status(runtime, cid, "stopped")
    sleeper, = _left_running(cid)
    sub = f"{CG}/freezer/{support.TEST_CGROUP_PARENT}/{cid}/sub"
    os.mkdir(sub)
    try:
        with open(f"{sub}/cgroup.procs", "w") as f:
            f.write(str(sleeper))
        with open(f"{sub}/freezer.state", "w") as f:
            f.write("FROZEN")
        t0 = time.monotonic()
        proc = runtime.run("delete", "--force", cid)
        took = time.monotonic() - t0
        assert proc.returncode == 0, proc.stderr
        assert took < 8
        probe.assert_no_leftovers(runtime, cid, bundle.path)
    finally:
        if os.path.isdir(sub):  # the runtime failed: undo what this test did
            with open(f"{sub}/freezer.state", "w") as f:
                f.write("THAWED")
            for pid in _left_running(cid):
                os.kill(pid, 9)
            probe.wait_for(lambda: not _left_running(cid), what="the sleeper to die")
            os.rmdir(sub)
            runtime.run("delete", "--force", cid)


def test_kill_all_reaches_what_a_stopped_init_left_behind(runtime, bundle):
    cid = support.unique_id("ka")
    _detached_without_pidns(runtime, bundle, cid, "sleep 313 & sleep 1")
    probe.wait_status(runtime, cid, "stopped")
    assert len(_left_running(cid)) == 1
    proc = runtime.run("kill", "--all", cid, "9")
    assert proc.returncode == 0, proc.stderr
    probe.wait_for(lambda: not _left_running(cid), what="the left-behind sleep to be killed")
    probe.stderr_says(runtime.run("kill", cid, "9"), "container not running")   # without --all: as before
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def _rt_group_sched() -> bool:
    return os.path.exists(f"{CG}/cpu/cpu.rt_runtime_us")


@pytest.mark.requires("cgroup_v1")
@pytest.mark.xfail(support.is_runc(), strict=True,
                   reason="runc 1.1.5 makes the parent with no realtime budget: the leaf's write fails with EINVAL")
def test_realtime_runtime_under_a_parent_the_runtime_makes(runtime, bundle):
    """realtimeRuntime in a cgroup whose parent the create makes (as the
    default parent is): the parent gets the budget, the container its share."""
    if not _rt_group_sched():
        pytest.skip("this kernel has no CONFIG_RT_GROUP_SCHED (no cpu.rt_runtime_us)")
    cid = support.unique_id("rt")
    top = f"{CG}/cpu/{support.TEST_CGROUP_PARENT}"
    os.makedirs(top, exist_ok=True)
    with open(f"{top}/cpu.rt_runtime_us") as f:
        before = f.read().strip()
    # the shared test parent is not the runtime's to raise: give it room here
    with open(f"{top}/cpu.rt_runtime_us", "w") as f:
        f.write(str(max(int(before), 0) + 20000))
    cfg = probe.prepare(bundle, cid, ["cat", "/sys/fs/cgroup/cpu/cpu.rt_runtime_us", "/sys/fs/cgroup/cpu/cpu.rt_period_us"])
    cfg["linux"]["cgroupsPath"] = f"/{support.TEST_CGROUP_PARENT}/{cid}/ct"
    cfg["linux"]["resources"]["cpu"] = {"realtimeRuntime": 10000, "realtimePeriod": 500000}
    bundle.write()
    try:
        proc = runtime.run("run", "-b", bundle.path, cid)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["10000", "500000"]
        runtime.run("delete", cid)
        probe.assert_no_leftovers(runtime, cid, bundle.path)
    finally:
        for d in sorted(support.cgroup_dirs_named(cid), key=len, reverse=True):   # runc leaves the parent it made
            for sub in (f"{d}/ct", d):
                if os.path.isdir(sub):
                    os.rmdir(sub)
        try:
            with open(f"{top}/cpu.rt_runtime_us", "w") as f:
                f.write(before)
        except OSError:
            pass  # removed meanwhile by another session's clean-up, or still in use


@pytest.mark.requires("cgroupfs_driver")
def test_kill_all_of_a_stopped_guest_spares_the_shared_cgroups_owner(runtime, tmp_path):
    """A stopped container that joined a cgroup another container made holds
    nothing there any more: kill --all must not reach the owner's processes."""
    if support.is_runc():
        pytest.skip("runc 1.1.5 signals every process of the cgroup, whoever made it")
    owner, guest = support.unique_id("own"), support.unique_id("guest")
    a, b = support.Bundle(tmp_path / "a"), support.Bundle(tmp_path / "b")
    _detached_without_pidns(runtime, a, owner, "exec sleep 313")
    try:
        probe.prepare(b, guest, ["true"])
        b.config["linux"]["cgroupsPath"] = support.cgroup_path_for(owner)
        b.write()
        probe.call(runtime, "run", "-d", "-b", b.path, guest, check=True)
        probe.wait_status(runtime, guest, "stopped")
        assert runtime.run("kill", "--all", guest, "9").returncode == 0
        time.sleep(0.2)
        assert runtime.state(owner)["status"] == "running"
        runtime.run("delete", guest, check=True)
    finally:
        runtime.run("delete", "--force", guest)
        runtime.run("delete", "--force", owner)
    probe.assert_no_leftovers(runtime, owner, a.path)


def _cgroup_hierarchies() -> list[str]:
    """The host's cgroup mounts under /sys/fs/cgroup (every v1 hierarchy, the
    hybrid cgroup2, or the one v2 tree)."""
    return sorted({m.point for m in probe.parse_mountinfo(support.host_mounts())
                   if m.fstype in ("cgroup", "cgroup2") and m.point.startswith(CG)})


def _make_cgroup(hierarchy: str, rel: str) -> None:
    """mkdir -p below a hierarchy; a new cpuset takes its parent's cpus and mems
    (an empty one could not take a process)."""
    d = hierarchy
    for part in rel.strip("/").split("/"):
        parent, d = d, os.path.join(d, part)
        if os.path.isdir(d):
            continue
        os.mkdir(d)
        for knob in ("cpuset.cpus", "cpuset.mems"):
            if os.path.exists(os.path.join(d, knob)) and not open(os.path.join(d, knob)).read().strip():
                with open(os.path.join(parent, knob)) as src, open(os.path.join(d, knob), "w") as dst:
                    dst.write(src.read())


def _run_from_cgroup(runtime, rel, *args):
    """The runtime started in the cgroup `rel` of every hierarchy, as a shim
    living in its own cgroup starts it (a relative cgroupsPath is below it)."""
    hierarchies = _cgroup_hierarchies()

    def join():
        for h in hierarchies:
            with open(os.path.join(h, rel.strip("/"), "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))

    with tempfile.TemporaryFile() as err:  # a file: the container keeps what it inherits
        proc = subprocess.run(runtime.argv(*args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=err, timeout=60, preexec_fn=join, env=probe.runtime_env(args))
        err.seek(0)
        proc.stderr = err.read().decode(errors="replace")
    support.assert_no_traceback(proc.stderr)
    return proc


@pytest.mark.requires("cgroupfs_driver")
def test_systemd_form_cgroups_path_is_relative_without_systemd_cgroup(runtime, bundle):
    """containerd's CRI writes cgroupsPath as slice:prefix:name whenever the
    pod's parent is a slice, whatever its SystemdCgroup; without
    --systemd-cgroup, runc takes it as a relative path below its own cgroup."""
    cid = support.unique_id("sdf")
    inner = f"test.slice:cri-containerd:{cid}"
    base = f"/{support.TEST_CGROUP_PARENT}/{cid}"
    own = f"{base}/rt"  # the caller's cgroup, as a shim's
    hierarchies = _cgroup_hierarchies()
    v2 = hierarchies == [CG]
    # v1: below the caller's own cgroup; v2: below its parent (runc's fs2)
    want = f"{base}/{inner}" if v2 else f"{own}/{inner}"
    for h in hierarchies:
        _make_cgroup(h, own)
    try:
        probe.prepare(bundle, cid, ["sleep", "313"])
        bundle.config["linux"]["cgroupsPath"] = inner
        bundle.write()
        proc = _run_from_cgroup(runtime, own, "run", "-d", "-b", bundle.path, cid)
        assert proc.returncode == 0, proc.stderr
        inside = runtime.run("exec", cid, "cat", "/proc/1/cgroup", "/proc/self/cgroup", check=True).stdout
        lines = [line.split(":", 2) for line in inside.splitlines()]
        # every controller the container is confined by (v1) or its one v2 cgroup
        checked = [path for _, ctrls, path in lines
                   if (ctrls == "" if v2 else ctrls and not ctrls.startswith("name="))]
        assert checked and all(path == want for path in checked), inside
        made = [os.path.join(h, want.lstrip("/")) for h in hierarchies]
        assert any(os.path.isdir(d) for d in made)
        runtime.run("kill", cid, "9", check=True)
        probe.wait_status(runtime, cid, "stopped")
        runtime.run("delete", cid, check=True)
        assert not [d for d in made if os.path.exists(d)], "delete left the container's cgroup"
    finally:
        runtime.run("delete", "--force", cid)
        for h in hierarchies:
            for rel in (own, base):
                try:
                    os.rmdir(os.path.join(h, rel.lstrip("/")))
                except FileNotFoundError:
                    pass
    probe.assert_no_leftovers(runtime, cid, bundle.path)
