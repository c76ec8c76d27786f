"""Parent side of SCMP_ACT_NOTIFY: reach the seccomp agent at listenerPath.

Place in the flow: `container` calls `connect_agent()` while preparing a
create/run/exec whose CompiledSeccomp.uses_notify is true, before the first
fork, so "no agent listening" is a create-time error and the child never
needs a host path. The connected socket's fd goes to the child, which sends
the listener fd and `process_state()` on it right after loading the filter
(pyrunc.init.seccomp_agent), then closes it. The parent closes its copy once
the child is forked.
"""
from __future__ import annotations

import contextlib
import os
import socket

from pyrunc.errors import PyruncError, describe_oserror
from pyrunc.init import seccomp_agent

OCI_VERSION = "1.3.0"
_STATE_KEYS = ("ociVersion", "id", "status", "pid", "bundle", "annotations")


def connect_agent(listener_path: str) -> int:
    """A blocking, inheritable unix stream socket connected to the agent."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(listener_path)
    except OSError as exc:
        sock.close()
        raise PyruncError(
            f"seccomp: connect to the agent at {listener_path}: "
            f"{describe_oserror(exc) if exc.errno else exc}") from exc
    sock.set_inheritable(True)
    return sock.detach()


@contextlib.contextmanager
def agent_connection(plan, container_state: dict):
    """Around the fork of a process whose filter uses NOTIFY: connect to the
    agent and yield (socket fd, ContainerProcessState) for the child's
    Context (pyrunc.init.apply_security.load_seccomp); close our copy
    afterwards. (-1, None) for a plan without NOTIFY."""
    compiled = plan.seccomp
    if compiled is None or not compiled.uses_notify:
        yield -1, None
        return
    fd = connect_agent(compiled.listener_path)
    try:
        yield fd, process_state(container_state, compiled.listener_metadata)
    finally:
        os.close(fd)


def process_state(container_state: dict, metadata: str = "", pid: int | None = None) -> dict:
    """The ContainerProcessState (runtime-spec config-linux.md, "seccomp"),
    with `container_state` as its `state` (status creating for a create; an
    exec passes status running and the init's pid, as runc does)."""
    state = {k: v for k, v in container_state.items() if k in _STATE_KEYS}
    if not state.get("pid"):
        state.pop("pid", None)  # not known yet: the child fills in its host pid
    state.setdefault("ociVersion", OCI_VERSION)
    state.setdefault("status", "creating")
    msg = {"ociVersion": OCI_VERSION, "fds": [seccomp_agent.SECCOMP_FD_NAME],
           "metadata": metadata or "", "state": state}
    if pid is not None:
        msg["pid"] = pid
        state["pid"] = pid
    return msg
