"""pyrunc.kernel.cgroup_prepay: the early, moving-nothing write into our own
cgroup.procs that starts the kernel's grace period before create/run/exec
need it. It must find our own cgroup, leave every membership as it was,
never let its fd reach a forked child, and do nothing at all where it
cannot write. Each case runs in a fresh interpreter: start() registers fork
handlers for the rest of the process."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


def _python(code):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.requires("root")
def test_own_procs_file_is_our_cgroup():
    out = _python("""
        import os
        from pyrunc.kernel import cgroup_prepay as prepay
        fd = prepay._own_procs_file()
        print(os.readlink(f"/proc/self/fd/{fd}"))
    """)
    path = out.strip()
    assert path.startswith("/sys/fs/cgroup/") and path.endswith("/cgroup.procs")
    with open(path) as f:
        pids = f.read().split()
    # the writable file of the cgroup the interpreter was in: it listed it
    assert pids, path


@pytest.mark.requires("root")
def test_start_moves_nothing_and_closes_its_fd():
    out = _python("""
        import os, time
        from pyrunc.kernel import cgroup_prepay as prepay
        before = open("/proc/self/cgroup").read()
        prepay.start()
        for _ in range(400):  # the grace period: tens of ms
            if prepay._fd < 0:
                break
            time.sleep(0.01)
        print(prepay._fd)
        print(open("/proc/self/cgroup").read() == before)
        print(any(os.readlink(f"/proc/self/fd/{n}").endswith("cgroup.procs")
                  for n in os.listdir("/proc/self/fd") if n.isdigit() and os.path.islink(f"/proc/self/fd/{n}")))
    """)
    assert out.split() == ["-1", "True", "False"]


@pytest.mark.requires("root")
def test_a_fork_while_the_write_waits_does_not_inherit_the_fd():
    out = _python("""
        import os
        from pyrunc.kernel import cgroup_prepay as prepay
        prepay.start()
        fd = prepay._fd
        pid = os.fork()
        if pid == 0:
            try:
                os.fstat(fd)
                os._exit(1 if os.readlink(f"/proc/self/fd/{fd}").endswith("cgroup.procs") else 0)
            except OSError:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        print(fd >= 0, os.waitstatus_to_exitcode(status))
    """)
    # fd >= 0: the fork came while the write was still pending (when the
    # kernel answered at once there is nothing to check, and that is fine too)
    assert out.split()[1] == "0"


def test_nothing_to_open_means_no_thread(tmp_path):
    out = _python(f"""
        import _thread, os
        from pyrunc.kernel import cgroup_prepay as prepay
        prepay.ROOT = {str(tmp_path)!r}
        started = []
        real = _thread.start_new_thread
        _thread.start_new_thread = lambda *a: started.append(a) or real(*a)
        prepay.start()
        print(prepay._fd, len(started))
    """)
    assert out.split() == ["-1", "0"]


@pytest.mark.parametrize("call,env", [("prepay.start(2)", {}), ("prepay.start()", {"LISTEN_FDS": "1"})])
def test_not_with_fds_the_caller_numbers(call, env):
    """--preserve-fds / LISTEN_FDS name fds 3, 4, ...: an fd of ours could
    take a number the caller named but did not open."""
    import os
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from pyrunc.kernel import cgroup_prepay as prepay
        {call}
        print(prepay._fd)
    """)], capture_output=True, text=True, timeout=60, env=dict(os.environ, **env))
    assert (out.returncode, out.stdout.split()) == (0, ["-1"]), out.stderr
