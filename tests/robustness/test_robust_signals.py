"""A foreground `run` under a supervisor: signalled, or SIGKILLed outright.

- SIGTERM/SIGINT/SIGHUP to `run` go on to the container's init (which, as
  PID 1 of its namespace, only dies of a signal it handles: here a trap);
  `run` exits with the init's status and removes the container.
- `run` SIGKILLed while its container runs: the container keeps running
  (nobody killed it), `state` says so, and `delete --force` removes it all.
- a detached `run` SIGKILLed is covered by the crash points (create + start).

Runs against runc too.
"""
from __future__ import annotations

import signal
import time

import pytest

from tests import support
from tests.robustness import leftovers as lo

pytestmark = pytest.mark.requires("root")


def _foreground(runtime, bundle, args):
    cid = support.unique_id("sig")
    marker = lo.new_marker()
    lo.tag_config(bundle.config, cid, marker, args=args)
    bundle.write()
    job = lo.Background(runtime, "run", "--bundle", bundle.path, cid, env=lo.env_with(marker))
    return cid, marker, job


TRAPPER = ["sh", "-c", "trap 'exit 42' TERM INT HUP; while :; do sleep 0.1; done"]


def _wait_running(runtime, cid, marker, timeout=20):
    """Until the container's process has exec'd (carries process.env's marker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc = runtime.run("state", cid)
        if proc.returncode == 0 and '"running"' in proc.stdout:
            for pid in support.live_pids_with_env(marker):
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().startswith(b"sh\0"):
                        return
        time.sleep(0.05)
    raise AssertionError(f"{cid} never ran")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_signal_to_foreground_run_reaches_the_container(runtime, bundle, sig):
    cid, marker, job = _foreground(runtime, bundle, TRAPPER)
    try:
        _wait_running(runtime, cid, marker)
        job.proc.send_signal(sig)
        result = job.finish(timeout=20)
        assert result.returncode == 42, result.stderr
        assert result.stderr == ""
    finally:
        lo.kill_marked(marker)
        runtime.run("delete", "--force", cid)
    assert lo.leftovers(runtime.root, cid, marker, bundle.path) == {}


def test_foreground_run_killed_leaves_a_container_delete_removes(runtime, bundle):
    cid, marker, job = _foreground(runtime, bundle, TRAPPER)
    try:
        _wait_running(runtime, cid, marker)
        job.proc.kill()
        assert job.finish().returncode == -signal.SIGKILL
        assert lo.status_via_state(runtime, cid) == "running"
        assert lo.status_via_list(runtime, cid) == "running"
        assert runtime.run("kill", cid, "KILL").returncode == 0
        deadline = time.monotonic() + 10
        while lo.status_via_state(runtime, cid) != "stopped" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lo.status_via_state(runtime, cid) == "stopped"
        deleted = runtime.run("delete", cid)
        assert (deleted.returncode, deleted.stderr) == (0, "")
    finally:
        lo.kill_marked(marker)
        runtime.run("delete", "--force", cid)
    assert lo.leftovers(runtime.root, cid, marker, bundle.path) == {}
