"""What a service manager hands to the runtime and expects passed through to
the container, as runc does: socket activation (LISTEN_FDS/LISTEN_PID, with
--preserve-fds after them) and NOTIFY_SOCKET (sd_notify READY= from inside
reaches the caller's socket, with MAINPID = the container's init).
Runs against runc too (PYRUNC_TEST_RUNTIME=runc).
"""
from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from tests import support
from tests.e2e.test_runtime_exec import run_to_file

pytestmark = [pytest.mark.requires("root")]


def _bundle(bundle, cid, args):
    cfg = bundle.config
    cfg["process"]["args"] = args
    cfg["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    bundle.write()


def test_listen_fds_then_preserved_fds(runtime, bundle, tmp_path):
    cid = support.unique_id("act")
    _bundle(bundle, cid, ["sh", "-c", 'echo "$LISTEN_FDS $LISTEN_PID"; echo first >&3; echo second >&4'])
    r3, w3 = os.pipe()
    r4, w4 = os.pipe()
    out = tmp_path / "out.txt"
    # LISTEN_PID must name the runtime itself: sh exports its own pid, then execs it
    argv = ["sh", "-c", 'LISTEN_FDS=1 LISTEN_PID=$$ exec "$@"', "sh",
            *runtime.argv("run", "--preserve-fds", "1", "--bundle", bundle.path, cid)]

    def fds_3_and_4():
        os.dup2(w3, 3)
        os.dup2(w4, 4)

    try:
        with open(out, "w") as f:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                  close_fds=False, preexec_fn=fds_3_and_4, timeout=60)
        os.close(w3)
        os.close(w4)
        w3 = w4 = -1
        assert proc.returncode == 0, out.read_text()
        assert out.read_text() == "1 1\n"  # the container's process is PID 1 there
        assert os.read(r3, 100) == b"first\n"
        assert os.read(r4, 100) == b"second\n"
    finally:
        for fd in (r3, r4, w3, w4):
            if fd >= 0:
                os.close(fd)
        runtime.run("delete", "--force", cid)


def test_listen_fds_for_another_pid_are_not_passed(runtime, bundle, tmp_path):
    cid = support.unique_id("act")
    _bundle(bundle, cid, ["sh", "-c", 'echo "[$LISTEN_FDS]"; ls /proc/self/fd'])
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_PID="1")
    out = tmp_path / "out.txt"
    try:
        with open(out, "w") as f:
            proc = subprocess.run(runtime.argv("run", "--bundle", bundle.path, cid), env=env,
                                  stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                  timeout=60)
        assert proc.returncode == 0, out.read_text()
        lines = out.read_text().split()
        assert lines[0] == "[]"
        assert sorted(int(x) for x in lines[1:]) == [0, 1, 2, 3]  # 3: ls's own dir fd
    finally:
        runtime.run("delete", "--force", cid)


def short_path(sock_path) -> str:
    """A name for a socket that fits an address whatever the tmp directory's
    depth (sun_path holds 108 bytes): through a descriptor of its directory,
    kept open for the test's life."""
    fd = os.open(os.path.dirname(str(sock_path)), os.O_PATH | os.O_DIRECTORY)
    return f"/proc/self/fd/{fd}/{os.path.basename(str(sock_path))}"


def skip_if_runc_cannot_bind(sock_path) -> None:
    """runc 1.1.5 binds its notify socket by its whole path ("bind: invalid
    argument" past 108 bytes); pyrunc binds it through the directory."""
    if support.is_runc() and len(str(sock_path)) >= 108:
        pytest.skip(f"runc binds the notify socket by its full path, {len(str(sock_path))} bytes here: too long")


def test_notify_socket_ready_reaches_the_caller(runtime, bundle, tmp_path):
    cid = support.unique_id("ntf")
    skip_if_runc_cannot_bind(runtime.root / cid / "notify" / "notify.sock")
    _bundle(bundle, cid, ["sh", "-c",
                          'echo "$NOTIFY_SOCKET"; '
                          'while [ ! -S "$NOTIFY_SOCKET" ]; do sleep 0.05; done; echo seen; '
                          'sleep 1000'])
    host_path = tmp_path / "host-notify.sock"
    host = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    host.bind(str(host_path))
    host.settimeout(20)
    env = dict(os.environ, NOTIFY_SOCKET=str(host_path))
    rc, out = run_to_file(runtime, tmp_path, "create", "--bundle", bundle.path, cid, env=env)
    assert rc == 0, out
    starter = None
    try:
        # `start` waits for READY= from the container before it returns
        starter = subprocess.Popen(runtime.argv("start", cid), env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        inner = runtime.root / cid / "notify" / "notify.sock"
        deadline = time.monotonic() + 20
        while not inner.exists():
            assert starter.poll() is None, starter.communicate()
            assert time.monotonic() < deadline, "the runtime never bound its notify socket"
            time.sleep(0.02)
        # what sd_notify inside the container does (busybox has no sender; the
        # socket is the one bind-mounted at $NOTIFY_SOCKET in the container)
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sender.sendto(b"READY=1", short_path(inner))
        sender.close()
        # runc sends READY=1 and then MAINPID=<init> (two datagrams)
        message = host.recv(4096).decode() + host.recv(4096).decode()
        _, err = starter.communicate(timeout=20)
        assert starter.returncode == 0, err
        init_pid = runtime.state(cid)["pid"]
        assert message.splitlines() == ["READY=1", f"MAINPID={init_pid}"]
        # inside: the variable names the mounted socket, and the process saw it
        deadline = time.monotonic() + 10
        while "seen" not in (text := (tmp_path / next(p.name for p in tmp_path.iterdir()
                                                      if p.name.startswith("out-"))).read_text()):
            assert time.monotonic() < deadline, text
            time.sleep(0.05)
        assert text.splitlines()[0] == "/run/notify/notify.sock"
    finally:
        if starter is not None and starter.poll() is None:
            starter.kill()
            starter.wait()
        host.close()
        runtime.run("delete", "--force", cid)


def test_notify_socket_with_foreground_run(runtime, bundle, tmp_path):
    # `run` relays READY= while it waits for the container (runc: a goroutine)
    cid = support.unique_id("ntf")
    skip_if_runc_cannot_bind(runtime.root / cid / "notify" / "notify.sock")
    _bundle(bundle, cid, ["sh", "-c", 'echo "$NOTIFY_SOCKET"; sleep 1000'])
    host_path = tmp_path / "host-notify.sock"
    host = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    host.bind(str(host_path))
    host.settimeout(20)
    env = dict(os.environ, NOTIFY_SOCKET=str(host_path))
    out = tmp_path / "run.out"
    with open(out, "w") as f:
        runner = subprocess.Popen(runtime.argv("run", "--bundle", bundle.path, cid), env=env,
                                  stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
    try:
        inner = runtime.root / cid / "notify" / "notify.sock"
        deadline = time.monotonic() + 20
        while not inner.exists() or out.read_text() == "":
            assert runner.poll() is None, out.read_text()
            assert time.monotonic() < deadline, "the runtime never bound its notify socket"
            time.sleep(0.02)
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sender.sendto(b"READY=1\nSTATUS=up", short_path(inner))
        sender.close()
        message = host.recv(4096).decode() + host.recv(4096).decode()
        # the foreground runtime names itself: it lives and exits with the container
        assert message.splitlines() == ["READY=1", f"MAINPID={runner.pid}"]
        assert runner.poll() is None  # still the container's foreground runner
        runtime.run("kill", cid, "9", check=True)
        assert runner.wait(timeout=20) == 137
        assert out.read_text().splitlines()[0] == "/run/notify/notify.sock"
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        host.close()
        runtime.run("delete", "--force", cid)
