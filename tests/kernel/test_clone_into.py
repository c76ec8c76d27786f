"""pyrunc.kernel.clone_into on the real kernel: a child forked straight into
a cgroup2 directory, a single-threaded process moving itself into a v1
hierarchy, the refusals that send create back to fork + cgroup.procs, and
CPython still whole after each (its fork protocol ran). Each case runs in a
fresh interpreter: fork_into refuses a process with threads, and pytest's
may have some. Cgroups live under pyrunc-test-clone-<uuid> and are removed."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import pytest

pytestmark = pytest.mark.requires("root")

UNIFIED = "/sys/fs/cgroup/unified" if os.path.exists("/sys/fs/cgroup/unified/cgroup.procs") else "/sys/fs/cgroup"


def _python(code):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=60, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert out.returncode == 0, out.stderr
    return out.stdout.split("\n")


@pytest.fixture
def cgroup_dir():
    made = []

    def make(mount):
        d = f"{mount}/pyrunc-test-clone-{uuid.uuid4().hex[:8]}"
        os.mkdir(d)
        made.append(d)
        return d
    yield make
    for d in made:
        try:
            os.rmdir(d)
        except OSError:
            pass


@pytest.mark.skipif(not os.path.exists(f"{UNIFIED}/cgroup.subtree_control"), reason="no cgroup2 hierarchy here")
def test_fork_into_a_cgroup2_dir_places_the_child_at_birth(cgroup_dir):
    d = cgroup_dir(UNIFIED)
    rel = d[len(UNIFIED):]
    out = _python(f"""
        import os, threading
        from pyrunc.kernel import clone_into
        pid = clone_into.fork_into({d!r})
        if pid == 0:
            line = [x for x in open("/proc/self/cgroup").read().split() if x.startswith("0::")][0]
            t = threading.Thread(target=print, args=(line,), kwargs={{"flush": True}})
            t.start()  # CPython's threads work in the child
            t.join()
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        import json  # the import lock was released in the parent
        print("parent", os.waitstatus_to_exitcode(status), len(os.listdir("/proc/self/task")))
    """)
    assert f"0::{rel}" in out
    assert "parent 0 1" in out
    with open(f"{d}/cgroup.procs") as f:
        assert f.read() == ""  # the child is gone: nothing left in the cgroup


def test_fork_into_refusals_raise_and_leave_the_interpreter_whole(tmp_path):
    out = _python(f"""
        import os, threading
        from pyrunc.kernel import clone_into
        for where in ({str(tmp_path)!r}, "/proc"):
            try:
                clone_into.fork_into(where)
            except OSError as exc:
                print("refused", where, exc.errno)
        t = threading.Thread(target=lambda: None); t.start(); t.join()
        print("threads", threading.active_count())
    """)
    assert f"refused {tmp_path} 9" in out  # EBADF: not a cgroup2 directory
    assert "refused /proc 9" in out
    assert "threads 1" in out


def test_fork_into_refuses_a_process_with_threads(tmp_path):
    out = _python("""
        import threading, time
        from pyrunc.kernel import clone_into
        stop = threading.Event()
        t = threading.Thread(target=stop.wait); t.start()
        try:
            clone_into.fork_into("/sys/fs/cgroup")
        except OSError as exc:
            print("refused", "threads" in str(exc))
        stop.set(); t.join()
    """)
    assert "refused True" in out


@pytest.mark.requires("cgroup_v1")
def test_join_v1_moves_a_single_threaded_process_itself(cgroup_dir):
    d = cgroup_dir("/sys/fs/cgroup/pids")
    out = _python(f"""
        import os
        from pyrunc.kernel import clone_into
        from pyrunc.errors import CgroupError
        pid = os.fork()
        if pid == 0:
            clone_into.join_v1((("pids", {d!r} + "/tasks", True),))
            print("child", [x for x in open("/proc/self/cgroup").read().split() if ":pids:" in x][0], flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        clone_into.join_v1((("name=systemd", "/nonexistent/tasks", False),))  # not required: ignored
        try:
            clone_into.join_v1((("pids", "/nonexistent/tasks", True),))
        except CgroupError as exc:
            print("error", exc)
    """)
    assert any(x.startswith("child ") and x.endswith(f":pids:{d[len('/sys/fs/cgroup/pids'):]}") for x in out), out
    assert "error cgroup pids: write tasks=0: no such file or directory" in out


def test_free_follows_this_kernel_and_user():
    release = os.uname().release.split(".")
    expected = os.geteuid() == 0 and (int(release[0]), int("".join(c for c in release[1] if c.isdigit()))) >= (6, 0)
    from pyrunc.kernel import clone_into
    assert clone_into.free() is expected
