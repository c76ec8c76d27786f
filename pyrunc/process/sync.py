"""The sync protocol between pyrunc (parent) and the container's stage-1 and
stage-2 (init) processes, over one SOCK_SEQPACKET socketpair.

Each message is one JSON object {"t": TYPE, ...}; SEQPACKET keeps message
boundaries, and an EOF (b"") means the peer died. The step numbers appear as
comments on both sides (spawn.py, init/stage1.py, init/stage2.py).

  step  direction          type         meaning
  1     parent -> stage1   go           stage-1 is in its cgroup: go on
  2     stage1 -> parent   idmap        user namespace unshared: write uid/gid maps
  3     parent -> stage1   idmap-done   maps written
  4     stage1 -> parent   pid          stage-2 forked {"pid": host pid}; stage-1 exits,
                                        and only then may stage-2 speak (it waits
                                        for EOF on a pipe from stage-1)
  5     stage2 -> parent   hooks        mounts done, before pivot_root: run prestart
                                        and createRuntime hooks (only if there are any)
  6     parent -> stage2   hooks-done
  7     stage2 -> parent   ready        init waits on the exec fifo; create may return
  *     child  -> parent   error        {"msg": "..."}; the child exits 1

Import-light: both sides use it, the child between fork and exec.
"""
import os

from pyrunc import jsonio
from pyrunc.errors import ChildFailed, PeerGone, describe_oserror
from pyrunc.kernel.cpython import socket

GO = "go"
IDMAP = "idmap"
IDMAP_DONE = "idmap-done"
PID = "pid"
HOOKS = "hooks"
HOOKS_DONE = "hooks-done"
READY = "ready"
ERROR = "error"

MAX_MESSAGE = 65536


def pair():
    """(parent end, child end); the parent's end is close-on-exec."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    return a, b


def send(sock, kind, **fields):
    fields["t"] = kind
    sock.send(jsonio.dumps(fields).encode())


def recv(sock):
    data = sock.recv(MAX_MESSAGE)
    if not data:
        raise PeerGone()
    return jsonio.loads(data)


def expect(sock, kind):
    """Receive one message of `kind`; an error message or EOF becomes an exception."""
    msg = recv(sock)
    if msg.get("t") == kind:
        return msg
    if msg.get("t") == ERROR:
        raise ChildFailed(msg.get("msg", "unknown error"))
    raise ChildFailed(f"sync: expected {kind}, got {msg.get('t')}")


def report_error(sock, message):
    try:
        send(sock, ERROR, msg=message)
    except OSError:
        pass


def child_fail(sock, exc):
    """In the child: send `exc` as one message and exit without cleanup handlers."""
    report_error(sock, describe(exc))
    os._exit(1)


def describe(exc):
    """A child's unworded failure as `<path>: <op>: <reason>`, in runc's lower case."""
    if isinstance(exc, OSError):
        # pyrunc.kernel's wrappers already put the operation into strerror
        text = exc.strerror if exc.strerror and ": " in exc.strerror else describe_oserror(exc)
        return f"{exc.filename}: {text}" if exc.filename else text
    return str(exc) or exc.__class__.__name__
