"""`start`: release a created container's init through its exec fifo.

Place in the flow: after `create`; the init is blocked opening the fifo.
start() unlinks and opens it (the init's open returns, it runs the
startContainer hooks and execs) and runs the poststart hooks; with
NOTIFY_SOCKET it then relays the container's READY (pyrunc.lifecycle.notify).
"""

import posix  # not os: the hot verbs never load it (pyrunc/kernel/posixos.py)

from pyrunc.errors import HookError, InvalidState, PyruncError
from pyrunc.lifecycle import load, run_hooks, state_for_hooks, status_of
from pyrunc.store import status as st
from pyrunc.testhooks import reached
from pyrunc.kernel import posixos


def start(opts, cid, *, notify_in_background=False):
    cdir, record = load(opts, cid)
    with cdir:
        status = status_of(cdir, record)
        st.require("start", status)
        listener = None
        if posixos.getenv("NOTIFY_SOCKET"):  # else bind() is a no-op: skip importing socket
            from pyrunc.lifecycle import notify as notify_socket
            listener = notify_socket.bind(cdir.path)  # before the release: READY may come at once
        release(cdir, record)
        reached("start:after-release")
        # no state write: a record's status matters only while `creating`
        # (pyrunc.store.status derives the rest from the fifo and the pid)
        try:
            run_hooks("poststart", (record.get("hooks") or {}).get("poststart"),
                       state_for_hooks(record, st.RUNNING))
        except HookError as exc:
            opts.log.warn(str(exc))
    if listener is not None:  # outside the lock: waiting for READY may take long
        if notify_in_background:  # foreground `run`: it must go on to wait/proxy
            notify_socket.forward_in_background(listener, record["pid"])
        else:
            notify_socket.forward(listener, record["pid"])


def release(cdir, record):
    """Open the exec fifo: the init's blocked open returns, it writes "0", runs
    startContainer hooks, and execs (EOF), or writes "E<message>" on failure.
    The init's pidfd is watched too: a dead init is an error, not a hang."""
    pid = record["pid"]
    try:
        handle = posix.open(cdir.fifo_path, posix.O_PATH | posix.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidState("cannot start an already running container") from None
    reached("start:after-open")
    # unlink before opening for reading (which releases the init): if we die
    # from here on, the container is never again seen as `created` while it
    # runs, and a second `start` cannot block on a fifo nobody will write
    posix.unlink(cdir.fifo_path)
    reached("start:after-unlink")
    # the pidfd before the release: once released, the init may exec, exit and
    # be reaped by a subreaper (a shim) before we look, and pidfd_open would
    # then call a container that ran fine "exited before start"
    try:
        pidfd = posix.pidfd_open(pid)
    except ProcessLookupError:
        posix.close(handle)
        raise PyruncError(f"container {record['id']}: init process exited before start") from None
    try:
        fifo = posix.open(f"/proc/self/fd/{handle}", posix.O_RDONLY | posix.O_NONBLOCK | posix.O_CLOEXEC)
    except BaseException:
        posix.close(pidfd)
        raise
    finally:
        posix.close(handle)
    reached("start:after-reopen")
    data = b""
    import select  # start only
    try:
        poller = select.poll()
        poller.register(fifo, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        while True:
            events = dict(poller.poll())
            if fifo in events:
                chunk = _read_all(fifo)
                data += chunk
                if events[fifo] & select.POLLHUP and (data or not chunk):
                    break  # the init closed its end: execve happened, or it failed
            if pidfd in events:
                data += _read_all(fifo)
                break
    finally:
        posix.close(fifo)
        posix.close(pidfd)
    if b"E" in data:
        msg = data[data.index(b"E") + 1:].decode(errors="replace")
        raise PyruncError(f"container {record['id']}: {msg}")
    if data[:1] != b"0":
        # the init holds no fd of the state dir (a created init keeps only its
        # fifo), so an init that died before `start` leaves no reason behind
        raise PyruncError(f"container {record['id']}: init process exited before start")


def _read_all(fd):
    out = b""
    while True:
        try:
            chunk = posix.read(fd, 4096)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk
