"""One `criu swrk` session: the way runc talks to CRIU.

pyrunc starts `criu swrk 3` with one end of a SOCK_SEQPACKET socketpair as
its fd 3, sends one criu_req (pyrunc.criu.wire) and reads criu_resp
messages: each NOTIFY (a "script" hook such as post-restore, with a pid) is
handed to the caller's callback and answered; the last response says whether
the request was served. A failure becomes one line: CRIU's first error from
its log, and where the log is.

Place in the flow: called by pyrunc.lifecycle.checkpoint and .restore.
"""
import os

from pyrunc.criu import wire
from pyrunc.errors import CriuError, PyruncError, WireError, describe_oserror

CRIU = "criu"
_MAX_MESSAGE = 1 << 20


def _high(fd):
    """`fd` moved above the stdio and swrk's fd 3, close-on-exec (posix_spawn's dup2 clears it)."""
    import fcntl
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def first_error(log_path):
    """CRIU's first `Error (...)` line in its log, without its timestamp."""
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                if "Error (" in line:
                    return line.split(")", 1)[1].strip() if line.startswith("(") else line.strip()
    except OSError:
        pass
    return None


def run(req, *, log_path=None, stdio=(None, None, None), extra_fds=(), on_start=None, notify=None, what="criu",
        show_log=True):
    """Send `req` (a criu_req dict) to a new `criu swrk`; returns the final
    criu_resp dict. `stdio`: fds for CRIU's 0-2 (None: /dev/null; a restored
    process inherits CRIU's); `extra_fds` become its fds 4, 5, ... (for
    inherit_fd); `on_start(pid)` runs before the request is sent (restore puts
    CRIU in the container's cgroup); `notify(script, pid, fds)` answers each
    notification (raising fails the request); `fds` are those that came with
    it, closed afterwards unless the callback pops them. `show_log`: name the log in
    an error (not when it goes with a state dir the failure removes)."""
    import socket
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    opened = [null]
    try:
        server = _high(child.detach())
        opened.append(server)
        actions = [(os.POSIX_SPAWN_DUP2, server, 3)]
        for i, fd in enumerate(stdio):
            actions.append((os.POSIX_SPAWN_DUP2, null if fd is None else fd, i))
        for i, fd in enumerate(extra_fds):
            high = _high(os.dup(fd))
            opened.append(high)
            actions.append((os.POSIX_SPAWN_DUP2, high, 4 + i))
        try:
            pid = os.posix_spawnp(CRIU, [CRIU, "swrk", "3"], os.environ, file_actions=actions)
        except OSError as exc:
            raise CriuError(f"{what}: cannot run {CRIU}: {describe_oserror(exc)}") from None
    finally:
        for fd in opened:
            os.close(fd)
    try:
        if on_start is not None:
            on_start(pid)
        return _converse(parent, req, notify, log_path, what, show_log)
    finally:
        parent.close()
        _reap(pid)


def _reap(pid):
    import time
    deadline = time.monotonic() + 10
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    if not done:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except OSError:
            pass


def _converse(sock, req, notify, log_path, what, show_log):
    sock.send(wire.encode("criu_req", req))
    failure = None
    while True:
        data, fds = _receive(sock)
        if not data:
            raise CriuError(_failed(what, req, {}, log_path, show_log, "criu exited without an answer"))
        try:
            resp = wire.decode("criu_resp", data)
        except WireError as exc:
            raise CriuError(f"{what}: criu's answer is not a criu_resp: {exc}") from None
        if resp.get("type") != wire.NOTIFY:
            _close(fds)
            break
        note = resp.get("notify") or {}
        ok = True
        try:
            if failure is None and notify is not None:
                # the callback takes the fds it wants (orphan-pts-master's pty
                # master comes with its notification) out of the list
                notify(note.get("script", ""), note.get("pid", 0), fds)
        except PyruncError as exc:
            failure, ok = exc, False
        finally:
            _close(fds)
        sock.send(wire.encode("criu_req", {"type": wire.NOTIFY, "notify_success": ok}))
    if failure is not None:
        raise failure
    if not resp.get("success"):
        raise CriuError(_failed(what, req, resp, log_path, show_log))
    return resp


def _receive(sock):
    """One message and the fds that came with it (SCM_RIGHTS)."""
    import array
    import socket
    space = socket.CMSG_SPACE(16 * array.array("i").itemsize)
    data, ancdata, _flags, _addr = sock.recvmsg(_MAX_MESSAGE, space)
    fds = []
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            got = array.array("i")
            got.frombytes(payload[:len(payload) - len(payload) % got.itemsize])
            fds += list(got)
    return data, fds


def _close(fds):
    while fds:
        try:
            os.close(fds.pop())
        except OSError:
            pass


def _failed(what, req, resp, log_path, show_log, reason=None):
    kind = wire.TYPE_NAMES.get(req.get("type", 0), "?").lower().replace("_", "-")
    if reason is None:
        reason = (log_path and first_error(log_path)) or resp.get("cr_errmsg") \
            or (describe_oserror(OSError(resp["cr_errno"], "")) if resp.get("cr_errno") else "failed")
    where = f" (log: {log_path})" if show_log and log_path and os.path.exists(log_path) else ""
    return f"{what}: criu {kind}: {reason}{where}"
