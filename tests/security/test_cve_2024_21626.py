"""CVE-2024-21626 ("Leaky Vessels"): a host directory fd leaked into the
container and used as process.cwd (/proc/self/fd/N) gave the container the
host's filesystem. The runtime must close every fd above stdio (+
--preserve-fds) before execve and refuse a cwd outside the container root.
Here the caller also leaks a host directory fd, as a careless caller does.

How they can fail: Debian's runc 1.1.5 (1.1.5+ds1-1+deb12u1) carries the
fix of 1.1.12 and passes. pyrunc fails the first with its guard `close-fds`
turned off, and the cwd test with three guards off, each of which stops it
alone: `close-fds` (the caller's fds are closed before the cwd is set),
`resolve-in-root` (the missing cwd is made inside the rootfs, where
/proc/self/fd/N may not jump out) and `cwd-check` (test_guards_are_load_bearing.py)."""
from __future__ import annotations

import os

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


def _leaking_caller(tmp_path):
    """A host directory fd at a high number, left inheritable the way a
    careless caller leaks one; the runtime gets it without --preserve-fds."""
    d = tmp_path / "host-dir"
    d.mkdir()
    (d / "host-secret").write_text("HOST-SECRET\n")
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    os.set_inheritable(fd, True)
    return fd


def test_no_host_fd_survives_into_the_container(runtime, bundle, tmp_path):
    # the container's first process is `ls` itself: what it holds besides
    # stdio and its own listing fd came from the runtime or its caller
    leak = _leaking_caller(tmp_path)
    try:
        proc = probe.run(runtime, bundle, args=["ls", "-l", "/proc/self/fd"], pass_fds=(leak,))
    finally:
        os.close(leak)
    assert proc.returncode == 0, proc.stderr
    fds = {}
    for line in proc.stdout.splitlines():
        if " -> " in line:
            left, target = line.split(" -> ", 1)
            fds[int(left.split()[-1])] = target
    extra = {fd: t for fd, t in fds.items() if fd > 2 and not t.startswith("/proc/")}
    assert not extra, f"fds leaked into the container: {extra}"
    assert sorted(fds)[:3] == [0, 1, 2] and len(fds) <= 4, fds


def test_cwd_through_a_leaked_fd_is_refused(runtime, bundle, tmp_path):
    """Every fd number a runtime (or its caller) may leak, one container each;
    from a host cwd, ../../.. reaches the host's root and our marker."""
    marker = tmp_path / "host-secret"
    marker.write_text("HOST-SECRET\n")
    leak = _leaking_caller(tmp_path)
    rel = "../" * 12 + str(marker).lstrip("/")
    seen = {}
    try:
        for fd in sorted(set(range(3, 12)) | {leak}):
            bundle.config["process"]["cwd"] = f"/proc/self/fd/{fd}"
            proc = probe.run(runtime, bundle, pass_fds=(leak,), args=[
                "sh", "-c", f"cat {rel} host-secret 2>/dev/null; readlink /proc/self/cwd"])
            seen[fd] = (proc.returncode, proc.stdout)
    finally:
        os.close(leak)
    for fd, (rc, out) in seen.items():
        assert "HOST-SECRET" not in out, f"cwd /proc/self/fd/{fd} is on the host: {out}"
        if rc == 0:
            # allowed only if the cwd it got is a path inside the container
            assert out.strip().startswith("/") and "host-" not in out, (fd, out)


def test_preserved_fds_are_the_only_extra_ones(runtime, bundle, tmp_path):
    extra = tmp_path / "passed"
    extra.write_text("x")
    fd = os.open(extra, os.O_RDONLY)
    try:
        cid = support.unique_id("pfd")
        probe.prepare(bundle, cid, ["sh", "-c", "ls /proc/self/fd; readlink /proc/self/fd/3"])
        bundle.write()
        # the runtime gets our file as its fd 3 (pytest may own our own fd 3)
        proc = runtime.run("run", "-b", bundle.path, "--preserve-fds", "1", cid, pass_fds=(3,),
                           preexec_fn=lambda: os.dup2(fd, 3))
    finally:
        os.close(fd)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split()
    assert sorted(int(x) for x in lines[:-1])[:4] == [0, 1, 2, 3]
    assert all(int(x) <= 4 for x in lines[:-1])
