"""The ContainerProcessState pyrunc sends with a seccomp listener fd
(runtime-spec config-linux.md "seccomp"; runc's shape), and the parent's
connection helper."""
from __future__ import annotations

import json
import os
import socket
from types import SimpleNamespace

import pytest

from pyrunc.security.seccomp import notify as seccomp_notify
from pyrunc.errors import PyruncError
from pyrunc.init import seccomp_agent
from pyrunc.security.seccomp.compile import compile_seccomp


def test_create_state_gets_the_inits_pid_from_the_child():
    state = seccomp_notify.process_state({"ociVersion": "1.3.0", "id": "c", "status": "creating",
                                          "pid": 0, "bundle": "/b", "annotations": {"a": "1"},
                                          "extra": "dropped"}, "meta")
    msg = json.loads(seccomp_agent.message(state, 4242))
    assert msg == {"ociVersion": "1.3.0", "fds": ["seccompFd"], "metadata": "meta", "pid": 4242,
                   "state": {"ociVersion": "1.3.0", "id": "c", "status": "creating", "pid": 4242,
                             "bundle": "/b", "annotations": {"a": "1"}}}


def test_exec_state_keeps_the_init_pid():
    state = seccomp_notify.process_state({"id": "c", "status": "running", "pid": 17, "bundle": "/b"})
    msg = json.loads(seccomp_agent.message(state, 99))
    assert msg["pid"] == 99 and msg["state"]["pid"] == 17 and msg["state"]["status"] == "running"


def test_send_passes_the_fd(tmp_path):
    a, b = socket.socketpair()
    r, w = os.pipe()
    try:
        seccomp_agent.send(a.fileno(), r, {"state": {"id": "x"}}, pid=5)
        msg, fds, _, _ = socket.recv_fds(b, 4096, 1)
        assert json.loads(msg)["pid"] == 5 and len(fds) == 1
        os.write(w, b"!")
        assert os.read(fds[0], 1) == b"!"  # the same pipe
        os.close(fds[0])
        os.fstat(a.fileno())  # the caller's fd is still open
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()


def test_agent_connection_is_a_no_op_without_notify():
    plan = SimpleNamespace(seccomp=compile_seccomp({"defaultAction": "SCMP_ACT_ALLOW",
                                                    "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]}))
    with seccomp_notify.agent_connection(plan, {}) as (fd, state):
        assert fd == -1 and state is None


def test_agent_connection_connects_and_closes(tmp_path):
    path = str(tmp_path / "a.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    plan = SimpleNamespace(seccomp=compile_seccomp({
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path, "listenerMetadata": "m",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}))
    try:
        with seccomp_notify.agent_connection(plan, {"id": "c", "status": "creating"}) as (fd, state):
            assert fd >= 0 and os.get_inheritable(fd)
            assert state["metadata"] == "m"
        with pytest.raises(OSError):
            os.fstat(fd)
    finally:
        server.close()


def test_no_agent_is_one_line(tmp_path):
    plan = SimpleNamespace(seccomp=compile_seccomp({
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(tmp_path / "none.sock"),
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}))
    with pytest.raises(PyruncError) as exc:
        with seccomp_notify.agent_connection(plan, {}):
            pass
    assert str(exc.value) == f"seccomp: connect to the agent at {tmp_path / 'none.sock'}: no such file or directory"
