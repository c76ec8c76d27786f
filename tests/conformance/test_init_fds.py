"""What a created (not yet started) container's init holds open, seen from
the host in /proc/<init>/fd: stdio, the --preserve-fds ones, the exec fifo,
nothing else of the caller or the host (runc's init holds its exec fifo and
its Go runtime's own epoll and pipe). Whatever the init holds until `start`
is reachable there through /proc/<pid>/fd by anyone who may ptrace it."""
from __future__ import annotations

import os
import subprocess

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


def _ident(st):
    return (st.st_dev, st.st_ino)


def test_created_init_holds_only_stdio_preserved_fds_and_the_fifo(runtime, bundle, tmp_path):
    cid = support.unique_id("fds")
    probe.prepare(bundle, cid, ["sleep", "30"])
    bundle.write()
    preserved = tmp_path / "preserved"
    preserved.write_text("x")
    # what a careless caller leaves inheritable: a host directory, /dev/null,
    # a pipe; none of it is passed with --preserve-fds
    pfd = os.open(preserved, os.O_RDONLY)
    dfd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    nfd = os.open("/dev/null", os.O_RDONLY)
    r, w = os.pipe()
    leaked = {dfd: tmp_path, nfd: "/dev/null", r: "pipe (read)", w: "pipe (write)"}
    try:
        # the runtime gets `preserved` as its fd 3 (pytest may own our own 3)
        # (stdio to files: the init holds them until it execs)
        with open(tmp_path / "stderr", "w+") as err:
            proc = runtime.run("create", "-b", bundle.path, "--preserve-fds", "1", cid,
                               capture_output=False, stdout=subprocess.DEVNULL, stderr=err,
                               pass_fds=(3, *leaked), preexec_fn=lambda: os.dup2(pfd, 3),
                               env=probe.runtime_env(("create", cid)))
        assert proc.returncode == 0, (tmp_path / "stderr").read_text()
        pid = runtime.state(cid)["pid"]
        held = {}
        for name in os.listdir(f"/proc/{pid}/fd"):
            fd = int(name)
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
            try:
                ident = _ident(os.stat(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                ident = None
            held[fd] = (link, ident)
        theirs = {_ident(os.fstat(fd)): what for fd, what in leaked.items()}
        state_dir = _ident(os.stat(runtime.root / cid))
    finally:
        for fd in (pfd, *leaked):
            os.close(fd)
        runtime.run("delete", "--force", cid)
    assert held[3][1] == _ident(preserved.stat()), f"--preserve-fds 1 lost fd 3: {held}"
    extra = {fd: v for fd, v in held.items() if fd > 3}
    bad = {fd: link for fd, (link, ident) in extra.items()
           if ident in theirs or ident == state_dir or link.startswith("/")
           and not link.endswith("/exec.fifo")}
    assert not bad, f"the created init holds {bad} (all: {held})"
