"""CVE-2024-21626 ("Leaky Vessels"): a host directory fd leaked into the
container and used as process.cwd (/proc/self/fd/N) gave the container the
host's filesystem. The runtime must close every fd above stdio (+
--preserve-fds) before execve and refuse a cwd outside the container root."""
from __future__ import annotations

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


def test_no_host_fd_survives_into_the_container(runtime, bundle):
    # the container's first process is `ls` itself: what it holds besides
    # stdio and its own listing fd came from the runtime
    proc = probe.run(runtime, bundle, args=["ls", "-l", "/proc/self/fd"])
    assert proc.returncode == 0, proc.stderr
    fds = {}
    for line in proc.stdout.splitlines():
        if " -> " in line:
            left, target = line.split(" -> ", 1)
            fds[int(left.split()[-1])] = target
    extra = {fd: t for fd, t in fds.items() if fd > 2 and not t.startswith("/proc/")}
    assert not extra, f"fds leaked into the container: {extra}"
    assert sorted(fds)[:3] == [0, 1, 2] and len(fds) <= 4, fds


@pytest.mark.parametrize("fd", range(3, 12))
def test_cwd_through_a_leaked_fd_is_refused(runtime, bundle, tmp_path, fd):
    marker = tmp_path / "host-secret"
    marker.write_text("HOST-SECRET\n")
    bundle.config["process"]["cwd"] = f"/proc/self/fd/{fd}"
    # from a host cwd, ../../.. would reach the host's root and our marker
    rel = "../" * 12 + str(marker).lstrip("/")
    proc = probe.run(runtime, bundle, args=["sh", "-c", f"cat {rel} 2>/dev/null; readlink /proc/self/cwd"])
    assert "HOST-SECRET" not in proc.stdout
    if proc.returncode == 0:
        # allowed only if the cwd it got is a path inside the container
        assert proc.stdout.strip().startswith("/") and "host-secret" not in proc.stdout


def test_preserved_fds_are_the_only_extra_ones(runtime, bundle, tmp_path):
    import os
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
