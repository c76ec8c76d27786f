"""Conformance: the six OCI hooks, each at its point in the lifecycle, in its
namespace, with the state JSON on stdin, its args, env and timeout; a
failing hook fails what the spec says it fails (and only warns after start).

Each hook appends `<phase> <env var> <state json>` to one log file. The
runtime-namespace hooks run the host's copy of the script; startContainer's
path resolves inside the container, so the rootfs has its own copy, and the
log directory is bind-mounted in."""
from __future__ import annotations

import json
import os
import time

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")

HOOK = """#!/bin/sh
echo "$1 ${HOOKVAR:-unset} $(cat)" >> {log}
exit ${{2:-0}}
"""
PHASES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


class Hooks:
    def __init__(self, tmp_path, bundle):
        self.dir = tmp_path / "hooklog"
        self.dir.mkdir()
        self.log = self.dir / "log"
        self.host_script = tmp_path / "hook.sh"
        self.host_script.write_text(HOOK.replace("{log}", str(self.log)).replace("{{", "{").replace("}}", "}"))
        self.host_script.chmod(0o755)
        inside = bundle.rootfs / "hook.sh"
        inside.write_text(HOOK.replace("{log}", "/hooklog/log").replace("{{", "{").replace("}}", "}"))
        inside.chmod(0o755)
        bundle.config["mounts"].append({"destination": "/hooklog", "type": "bind",
                                        "source": str(self.dir), "options": ["rbind", "rw"]})

    def entry(self, phase, exit_code=0, **extra):
        path = "/hook.sh" if phase == "startContainer" else str(self.host_script)
        return {"path": path, "args": ["hook.sh", phase, str(exit_code)], "env": ["HOOKVAR=v-" + phase],
                **extra}

    def records(self):
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            phase, var, state = line.split(" ", 2)
            out.append((phase, var, json.loads(state)))
        return out


def test_all_six_hooks_in_order_with_state(runtime, bundle, tmp_path):
    hooks = Hooks(tmp_path, bundle)
    cid = support.unique_id("hooks")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", "echo started >> /hooklog/log.container; sleep 1000"])
    cfg["annotations"] = {"org.pyrunc.test": "hooks"}
    cfg["hooks"] = {phase: [hooks.entry(phase)] for phase in PHASES}
    bundle.write()
    probe.call(runtime, "create", "-b", bundle.path, cid, check=True)
    state = runtime.state(cid)
    pid = state["pid"]
    early = ["prestart", "createRuntime", "createContainer"]
    late = ["startContainer", "poststart"]
    if support.is_runc():  # runc 1.1.5 runs poststart hooks during create, before start
        early, late = early + ["poststart"], ["startContainer"]
    assert [r[0] for r in hooks.records()] == early
    runtime.run("start", cid, check=True)
    probe.wait_for(lambda: len(hooks.records()) >= 5, what="start hooks")
    assert [r[0] for r in hooks.records()] == early + late
    runtime.run("kill", cid, "KILL", check=True)
    probe.wait_status(runtime, cid, "stopped")
    runtime.run("delete", cid, check=True)
    records = hooks.records()
    assert [r[0] for r in records] == early + late + ["poststop"]
    for phase, var, st in records:
        assert var == "v-" + phase, (phase, var)  # the hook's own env
        assert st["id"] == cid and st["ociVersion"]
        assert st["bundle"] == str(bundle.path)
        assert st.get("annotations", {}).get("org.pyrunc.test") == "hooks", (phase, st)
        in_container = phase in ("createContainer", "startContainer")
        if phase != "poststop" and not (in_container and support.is_runc()):
            # runc 1.1.5 reports the pid the init sees of itself (1) there
            assert st["pid"] == pid, (phase, st)
    status = {phase: st["status"] for phase, _, st in records}
    if not support.is_runc():
        assert status["poststart"] == "running"
    assert status["poststop"] == "stopped"
    assert status["createRuntime"] in ("creating", "created")
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_create_container_hook_runs_in_the_containers_namespaces(runtime, bundle, tmp_path):
    out = tmp_path / "ns.txt"
    script = tmp_path / "ns.sh"
    script.write_text(f"#!/bin/sh\n{{ readlink /proc/self/ns/mnt; readlink /proc/self/ns/uts; }} > {out}\n")
    script.chmod(0o755)
    cid = support.unique_id("hookns")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", "readlink /proc/self/ns/mnt; readlink /proc/self/ns/uts"])
    cfg["hooks"] = {"createContainer": [{"path": str(script)}]}
    proc = probe.run(runtime, bundle, cid, cfg["process"]["args"])
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().split() == proc.stdout.split()
    host = probe.host_ns_links()
    assert out.read_text().split() != [host["mnt"], host["uts"]]


@pytest.mark.parametrize("phase", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hook_fails_create_and_leaves_nothing(runtime, bundle, tmp_path, phase):
    hooks = Hooks(tmp_path, bundle)
    cid = support.unique_id("hookfail")
    cfg = probe.prepare(bundle, cid, ["sleep", "1000"])
    cfg["hooks"] = {phase: [hooks.entry(phase, exit_code=3)],
                    "poststart": [hooks.entry("poststart")]}
    bundle.write()
    proc = runtime.run("create", "-b", bundle.path, cid)
    assert proc.returncode != 0
    assert phase in proc.stderr or "hook" in proc.stderr, proc.stderr
    assert len(probe.error_lines(proc.stderr)) == 1 or support.is_runc(), proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)
    assert [r[0] for r in hooks.records()] == [phase]


def test_start_container_hook_failure_fails_start(runtime, bundle, tmp_path):
    hooks = Hooks(tmp_path, bundle)
    cid = support.unique_id("hookstart")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", "echo ran >> /hooklog/ran"])
    cfg["hooks"] = {"startContainer": [hooks.entry("startContainer", exit_code=4)]}
    bundle.write()
    probe.call(runtime, "create", "-b", bundle.path, cid, check=True)
    proc = runtime.run("start", cid)
    if not support.is_runc():  # runc 1.1.5 reports success; its init then dies
        assert proc.returncode != 0
        assert "startContainer" in proc.stderr, proc.stderr
    probe.wait_status(runtime, cid, "stopped")
    assert not (hooks.dir / "ran").exists(), "the process ran although startContainer failed"
    runtime.run("delete", "--force", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_hook_timeout_fails_create(runtime, bundle, tmp_path):
    script = tmp_path / "slow.sh"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(0o755)
    cid = support.unique_id("hookslow")
    cfg = probe.prepare(bundle, cid, ["true"])
    cfg["hooks"] = {"createRuntime": [{"path": str(script), "timeout": 1}]}
    bundle.write()
    t0 = time.monotonic()
    proc = runtime.run("create", "-b", bundle.path, cid)
    assert proc.returncode != 0
    assert time.monotonic() - t0 < 20
    assert "timed out" in proc.stderr or "timeout" in proc.stderr, proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_poststart_failure_only_warns(runtime, bundle, tmp_path):
    if support.is_runc():
        pytest.skip("runc 1.1.5 runs poststart hooks during create, and a failing one fails "
                    "create (the spec: after start, warn and go on)")
    hooks = Hooks(tmp_path, bundle)
    cid = support.unique_id("hookps")
    cfg = probe.prepare(bundle, cid, ["sleep", "1000"])
    cfg["hooks"] = {"poststart": [hooks.entry("poststart", exit_code=5)]}
    bundle.write()
    probe.call(runtime, "create", "-b", bundle.path, cid, check=True)
    proc = runtime.run("start", cid)
    assert proc.returncode == 0, proc.stderr
    assert "poststart" in proc.stderr  # the warning
    assert runtime.state(cid)["status"] == "running"
    runtime.run("delete", "--force", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_poststop_failure_only_warns(runtime, bundle, tmp_path):
    hooks = Hooks(tmp_path, bundle)
    cid = support.unique_id("hookpst")
    cfg = probe.prepare(bundle, cid, ["true"])
    cfg["hooks"] = {"poststop": [hooks.entry("poststop", exit_code=6)]}
    bundle.write()
    probe.call(runtime, "run", "-d", "-b", bundle.path, cid, check=True)
    probe.wait_status(runtime, cid, "stopped")
    proc = runtime.run("delete", cid)
    if not support.is_runc():  # runc 1.1.5 exits 1 here, though the container is gone
        assert proc.returncode == 0, proc.stderr
        assert "poststop" in proc.stderr
    assert [r[0] for r in hooks.records()] == ["poststop"]
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_foreground_run_runs_poststop(runtime, bundle, tmp_path):
    hooks = Hooks(tmp_path, bundle)
    cid = support.unique_id("hookrun")
    cfg = probe.prepare(bundle, cid, ["true"])
    cfg["hooks"] = {"poststart": [hooks.entry("poststart")], "poststop": [hooks.entry("poststop")]}
    proc = probe.run(runtime, bundle, cid, ["true"])
    assert proc.returncode == 0, proc.stderr
    assert [r[0] for r in hooks.records()] == ["poststart", "poststop"]
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_foreground_run_with_failing_start_container_hook(runtime, bundle, tmp_path):
    hooks = Hooks(tmp_path, bundle)
    cid = support.unique_id("hookrunf")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", "echo ran >> /hooklog/ran"])
    cfg["hooks"] = {"startContainer": [hooks.entry("startContainer", exit_code=4)]}
    proc = probe.run(runtime, bundle, cid, cfg["process"]["args"])
    assert proc.returncode != 0
    assert not (hooks.dir / "ran").exists()
    probe.assert_no_leftovers(runtime, cid, bundle.path)


# -- container-side hooks: where and with what they run (issue 21) ---------------

def _hook_script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize("nnp", [True, False], ids=["nnp", "no-nnp"])
def test_start_container_hook_runs_as_the_process_would(runtime, bundle, tmp_path, nnp):
    """runc runs startContainer hooks as the last step before execve: under
    the container's seccomp filter, as its user, in its cwd, and a hook with
    no `env` gets the process's environment (not the runtime's)."""
    logdir = tmp_path / "hooklog"
    logdir.mkdir(mode=0o777)
    logdir.chmod(0o777)
    _hook_script(bundle.rootfs / "start.sh",
                 "{ grep -E '^(Seccomp|NoNewPrivs|Uid):' /proc/self/status; pwd; env; } > /hooklog/start\n")
    cid = support.unique_id("hookseccomp")
    cfg = probe.prepare(bundle, cid, ["true"])
    cfg["mounts"].append({"destination": "/hooklog", "type": "bind", "source": str(logdir),
                          "options": ["rbind", "rw"]})
    cfg["process"]["env"] += ["FROM_CONFIG=yes"]
    cfg["process"]["cwd"] = "/tmp"
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    cfg["process"]["noNewPrivileges"] = nnp
    caps = ["CAP_SYS_ADMIN", "CAP_KILL"]
    cfg["process"]["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_ERRNO"}]}
    cfg["hooks"] = {"startContainer": [{"path": "/start.sh"}]}
    bundle.write()
    env = dict(probe.runtime_env(("run", cid)), RUNTIME_ONLY="leak")
    proc = runtime.run("run", "-b", bundle.path, cid, env=env)
    assert proc.returncode == 0, proc.stderr
    out = (logdir / "start").read_text()
    status = dict(line.split(":", 1) for line in out.splitlines()[:3])
    assert status["Seccomp"].strip() == "2", out
    assert status["NoNewPrivs"].strip() == ("1" if nnp else "0"), out
    assert status["Uid"].split()[0] == "1000", out
    lines = out.splitlines()
    assert lines[3] == "/tmp", out
    assert "FROM_CONFIG=yes" in lines and "HOME=/home" in lines, out
    assert not any(l.startswith("RUNTIME_ONLY=") for l in lines), out
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_create_container_hook_cwd_and_environment(runtime, bundle, tmp_path):
    """createContainer hooks run in the container's namespaces before
    pivot_root, in the rootfs (runc chdirs there first), and one with no
    `env` gets the process's environment."""
    out = tmp_path / "create.txt"
    script = _hook_script(tmp_path / "create.sh", f"{{ pwd -P; env; }} > {out}\n")
    cid = support.unique_id("hookcwd")
    cfg = probe.prepare(bundle, cid, ["true"])
    cfg["process"]["env"] += ["FROM_CONFIG=yes"]
    cfg["hooks"] = {"createContainer": [{"path": script}]}
    bundle.write()
    env = dict(probe.runtime_env(("run", cid)), RUNTIME_ONLY="leak")
    proc = runtime.run("run", "-b", bundle.path, cid, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == os.path.realpath(bundle.rootfs), lines
    assert "FROM_CONFIG=yes" in lines, lines
    assert not any(l.startswith("RUNTIME_ONLY=") for l in lines), lines
    probe.assert_no_leftovers(runtime, cid, bundle.path)
