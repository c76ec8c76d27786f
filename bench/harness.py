"""The bench's process plumbing: spawn a runtime command, time it, collect its
rusage, reap what it leaves behind, and clean up afterwards.

Place in the bench: run.py's scenarios call `Runtime.call()` for every
runtime command they time. The bench process makes itself a child subreaper
(as a container shim does), so a container's init becomes our child once the
`create` that forked it has exited; we reap it like a shim would.

Timing is wall time around posix_spawn + wait4 (vfork: the bench's own
spawn cost is tiny and the same for both runtimes), and the CPU time
(user + system) wait4 reports: steadier than wall time on a busy machine.
Peak RSS of a command comes from GNU time (`Runtime.peak_rss`), in a pass of
its own, so the extra exec never lands in the timings.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import signal
import tempfile
import time

PR_SET_CHILD_SUBREAPER = 36
# podman and containerd hand the runtime an almost empty environment
CLEAN_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
CGROUP_PARENT = "pyrunc-bench"
CGROUP_ROOT = "/sys/fs/cgroup"
GNU_TIME = "/usr/bin/time"  # Debian package `time`


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


class CommandFailed(RuntimeError):
    pass


class Result:
    __slots__ = ("argv", "seconds", "cpu", "maxrss_kib", "code", "stderr")

    def __init__(self, argv, seconds, cpu, maxrss_kib, code, stderr):
        self.argv, self.seconds, self.cpu, self.maxrss_kib, self.code, self.stderr = argv, seconds, cpu, maxrss_kib, code, stderr


class Spawner:
    """posix_spawn with stdout/stderr to files; wait4 by pid, reaping orphans on the way."""

    def __init__(self, workdir: str):
        self.workdir = workdir
        self._exited: dict[int, tuple[int, object]] = {}  # pid -> (status, rusage) reaped early

    def start(self, argv, tag="cmd"):
        out = os.path.join(self.workdir, f"{tag}.{os.getpid()}.{time.monotonic_ns()}")
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        ]
        t0 = time.perf_counter()
        pid = os.posix_spawnp(argv[0], argv, CLEAN_ENV, file_actions=actions)
        return pid, t0, out

    def wait(self, pid):
        """(status, rusage) of `pid`; any other child reaped meanwhile is an orphan
        (a container init) or another command we started (kept for its wait)."""
        if pid in self._exited:
            return self._exited.pop(pid)
        while True:
            try:
                got, status, ru = os.wait4(-1, 0)
            except InterruptedError:
                continue
            if got == pid:
                return status, ru
            self._exited[got] = (status, ru)

    def finish(self, argv, pid, t0, out):
        status, ru = self.wait(pid)
        seconds = time.perf_counter() - t0
        try:
            with open(out, "rb") as f:
                err = f.read().decode(errors="replace")
        finally:
            os.unlink(out)
        return Result(argv, seconds, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, os.waitstatus_to_exitcode(status), err)

    def run(self, argv, tag="cmd"):
        pid, t0, out = self.start(argv, tag)
        return self.finish(argv, pid, t0, out)

    def wait_exit(self, pid, timeout=10.0):
        """Wait for a container init (our child once its creator exited) to end."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pid in self._exited:
                self._exited.pop(pid)
                return True
            try:
                got, status, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                got = 0
            if got == pid:
                return True
            if got:
                self._exited[got] = (status, ru)
                continue
            if not os.path.exists(f"/proc/{pid}"):
                return True  # not our child (e.g. reparented elsewhere) and gone
            time.sleep(0.0005)
        return False

    def reap_orphans(self):
        while True:
            try:
                got, status, ru = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if not got:
                return
            self._exited[got] = (status, ru)
        # entries for pids nobody waits on are dropped by forget()

    def forget(self):
        self._exited.clear()


class Runtime:
    """One runtime binary with a private --root and its own cgroup parent."""

    def __init__(self, name, binary, spawner, workdir):
        self.name = name
        self.binary = binary
        self.spawner = spawner
        self.root = os.path.join(workdir, f"root-{name}")
        self.cgroup_prefix = f"/{CGROUP_PARENT}/{name}"

    def argv(self, *args):
        return [self.binary, "--root", self.root, *args]

    def call(self, *args, check=True, tag=None):
        res = self.spawner.run(self.argv(*args), tag or self.name)
        if check and res.code != 0:
            raise CommandFailed(f"{self.name} {' '.join(args)}: exit {res.code}: {res.stderr.strip()}")
        return res

    def peak_rss(self, *args, check=True):
        """Peak RSS (KiB) of one command, through GNU time. Not wait4's
        ru_maxrss of our own child: posix_spawn's vfork seeds it with the
        bench's own RSS; time forks from a small process."""
        out = os.path.join(self.spawner.workdir, f"rss.{time.monotonic_ns()}")
        res = self.spawner.run([GNU_TIME, "-f", "%M", "-o", out, *self.argv(*args)], self.name)
        try:
            with open(out) as f:
                last = f.read().strip().splitlines()[-1]
        finally:
            os.unlink(out)
        if check and res.code != 0:
            raise CommandFailed(f"{self.name} {' '.join(args)}: exit {res.code}: {res.stderr.strip()}")
        return int(last)

    def cleanup(self):
        """delete -f whatever is left in our root, then remove the root."""
        if os.path.isdir(self.root):
            for cid in sorted(os.listdir(self.root)):
                if cid.startswith(".") or not os.path.isdir(os.path.join(self.root, cid)):
                    continue
                self.call("delete", "--force", cid, check=False)
            self.spawner.reap_orphans()
            shutil.rmtree(self.root, ignore_errors=True)


def read_pid(path, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return int(text)
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            raise CommandFailed(f"no pid in {path}")
        time.sleep(0.001)


def proc_memory(pid):
    """VmRSS, VmHWM (KiB, /proc/<pid>/status) and Pss, Private (KiB, smaps_rollup)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("Pss", "Private_Clean", "Private_Dirty"):
                    out[key] = int(value.split()[0])
    except (OSError, ValueError):
        return None
    out["Private"] = out.pop("Private_Clean", 0) + out.pop("Private_Dirty", 0)
    return out


# -- cgroups -------------------------------------------------------------------------

def bench_cgroup_dirs():
    """Every <hierarchy>/pyrunc-bench directory that exists (v1 controllers, unified, v2)."""
    found = []
    top = os.path.join(CGROUP_ROOT, CGROUP_PARENT)
    if os.path.isdir(top):  # pure v2
        found.append(top)
    try:
        names = os.listdir(CGROUP_ROOT)
    except OSError:
        return found
    for name in names:
        d = os.path.join(CGROUP_ROOT, name, CGROUP_PARENT)
        if os.path.isdir(d):
            found.append(d)
    return found


def remove_bench_cgroups():
    """Kill what is left in our cgroups (only our containers live there), rmdir bottom-up."""
    leftovers = []
    for top in bench_cgroup_dirs():
        for dirpath, dirnames, _files in os.walk(top, topdown=False):
            _kill_members(dirpath)
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno in (errno.EBUSY, errno.ENOTEMPTY):
                    time.sleep(0.05)
                    try:
                        os.rmdir(dirpath)
                        continue
                    except OSError:
                        pass
                leftovers.append(dirpath)
    return leftovers


def _kill_members(dirpath):
    for name in ("cgroup.procs",):
        try:
            with open(os.path.join(dirpath, name)) as f:
                pids = [int(x) for x in f.read().split()]
        except OSError:
            continue
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
