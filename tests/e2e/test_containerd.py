"""containerd 1.6's runc v2 shim driving the runtime under test.

A private containerd (own root, state, socket; CRI disabled) is started by
the module fixture; `ctr run --runc-binary ABS --runc-root DIR` makes the
shim call the runtime under test, and later `ctr task` calls reuse it.
Covers the containerd part of issue 7's acceptance list.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import pytest

from tests import support
from tests.conformance import probe

pytestmark = [pytest.mark.requires("root", "containerd")]

SERVE = ["sh", "-c", 'trap "exit 0" TERM; while :; do sleep 0.1; done']


def _id() -> str:
    return support.unique_id("e2e")


def _task_status(ctrd, cid) -> str:
    for line in ctrd.ctr("tasks", "ls").stdout.splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == cid:
            return fields[2]
    return "GONE"


def _wait_status(ctrd, cid, *want, timeout=10.0) -> str:
    deadline = time.monotonic() + timeout
    while (got := _task_status(ctrd, cid)) not in want and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


@pytest.fixture
def task(containerd):
    """A detached running task; killed and deleted afterwards whatever happened."""
    cid = _id()
    containerd.ctr("run", "-d", "--null-io", *containerd.run_flags(), containerd.image, cid, *SERVE)
    yield cid
    containerd.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", cid, check=False)
    _wait_status(containerd, cid, "STOPPED", "GONE", timeout=5)
    containerd.ctr("tasks", "delete", "--force", cid, check=False)
    containerd.ctr("containers", "delete", cid, check=False)


def test_run_rm_prints_output(containerd):
    cid = _id()
    proc = containerd.ctr("run", "--rm", *containerd.run_flags(), containerd.image, cid,
                          "echo", "hello from ctr")
    assert proc.stdout == "hello from ctr\n"
    assert containerd.ctr("containers", "info", cid, check=False).returncode != 0


def test_run_missing_command_fails_cleanly(containerd):
    cid = _id()
    proc = containerd.ctr("run", "--rm", *containerd.run_flags(), containerd.image, cid,
                          "/no/such/command", check=False)
    assert proc.returncode != 0
    # the shim puts the runtime's last JSON log error into ctr's message
    assert re.search(r"no such file or directory|executable file not found", proc.stderr), proc
    containerd.ctr("containers", "delete", cid, check=False)


def test_run_tty(containerd):
    from tests.e2e.clients import run_in_pty
    cid = _id()
    rc, out = run_in_pty(["ctr", "--address", str(containerd.socket), "--namespace",
                          containerd.namespace, "run", "--rm", "-t", *containerd.run_flags(),
                          containerd.image, cid, "sh", "-c", "tty; echo tty-ok"])
    assert rc == 0, out
    assert re.search(r"^/dev/pts/\d+$", out, re.M), out
    assert "tty-ok" in out


def test_detached_task_lifecycle(containerd, task, need_verbs):
    need_verbs("exec", "ps", "pause", "resume")
    ctr = containerd.ctr
    assert _task_status(containerd, task) == "RUNNING"

    # task exec: output and exit status come back through the shim
    proc = ctr("tasks", "exec", "--exec-id", "e1", task, "sh", "-c", "echo from-exec; exit 3",
               check=False)
    assert proc.stdout == "from-exec\n"
    assert proc.returncode == 3, proc
    # a failing exec: the shim reads the runtime's last JSON log error back
    bad = ctr("tasks", "exec", "--exec-id", "bad", task, "/no/such/command", check=False)
    assert bad.returncode != 0
    assert "no such file or directory" in bad.stderr, bad

    # task ps: the shim asks the runtime for `ps --format json`
    ps = ctr("tasks", "ps", task).stdout.splitlines()[1:]
    pids = [int(line.split()[0]) for line in ps if line.strip()]
    assert pids, ps
    init_pid = int(next(line.split()[1] for line in ctr("tasks", "ls").stdout.splitlines()
                        if line.split()[0] == task))
    assert init_pid in pids

    ctr("tasks", "pause", task)
    assert _task_status(containerd, task) == "PAUSED"
    ctr("tasks", "resume", task)
    assert _task_status(containerd, task) == "RUNNING"
    assert ctr("tasks", "exec", "--exec-id", "e2", task, "echo", "after-resume").stdout == "after-resume\n"

    metrics = json.loads(ctr("tasks", "metrics", "--format", "json", task).stdout)
    assert metrics["pids"]["current"] >= 1, metrics
    usage = metrics["memory"]["usage"]  # v1 metrics: {"usage": N, ...}; v2: N
    assert (usage["usage"] if isinstance(usage, dict) else usage) > 0, metrics

    ctr("tasks", "kill", task)  # SIGTERM, which the init traps
    assert _wait_status(containerd, task, "STOPPED") == "STOPPED"
    proc = ctr("tasks", "delete", task)
    assert "exit status 0" in proc.stdout or proc.stdout.strip() == "", proc
    assert _task_status(containerd, task) == "GONE"


def test_task_exec_tty(containerd, task, need_verbs):
    need_verbs("exec")
    from tests.e2e.clients import run_in_pty
    rc, out = run_in_pty(["ctr", "--address", str(containerd.socket), "--namespace",
                          containerd.namespace, "tasks", "exec", "-t", "--exec-id", "t1",
                          task, "sh", "-c", "tty; echo tty-ok"])
    assert rc == 0, out
    assert re.search(r"^/dev/pts/\d+$", out, re.M), out
    assert "tty-ok" in out


def test_kill_signal_and_restart(containerd, need_verbs):
    need_verbs("exec")
    ctr = containerd.ctr
    cid = _id()
    ctr("run", "-d", "--null-io", *containerd.run_flags(), containerd.image, cid,
        "sh", "-c", 'trap "touch /tmp/usr1" USR1; trap "exit 0" TERM; while :; do sleep 0.1; done')
    try:
        ctr("tasks", "kill", "--signal", "SIGUSR1", cid)  # the shim: `kill ID 10`
        deadline = time.monotonic() + 10
        while ctr("tasks", "exec", "--exec-id", "probe", cid, "test", "-e", "/tmp/usr1",
                  check=False).returncode != 0:
            assert time.monotonic() < deadline, "SIGUSR1 never reached the container"
            time.sleep(0.1)
        ctr("tasks", "kill", "--all", "--signal", "SIGKILL", cid)  # `kill --all ID 9`
        assert _wait_status(containerd, cid, "STOPPED") == "STOPPED"
        ctr("tasks", "delete", cid)
        # `task start` after `task rm` runs `create` again with the same id
        ctr("tasks", "start", "--null-io", "-d", cid)
        assert _wait_status(containerd, cid, "RUNNING") == "RUNNING"
    finally:
        ctr("tasks", "kill", "--all", "--signal", "SIGKILL", cid, check=False)
        _wait_status(containerd, cid, "STOPPED", "GONE", timeout=5)
        ctr("tasks", "delete", "--force", cid, check=False)
        ctr("containers", "delete", cid, check=False)


def test_shim_kills_what_an_init_in_a_shared_pid_namespace_left_behind(containerd):
    """The shim's KillAll (issue 17): when the init of a container without a
    pid namespace of its own (a pod sharing one, or the host's) exits, the
    shim calls `kill --all ID 9` on the now stopped container; what the init
    left in its cgroup must die, and the call must not fail."""
    cid = _id()
    mark = f"PYRUNC_TEST_MARK=mark-{cid}"
    # the pod's shared pid namespace: its init is the `sleep` unshare forks
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "sleep", "120"])
    ns_init = 0
    try:
        ns_init = probe.wait_for(lambda: _children(holder.pid), what="the pid namespace's init")[0]
        containerd.ctr("run", "-d", "--null-io", *containerd.run_flags(), "--env", mark,
                       "--with-ns", f"pid:/proc/{ns_init}/ns/pid", containerd.image, cid,
                       "sh", "-c", "sleep 313 & sleep 1")
        assert _wait_status(containerd, cid, "STOPPED") == "STOPPED"
        probe.wait_for(lambda: not _running_with(mark), what="the left-behind sleep to be killed")
        assert "killall failed" not in containerd.log_tail(200), containerd.log_tail(200)
    finally:
        containerd.ctr("tasks", "delete", "--force", cid, check=False)
        containerd.ctr("containers", "delete", cid, check=False)
        if ns_init:
            os.kill(ns_init, signal.SIGKILL)  # the namespace's init, by pid (SIGTERM it ignores)
        holder.kill()
        holder.wait()


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _running_with(env: str) -> list[int]:
    """Live (not zombie) processes whose environment holds `env`."""
    alive = []
    for pid in support.live_pids_with_env(env):
        try:
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
                alive.append(pid)
        except OSError:
            continue
    return alive
