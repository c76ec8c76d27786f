"""What a container can leave behind, and how the robustness tests look for it.

A test tags everything it makes with a unique marker: the runtime's own
environment carries it (so stage-1 and an init that has not exec'd yet are
found: /proc/PID/environ is inherited across fork), and so does the
container's process.env (found after execve). `leftovers()` then lists, for
one container id: its state dir, live processes with the marker, its cgroup
dirs under /sys/fs/cgroup/*/pyrunc-test/<id>, and host mounts naming the
bundle. Processes that are still on their way out (an orphaned stage-1
noticing its parent died) get a short grace period.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from tests import support

MARK_VAR = "PYRUNC_ROBUST_MARK"


def new_marker() -> str:
    return f"robust-{uuid.uuid4().hex}"


def tag_config(cfg: dict, cid: str, marker: str, args=None) -> dict:
    """Point cfg at the test cgroup parent and put the marker in process.env."""
    cfg.setdefault("linux", {})["cgroupsPath"] = support.cgroup_path_for(cid)
    env = [e for e in cfg["process"].get("env", []) if not e.startswith(MARK_VAR + "=")]
    cfg["process"]["env"] = env + [f"{MARK_VAR}={marker}"]
    if args is not None:
        cfg["process"]["args"] = list(args)
    return cfg


def env_with(marker: str, **extra) -> dict:
    """The runtime's environment: ours plus the marker (and e.g. PYRUNC_CRASH_AT)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYRUNC_CRASH_AT", "PYRUNC_CRASH_SIGNAL")}
    env[MARK_VAR] = marker
    env.update(extra)
    return env


def _mountinfo_escape(path: str) -> str:
    # the kernel octal-escapes space, tab, newline and backslash in mountinfo
    return (path.replace("\\", "\\134").replace(" ", "\\040")
            .replace("\t", "\\011").replace("\n", "\\012"))


def mounts_naming(path) -> list[str]:
    needle = _mountinfo_escape(str(path))
    return [line for line in support.host_mounts().splitlines() if needle in line]


def leftovers(root: Path, cid: str, marker: str | None, bundle_path=None, grace: float = 5.0) -> dict:
    """Everything container `cid` still holds; {} when it is all gone."""
    deadline = time.monotonic() + grace
    while True:
        found = {}
        if (Path(root) / cid).exists():
            found["state dir"] = str(Path(root) / cid)
        if marker:
            pids = support.live_pids_with_env(marker)
            if pids:
                found["processes"] = {pid: _describe(pid) for pid in pids}
        cgroups = support.cgroup_dirs_named(cid)
        if cgroups:
            found["cgroups"] = cgroups
        if bundle_path is not None:
            mounts = mounts_naming(bundle_path)
            if mounts:
                found["mounts"] = mounts
        # only processes may still be exiting on their own; the rest is final
        if not found or set(found) != {"processes"} or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _describe(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        return f"{stat.split(')')[-1].split()[0]} {cmd}"
    except OSError:
        return "?"


def kill_marked(marker: str) -> None:
    """Last-resort clean-up after a failed test: only processes carrying our
    marker, i.e. processes this test started, by pid."""
    import signal
    for pid in support.live_pids_with_env(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def status_via_state(runtime, cid: str) -> str:
    proc = runtime.run("state", cid)
    assert proc.returncode == 0, f"state {cid} failed: {proc.stderr!r}"
    return json.loads(proc.stdout)["status"]


def status_via_list(runtime, cid: str) -> str | None:
    proc = runtime.run("list", "--format", "json")
    assert proc.returncode == 0, f"list failed: {proc.stderr!r}"
    items = json.loads(proc.stdout or "null") or []
    for item in items:
        if item["id"] == cid:
            return item["status"]
    return None


def run_to_files(runtime, *args, env=None, timeout=20, global_args=()) -> subprocess.CompletedProcess:
    """Run the runtime with stdout/stderr in temp files, not pipes: a created
    container's init inherits them and would keep a pipe open for ever."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        argv = runtime.argv(*args, global_args=global_args)
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            where = process_tree(child.pid)  # where it hangs, before the kill erases it
            child.kill()
            child.wait()
            raise subprocess.TimeoutExpired(argv, timeout, output=where) from None
        proc = subprocess.CompletedProcess(argv, child.returncode)
        out.seek(0)
        err.seek(0)
        proc.stdout = out.read().decode(errors="replace")
        proc.stderr = err.read().decode(errors="replace")
    support.assert_no_traceback(proc.stderr)
    return proc


class Background:
    """One runtime command running in the background, stdio in temp files."""

    def __init__(self, runtime, *args, env=None, global_args=()):
        self.args = args
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(runtime.argv(*args, global_args=global_args), stdin=subprocess.DEVNULL,
                                     stdout=self._out, stderr=self._err, env=env)

    def finish(self, timeout=20) -> subprocess.CompletedProcess:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"{' '.join(map(str, self.args))}: still running after {timeout}s")
        out, err = (self._read(f) for f in (self._out, self._err))
        support.assert_no_traceback(err)
        return subprocess.CompletedProcess(self.args, code, out, err)

    @staticmethod
    def _read(f):
        f.seek(0)
        data = f.read().decode(errors="replace")
        f.close()
        return data


def all_finished(jobs, timeout=60) -> list[subprocess.CompletedProcess]:
    deadline = time.monotonic() + timeout
    return [job.finish(max(1.0, deadline - time.monotonic())) for job in jobs]


_RUNC_MSG = re.compile(r'level=error msg=("(?:[^"\\]|\\.)*"|\S+)')


def error_message(stderr: str) -> str:
    """The one error line a failed command printed, as its message text.

    pyrunc prints the bare message (warnings are `pyrunc: warning: ...`);
    runc prints a logrus line `... level=error msg="runc create failed: ..."`:
    its msg, without the `runc <verb> failed: ` prefix runc 1.1 adds."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if support.is_runc():
        found = _RUNC_MSG.findall(stderr)
        assert found, f"no error record in {stderr!r}"
        msg = json.loads(found[-1]) if found[-1].startswith('"') else found[-1]
        return re.sub(r"^runc \w+ failed: ", "", msg)
    errors = [line for line in lines if not line.startswith("pyrunc: warning: ")]
    assert len(errors) == 1, f"want exactly one error line, got {stderr!r}"
    return errors[0]


def process_tree(pid: int) -> str:
    """`pid state wchan cmdline` for pid and its descendants (hang reports)."""
    lines, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/wchan") as f:
                wchan = f.read()
            lines.append(f"{p} {_describe(p)} wchan={wchan}")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return "\n".join(lines)
