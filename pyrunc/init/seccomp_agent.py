"""Child side of SCMP_ACT_NOTIFY: hand the seccomp listener fd to the agent.

Place in the flow: right after `security.load_seccomp` loaded a filter with
SECCOMP_FILTER_FLAG_NEW_LISTENER, still in the container's init, before
execve. The parent connected a unix socket to `linux.seccomp.listenerPath`
before the first fork (pyrunc.security.seccomp.notify.connect_agent) — a path lookup
on the host the child could no longer do after pivot_root — and prepared the
ContainerProcessState; here we add our host pid and send it as one message
with the fd attached (SCM_RIGHTS), the way runc does.

Why the child sends it itself: nothing has to wait for the parent, so the
hand-over works before and after `create` returned. The one syscall it
needs, sendmsg, therefore cannot be SCMP_ACT_NOTIFY (the agent would be asked
to approve the message that brings it the fd): pyrunc.security.seccomp.compile refuses that,
as runc refuses NOTIFY on write for the same reason.
"""
import os

from pyrunc import jsonio
from pyrunc.kernel import fdpass

SECCOMP_FD_NAME = "seccompFd"


def message(state, pid):
    """The ContainerProcessState JSON with our pid filled in."""
    msg = dict(state)
    msg.setdefault("ociVersion", "1.3.0")
    msg["fds"] = [SECCOMP_FD_NAME]
    msg["pid"] = pid
    inner = dict(msg.get("state") or {})
    # a create's state is the init's (ours); an exec's keeps the init's pid
    inner.setdefault("pid", pid)
    inner.setdefault("status", "creating")
    msg["state"] = inner
    msg.setdefault("metadata", "")
    return jsonio.dumps(msg).encode()


def send(agent_fd, listener_fd, state, pid=None):
    """sendmsg(state JSON, SCM_RIGHTS [listener_fd]) on the connected socket."""
    fdpass.send_fd(agent_fd, message(state, pid or os.getpid()), listener_fd)  # fds stay the caller's
