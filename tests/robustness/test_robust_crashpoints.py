"""pyrunc SIGKILLed at every crash point of create, start and delete.

PYRUNC_CRASH_AT=<point> (pyrunc/testhooks.py) makes the kill land at one
named phase, deterministically. After each kill: `state` and `list` still
work and tell the truth about the half-made container (`stopped` once its
creator is dead, `creating` while a live pyrunc holds its lock), `delete
--force` removes everything (state dir, processes, cgroups, host mounts) and
a fresh `create` of the same id works. The points are read from the source,
so a new `reached("...")` is covered without editing this file.

pyrunc-only: crash points are ours, and runc is documented (issue 9) to leave
cgroups and orphaned inits behind when killed mid-create.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import tempfile

import pytest

from tests import support
from tests.robustness import leftovers as lo

pytestmark = [
    pytest.mark.requires("root"),
    pytest.mark.skipif(support.is_runc(), reason="crash points are pyrunc's (runc leaves things behind when killed)"),
]

TIMEOUT = 20


def _crash_points() -> list[str]:
    pattern = re.compile(r'reached\("([a-z]+:[a-z-]+)"\)')
    found = set()
    for dirpath, _dirs, files in os.walk(support.REPO / "pyrunc"):
        for name in files:
            if name.endswith(".py"):
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    found.update(pattern.findall(f.read()))
    return sorted(found)


POINTS = _crash_points()
CREATE = [p for p in POINTS if p.startswith("create:")]
START = [p for p in POINTS if p.startswith("start:")]
DELETE = [p for p in POINTS if p.startswith("delete:")]
# create has written `created` + the pid: the container is whole, only the
# pid file (or nothing) is missing
CREATE_DONE = {"create:after-state", "create:after-pidfile"}


def test_enough_crash_points():
    assert len(CREATE) + len(START) + len(DELETE) >= 20, POINTS
    assert CREATE and START and DELETE


class Case:
    """One container id, its bundle, marker and (if needed) console socket."""

    def __init__(self, runtime, bundle, point=""):
        self.runtime = runtime
        self.bundle = bundle
        self.point = point
        self.cid = support.unique_id("crash")
        self.marker = lo.new_marker()
        self.extra = []
        self._sock_dir = None
        self._sock = None
        cfg = lo.tag_config(bundle.config, self.cid, self.marker, args=["sleep", "1000"])
        if point == "create:after-idmap":
            cfg["linux"]["namespaces"].append({"type": "user"})
            # identity maps: the init may then still reach our 0700 tmp dirs
            cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
            cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
        if point == "create:after-hooks":
            cfg["hooks"] = {"createRuntime": [{"path": "/bin/true", "args": ["true"]}]}
        if point == "create:after-console":
            cfg["process"]["terminal"] = True
            # a listening socket is enough: the init's pty master waits in its queue
            self._sock_dir = tempfile.mkdtemp(prefix="robust-", dir="/tmp")
            path = os.path.join(self._sock_dir, "console.sock")
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.bind(path)
            self._sock.listen(8)
            self.extra = ["--console-socket", path]
        bundle.write()

    def run(self, *args, crash_at=None, crash_signal=None):
        extra = {}
        if crash_at:
            extra["PYRUNC_CRASH_AT"] = crash_at
        if crash_signal:
            extra["PYRUNC_CRASH_SIGNAL"] = crash_signal
        return lo.run_to_files(self.runtime, *args, env=lo.env_with(self.marker, **extra), timeout=TIMEOUT)

    def create(self, **kw):
        return self.run("create", "--bundle", self.bundle.path, *self.extra, self.cid, **kw)

    def assert_clean_after_force_delete(self):
        proc = self.runtime.run("delete", "--force", self.cid, timeout=TIMEOUT)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        left = lo.leftovers(self.runtime.root, self.cid, self.marker, self.bundle.path)
        assert left == {}, f"left behind after delete --force: {left}"

    def assert_recreate_works(self):
        proc = self.create()
        assert proc.returncode == 0, proc.stderr
        assert lo.status_via_state(self.runtime, self.cid) == "created"
        self.assert_clean_after_force_delete()

    def close(self):
        if self._sock is not None:
            self._sock.close()
            # drain any pty master fds the kernel queued for us
        if self._sock_dir:
            for name in os.listdir(self._sock_dir):
                os.unlink(os.path.join(self._sock_dir, name))
            os.rmdir(self._sock_dir)
        lo.kill_marked(self.marker)
        self.runtime.run("delete", "--force", self.cid, timeout=TIMEOUT)


@pytest.fixture
def case_for(runtime, bundle):
    made = []

    def make(point=""):
        c = Case(runtime, bundle, point)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


def _assert_killed(proc, point):
    assert proc.returncode == -signal.SIGKILL, (
        f"{point} was not reached (exit {proc.returncode}): {proc.stderr!r}")


def _assert_status_everywhere(case, expected):
    assert lo.status_via_state(case.runtime, case.cid) in expected
    assert lo.status_via_list(case.runtime, case.cid) in expected


@pytest.mark.parametrize("point", CREATE)
def test_kill_during_create(case_for, point):
    case = case_for(point)
    _assert_killed(case.create(crash_at=point), point)
    expected = {"created"} if point in CREATE_DONE else {"stopped"}
    _assert_status_everywhere(case, expected)
    assert case.runtime.run("state", case.cid).stderr == ""
    case.assert_clean_after_force_delete()
    case.assert_recreate_works()


@pytest.mark.parametrize("point", [p for p in CREATE if p not in CREATE_DONE])
def test_stopped_during_create_is_creating_then_stopped(case_for, point):
    """While the creator lives (here: SIGSTOPped, holding the lock) the
    container is `creating`; once it dies, `stopped`."""
    case = case_for(point)
    argv = case.runtime.argv("create", "--bundle", case.bundle.path, *case.extra, case.cid)
    creator = subprocess.Popen(argv, env=lo.env_with(case.marker, PYRUNC_CRASH_AT=point,
                                                     PYRUNC_CRASH_SIGNAL="SIGSTOP"),
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        info = os.waitid(os.P_PID, creator.pid, os.WSTOPPED | os.WEXITED | os.WNOWAIT)
        assert info.si_code == os.CLD_STOPPED, f"{point} not reached: exit {creator.wait()}"
        _assert_status_everywhere(case, {"creating"})
    finally:
        creator.kill()
        creator.wait(timeout=TIMEOUT)
    _assert_status_everywhere(case, {"stopped"})
    case.assert_clean_after_force_delete()
    case.assert_recreate_works()


# what a second `start` may say once the first was killed
_RESTART_OK = ("", "cannot start an already running container\n",
               "cannot start a container that has stopped\n")


@pytest.mark.parametrize("point", START)
def test_kill_during_start(case_for, point):
    case = case_for(point)
    assert case.create().returncode == 0
    _assert_killed(case.run("start", case.cid, crash_at=point), point)
    # before the fifo is unlinked the container is still `created`; from then
    # on it runs (or, if its release failed with us gone, it stopped)
    expected = {"created"} if point == "start:after-open" else {"running", "stopped"}
    if point == "start:after-unlink":
        expected = {"running"}  # the init still waits, but nobody may start it again
    _assert_status_everywhere(case, expected)
    again = case.run("start", case.cid)  # must answer, never block on the fifo
    assert again.stderr in _RESTART_OK, again.stderr
    assert (again.returncode == 0) == (again.stderr == "")
    if point == "start:after-open":
        assert again.returncode == 0
    case.assert_clean_after_force_delete()
    case.assert_recreate_works()


@pytest.mark.parametrize("started", [False, True], ids=["created", "running"])
@pytest.mark.parametrize("point", DELETE)
def test_kill_during_delete(case_for, point, started):
    case = case_for(point)
    assert case.create().returncode == 0
    if started:
        assert case.run("start", case.cid).returncode == 0
    _assert_killed(case.run("delete", "--force", case.cid, crash_at=point), point)
    before_kill = "running" if started else "created"
    expected = {before_kill} if point == "delete:after-lock" else {"stopped"}
    _assert_status_everywhere(case, expected)
    case.assert_clean_after_force_delete()
    case.assert_recreate_works()


def test_the_leftover_check_sees_what_a_container_holds(case_for):
    """A control: the check the tests above rely on finds a live container's
    state dir, cgroups, and its init both before execve (through the
    runtime's environment) and after (through process.env)."""
    case = case_for()
    assert case.create().returncode == 0
    held = lo.leftovers(case.runtime.root, case.cid, case.marker, case.bundle.path, grace=0)
    assert set(held) == {"state dir", "processes", "cgroups"}, held
    init = case.runtime.state(case.cid)["pid"]
    assert init in held["processes"]
    assert case.run("start", case.cid).returncode == 0
    held = lo.leftovers(case.runtime.root, case.cid, case.marker, case.bundle.path, grace=0)
    assert init in held["processes"]
    with open(f"/proc/{init}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep"  # it exec'd: found by process.env
    case.assert_clean_after_force_delete()
