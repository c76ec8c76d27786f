"""pyrunc.kernel.cgroup_prepay: the early, moving-nothing write into our own
cgroup.procs that starts the kernel's grace period before create/run/exec
need it. It must find our own cgroup, leave every membership as it was,
keep every fork single-threaded (the writer is joined first), and do
nothing at all where it must not. Each case runs in a fresh interpreter:
start() registers a fork hook for the rest of the process."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest


def _python(code, env=None):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, **(env or {})))
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.requires("root")
def test_own_procs_file_is_our_cgroup():
    out = _python("""
        import os
        from pyrunc.kernel import cgroup_prepay as prepay
        fd = prepay.own_procs_file()
        path = os.readlink(f"/proc/self/fd/{fd}")
        print(path, str(os.getpid()) in open(path).read().split())
    """)
    assert out[0].startswith("/sys/fs/cgroup/") and out[0].endswith("/cgroup.procs")
    assert out[1] == "True"  # the file of the cgroup the interpreter is in


_FDS = """
        def procs_fds():
            return sum(os.readlink(f"/proc/self/fd/{n}").endswith("cgroup.procs")
                       for n in os.listdir("/proc/self/fd") if os.path.islink(f"/proc/self/fd/{n}"))
"""


@pytest.mark.requires("root")
def test_the_write_moves_nothing_and_join_leaves_one_thread():
    out = _python("""
        import os
        from pyrunc.kernel import cgroup_prepay as prepay""" + _FDS + """
        before = open("/proc/self/cgroup").read()
        prepay.start()
        prepay.join()
        print(open("/proc/self/cgroup").read() == before, len(os.listdir("/proc/self/task")),
              procs_fds(), prepay.pending())
    """)
    assert out == ["True", "1", "0", "False"]


@pytest.mark.requires("root")
def test_a_fork_waits_for_the_writer():
    """ARCHITECTURE principle 2: the child of any fork has one thread and no
    fd of the writer's, however soon after start() the fork comes."""
    out = _python("""
        import os
        from pyrunc.kernel import cgroup_prepay as prepay""" + _FDS + """
        prepay.start()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(w, b"%d %d" % (len(os.listdir("/proc/self/task")), procs_fds()))
            os._exit(0)
        os.waitpid(pid, 0)
        print(os.read(r, 64).decode(), len(os.listdir("/proc/self/task")), prepay.pending())
    """)
    assert out == ["1", "0", "1", "False"]


def test_nothing_to_open_means_no_thread(tmp_path):
    out = _python(f"""
        import os
        from pyrunc.kernel import cgroup_prepay as prepay
        prepay.ROOT = {str(tmp_path)!r}
        prepay.own_procs_file = lambda: None  # as on a host without a writable cgroupfs
        prepay.start()
        print(prepay.pending(), prepay.started(), len(os.listdir("/proc/self/task")))
    """)
    assert out == ["False", "False", "1"]


@pytest.mark.parametrize("call,env", [("prepay.start(2)", {}), ("prepay.start()", {"LISTEN_FDS": "1"})])
def test_not_with_fds_the_caller_numbers(call, env):
    """--preserve-fds / LISTEN_FDS name fds 3, 4, ...: an fd of ours could
    take a number the caller named but did not open."""
    assert _python(f"""
        from pyrunc.kernel import cgroup_prepay as prepay
        {call}
        print(prepay.started())
    """, env) == ["False"]
