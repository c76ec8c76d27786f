"""Conformance of the public Python API (pyrunc.api): the whole lifecycle, exec,
pause/resume, update and stats, validate's findings and the typed exceptions,
driven by nothing but the API in this process, on the real kernel, checked
from inside the container and on the host; and the CLI and the API agree on
a container's state JSON.

The API is pyrunc's own: under PYRUNC_TEST_RUNTIME=runc these tests skip.
Every test but the CLI-parity ones runs with subprocess disabled
(`api_only`), which proves the API does its work in-process and never
through a `pyrunc` (or any other) command.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from pyrunc import Container, Runtime
from pyrunc import errors
from tests import support
from tests.conformance import probe

pytestmark = [pytest.mark.requires("root"),
              pytest.mark.skipif(support.is_runc(), reason="the Python API is pyrunc's own, runc has none")]


@pytest.fixture
def api_only(monkeypatch):
    """No subprocess while the test runs, but CRIU's own probe (`criu check`,
    which features runs to advertise checkpoint): what the API does, it does here."""
    real = subprocess.Popen.__init__

    def refuse(self, argv, *args, **kw):
        if os.path.basename(str(argv[0])) == "criu" and list(argv[1:]) == ["check"]:
            return real(self, argv, *args, **kw)
        raise AssertionError(f"the API started a subprocess: {argv!r}")
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


@pytest.fixture
def rt(runtime) -> Runtime:
    """The API on the same private root the `runtime` fixture checks for leftovers."""
    seen: list[str] = []
    api = Runtime(root=str(runtime.root), log=seen.append)
    api.warnings = seen  # type: ignore[attr-defined]
    return api


def bundle_for(bundle: support.Bundle, cid: str, args, **process) -> support.Bundle:
    cfg = probe.prepare(bundle, cid, args)
    cfg["root"]["readonly"] = False   # the container says what it saw in files of its rootfs
    cfg["process"].update(process)
    return bundle.write()


# a shell as the container's init: says it ran, stops on TERM with status 7
LOOP = ["sh", "-c", "trap 'exit 7' TERM; echo $$ > /ran; while true; do sleep 0.05; done"]


def test_whole_lifecycle(rt, runtime, bundle, api_only):
    cid = support.unique_id("api")
    bundle_for(bundle, cid, LOOP)
    c = rt.create(cid, bundle=str(bundle.path))
    s = c.state()
    assert (s.id, s.status, s.bundle) == (cid, "created", str(bundle.path))
    assert s.pid > 0 and os.path.exists(f"/proc/{s.pid}")
    assert s.as_dict()["ociVersion"] == s.oci_version
    assert not (bundle.rootfs / "ran").exists()       # created: the process has not run yet
    c.start()
    assert c.state().status == "running"
    # from inside: the init is pid 1 of its own pid namespace
    assert probe.wait_for(lambda: (bundle.rootfs / "ran").exists() and (bundle.rootfs / "ran").read_text()) \
        == "1\n"
    assert s.pid in c.pids()
    assert [x.id for x in rt.list()] == [cid]
    assert rt.container(cid).state() == c.state()
    c.kill("TERM")
    probe.wait_for(lambda: c.state().status == "stopped", what="stopped after TERM")
    assert c.state().pid == 0
    c.delete()
    with pytest.raises(errors.ContainerNotFound):
        c.state()
    assert rt.list() == []
    probe.assert_no_leftovers(runtime, cid, bundle.path)
    assert rt.warnings == []


@pytest.mark.parametrize("sig", ["KILL", "SIGKILL", 9])
def test_kill_takes_runcs_signal_forms(rt, runtime, bundle, api_only, sig):
    cid = support.unique_id("apik")
    bundle_for(bundle, cid, ["sleep", "1000"])
    c = rt.create(cid, bundle=str(bundle.path))
    c.start()
    c.kill(0)   # the liveness probe: nothing delivered
    assert c.state().status == "running"
    c.kill(sig)
    probe.wait_for(lambda: c.state().status == "stopped", what="stopped after KILL")
    c.delete()
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_run_detached_and_in_the_foreground(rt, runtime, bundle, tmp_path, api_only):
    cid = support.unique_id("apir")
    bundle_for(bundle, cid, ["sleep", "1000"])
    c = rt.run(cid, str(bundle.path))
    assert c.state().status == "running"
    c.delete(force=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)

    import prctl
    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    subreaper_before = prctl.get_child_subreaper()  # (an in-process CLI test may have set it)
    cid2 = support.unique_id("apirf")
    b2 = bundle_for(support.Bundle(tmp_path / "b2"), cid2, ["sh", "-c", "echo $$ > /ran; exit 5"])
    assert rt.run(cid2, str(b2.path), detach=False) == 5
    assert (b2.rootfs / "ran").read_text() == "1\n"
    probe.assert_no_leftovers(runtime, cid2, b2.path)   # deleted: no keep
    # what a foreground run changes in the whole process is put back
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    assert prctl.get_child_subreaper() == subreaper_before


def test_exec(rt, runtime, bundle, api_only):
    cid = support.unique_id("apix")
    bundle_for(bundle, cid, ["sleep", "1000"])
    c = rt.create(cid, bundle=str(bundle.path))
    c.start()
    # foreground: the process's exit status
    assert c.exec(["sh", "-c", "exit 3"], detach=False) == 3
    assert c.exec(["sh", "-c", "kill -KILL $$"], detach=False) == 128 + 9
    # detached: the pid of a process in the container's namespaces and cgroup
    pid = c.exec(["sh", "-c", "echo $$ > /exec-pid; exec sleep 1000"], env=["WHO=api"])
    assert pid in c.pids()
    init = c.state().pid
    assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{init}/ns/pid")
    # from inside: its pid there is not 1 (the init is), and the env reached it
    probe.wait_for(lambda: (bundle.rootfs / "exec-pid").exists(), what="the exec'd process")
    assert (bundle.rootfs / "exec-pid").read_text().strip() not in ("", "1")
    assert b"WHO=api" in Path(f"/proc/{pid}/environ").read_bytes()
    # a whole OCI process object, as --process
    code = c.exec({"args": ["sh", "-c", 'echo "$X:$(pwd)" > /from-dict'], "cwd": "/tmp",
                   "env": ["PATH=/bin:/usr/bin", "X=dict"], "user": {"uid": 0, "gid": 0}}, detach=False)
    assert code == 0
    assert (bundle.rootfs / "from-dict").read_text() == "dict:/tmp\n"
    with pytest.raises(errors.UsageError):
        c.exec([])
    with pytest.raises(errors.UsageError):
        c.exec({"args": ["true"], "cwd": "/"}, cwd="/tmp")
    with pytest.raises(errors.ExecError, match="no such file or directory"):
        c.exec(["/no/such/binary"], detach=False)
    c.delete(force=True)
    with pytest.raises(errors.ContainerNotFound):
        c.exec(["true"])
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_pause_and_resume(rt, runtime, bundle, api_only):
    cid = support.unique_id("apip")
    ticks = bundle.rootfs / "ticks"
    bundle_for(bundle, cid, ["sh", "-c", "trap 'exit 7' TERM; while true; do echo >> /ticks; sleep 0.02; done"])
    c = rt.create(cid, bundle=str(bundle.path))
    with pytest.raises(errors.InvalidState, match="container not running"):
        c.pause()
    c.start()
    probe.wait_for(lambda: ticks.exists() and ticks.stat().st_size > 2, what="ticks")
    c.pause()
    assert c.state().status == "paused"
    with pytest.raises(errors.InvalidState, match="paused"):
        c.exec(["true"])
    with pytest.raises(errors.InvalidState, match="already paused"):
        c.pause()
    # frozen: the loop writes nothing while paused (it ticks every 20 ms)
    frozen_at = ticks.stat().st_size
    time.sleep(0.3)
    assert ticks.stat().st_size == frozen_at
    c.resume()
    assert c.state().status == "running"
    probe.wait_for(lambda: ticks.stat().st_size > frozen_at, what="ticks after resume")
    with pytest.raises(errors.InvalidState, match="not paused"):
        c.resume()
    c.kill("TERM")
    probe.wait_for(lambda: c.state().status == "stopped", what="stopped after TERM")
    c.delete()
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def _host_cgroup_file(cid: str, name: str) -> str:
    for d in support.cgroup_dirs_named(cid):
        path = os.path.join(d, name)
        if os.path.exists(path):
            return Path(path).read_text().strip()
    raise AssertionError(f"no {name} in the cgroups of {cid}")


def test_update_and_stats(rt, runtime, bundle, api_only):
    cid = support.unique_id("apiu")
    cfg = probe.prepare(bundle, cid, ["sleep", "1000"])
    cfg["linux"]["resources"] = {"pids": {"limit": 50}}
    bundle.write()
    c = rt.create(cid, bundle=str(bundle.path))
    c.start()
    assert c.stats()["pids"] == {"current": 1, "limit": 50}
    c.update({"pids": {"limit": 37}})
    assert _host_cgroup_file(cid, "pids.max") == "37"     # on the host, where the kernel enforces it
    assert c.stats()["pids"] == {"current": 1, "limit": 37}
    # a setting runc ignores: a warning to the caller's log, nothing raised
    c.update({"memory": {"kernel": 1 << 20}})
    assert rt.warnings[0] == "Kernel memory settings are ignored and will be removed"   # (+ the kernel's own, by host)
    with pytest.raises(errors.UsageError):
        c.update([])   # type: ignore[arg-type]
    events = c.events(0.05)
    first = next(events)
    events.close()
    assert first["type"] == "stats" and first["id"] == cid and first["data"]["pids"]["limit"] == 37
    with pytest.raises(errors.UsageError, match="greater than 0"):
        next(c.events(0))
    c.delete(force=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_validate_reports_findings_without_raising(rt, bundle, api_only):
    cfg = bundle.config
    cfg["process"]["args"] = []
    cfg["linux"]["namespaces"].append({"type": "nosuch"})
    cfg["hostname"] = "x"
    bundle.write()
    report = rt.validate(str(bundle.path))
    assert not report.valid
    paths = {f.path for f in report.errors}
    assert "process.args" in paths
    assert any(p.startswith("linux.namespaces[") for p in paths), paths
    assert all(f.severity == "error" and f.message for f in report.errors)
    assert report.as_dict()["counts"]["error"] == len(report.errors)
    # a good bundle; an unreadable one is one finding, not an exception
    bundle.config = support.base_config()
    bundle.write()
    assert rt.validate(str(bundle.path)).valid
    missing = rt.validate(str(bundle.path / "absent"))
    assert not missing.valid and len(missing) == 1 and "cannot read" in missing.findings[0].message


def test_features(rt, api_only):
    doc = rt.features()
    assert doc["ociVersionMax"] == "1.3.0"
    assert "mount" in doc["linux"]["namespaces"]


# -- typed exceptions, and nothing left behind -------------------------------------------

def test_unknown_id(rt, api_only):
    with pytest.raises(errors.ContainerNotFound):
        rt.container("ghost-ctr")
    c = Container(rt, "ghost-ctr")   # a handle on nothing: each call finds it absent
    for call in (c.state, c.start, c.kill, c.delete, c.pause, c.resume, c.stats, c.pids):
        with pytest.raises(errors.ContainerNotFound):
            call()
    c.delete(force=True)   # runc: --force of a missing container succeeds
    with pytest.raises(errors.UsageError, match="invalid container id"):
        rt.container("with/slash")


def test_start_twice_and_delete_running(rt, runtime, bundle, api_only):
    cid = support.unique_id("api2")
    bundle_for(bundle, cid, ["sleep", "1000"])
    c = rt.create(cid, bundle=str(bundle.path))
    c.start()
    with pytest.raises(errors.InvalidState, match="cannot start an already running container"):
        c.start()
    with pytest.raises(errors.InvalidState, match="not stopped: running"):
        c.delete()
    with pytest.raises(errors.UsageError, match="unknown signal"):
        c.kill("NOSUCH")
    assert c.state().status == "running"   # none of the refusals touched it
    c.delete(force=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_create_existing_id(rt, runtime, bundle, tmp_path, api_only):
    cid = support.unique_id("apid")
    bundle_for(bundle, cid, ["sleep", "1000"])
    c = rt.create(cid, bundle=str(bundle.path))
    b2 = bundle_for(support.Bundle(tmp_path / "b2"), cid, ["true"])
    with pytest.raises(errors.ContainerExists):
        rt.create(cid, bundle=str(b2.path))
    assert c.state().status == "created" and c.state().bundle == str(bundle.path)
    c.delete()
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_bad_bundles_leave_nothing_behind(rt, runtime, bundle, tmp_path, api_only):
    cid = support.unique_id("apib")
    with pytest.raises(errors.PyruncError, match="no such directory"):
        rt.create(cid, bundle=str(tmp_path / "absent"))
    probe.assert_no_leftovers(runtime, cid)

    bundle_for(bundle, cid, [])
    with pytest.raises(errors.ConfigError) as info:
        rt.create(cid, bundle=str(bundle.path))
    assert str(info.value).startswith("config.json: process.args")
    assert any(f.path == "process.args" for f in info.value.findings)
    probe.assert_no_leftovers(runtime, cid, bundle.path)

    bundle_for(bundle, cid, ["no-such-binary"])
    with pytest.raises(errors.SpawnError, match='executable file not found'):
        rt.create(cid, bundle=str(bundle.path))
    probe.assert_no_leftovers(runtime, cid, bundle.path)

    with pytest.raises(errors.UsageError):
        rt.create("a b", bundle=str(bundle.path))
    assert not [p for p in runtime.root.iterdir() if not p.name.startswith(".")]


def test_warnings_default_to_python_warnings_and_never_print(runtime, bundle, capfd, api_only):
    rt = Runtime(root=str(runtime.root))
    cid = support.unique_id("apiw")
    bundle_for(bundle, cid, ["sleep", "1000"])
    c = rt.create(cid, bundle=str(bundle.path))
    with pytest.warns(errors.PyruncWarning, match="Kernel memory settings are ignored"):
        c.update({"memory": {"kernelTCP": 1 << 20}})
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # nothing else warned
        c.delete(force=True)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    probe.assert_no_leftovers(runtime, cid, bundle.path)


# -- the CLI and the API agree ---------------------------------------------------------------

def test_cli_and_api_give_the_same_state_json(rt, runtime, bundle, tmp_path):
    a = support.unique_id("apia")
    bundle_for(bundle, a, ["sleep", "1000"])
    rt.create(a, bundle=str(bundle.path))          # made by the API, read by both
    b = support.unique_id("apic")
    b2 = bundle_for(support.Bundle(tmp_path / "b2"), b, ["sleep", "1000"])
    b2.config["annotations"] = {"org.example/k": "v"}
    b2.write()
    probe.call(runtime, "create", "-b", b2.path, b, check=True)   # made by the CLI, read by both
    try:
        for cid in (a, b):
            assert rt.container(cid).state().as_dict() == runtime.state(cid)
        probe.call(runtime, "start", b, check=True)
        rt.container(a).start()
        for cid in (a, b):
            assert rt.container(cid).state().as_dict() == runtime.state(cid)
        listed = json.loads(runtime.run("list", "--format", "json", check=True).stdout)
        assert [s.as_dict() for s in rt.list()] == sorted(listed, key=lambda s: s["id"])
        assert rt.container(b).state().annotations == {"org.example/k": "v"}
    finally:
        rt.container(a).delete(force=True)
        runtime.run("delete", "--force", b, check=True)
    probe.assert_no_leftovers(runtime, a, bundle.path)
    probe.assert_no_leftovers(runtime, b, b2.path)


def test_cli_and_api_give_the_same_validate_report(rt, runtime, bundle):
    bundle.config["process"]["args"] = []
    bundle.config["linux"]["namespaces"].append({"type": "nosuch"})
    bundle.write()
    cli = json.loads(runtime.run("validate", "--format", "json", "-b", bundle.path).stdout)
    assert rt.validate(str(bundle.path)).as_dict() == cli
