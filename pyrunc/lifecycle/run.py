"""`pyrunc run`: create + start, then (unless detached) stay as the
container's reaper, forward signals to its init, and exit with its status.

pyrunc makes itself a child subreaper before the spawn, so when stage-1 exits
the init is re-parented to us and we can wait for it (runc does the same).
With process.terminal and no --console-socket, we are the console: the init
sends the pty master over a socketpair and we copy it to and from our stdio.
"""
from __future__ import annotations

import os
import select

import _prctl  # python-prctl's C module: the subreaper bit (the child loads it too)

from pyrunc.lifecycle import create, delete, start
from pyrunc.kernel import fdpass
from pyrunc.kernel.cpython import signal, socket
from pyrunc.kernel.signals import NUMBERS

# every signal a user may send us goes on to the container
FORWARD = [s for s in sorted(set(NUMBERS.values()))
            if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGTTIN,
                         signal.SIGTTOU, signal.SIGTSTP, signal.SIGSEGV, signal.SIGBUS,
                         signal.SIGFPE, signal.SIGILL, signal.SIGPIPE, signal.SIGWINCH)]


def run(opts, cid, bundle, *, detach, keep, subreaper=True, console_socket=None, **create_args):
    if not detach:
        # even with --no-subreaper: stage-1 exits and the init must be
        # re-parented to us, or its exit status is lost (runc gets the same
        # with CLONE_PARENT); we stop being a subreaper once it is ours
        _prctl.prctl(_prctl.PR_SET_CHILD_SUBREAPER, 1)
    ours = theirs = None
    if not detach and not console_socket:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        pid = create.create(opts, cid, bundle, console_socket=console_socket,
                               console_fd=theirs.fileno() if theirs else -1, **create_args)
    finally:
        if theirs is not None:
            theirs.close()
        if not detach and not subreaper:
            _prctl.prctl(_prctl.PR_SET_CHILD_SUBREAPER, 0)
    master = receive_master(ours) if ours is not None else None
    if not detach:
        # before start: a signal that arrives while start runs must reach the
        # container, not kill us and orphan it
        forward_signals(pid)
    try:
        start.start(opts, cid, notify_in_background=not detach)
    except BaseException:
        cleanup(opts, cid)
        raise
    if detach:
        return 0
    status = wait(pid, master)
    if not keep:
        cleanup(opts, cid)
    return status


def receive_master(sock):
    """The pty master, if the init sent one (it does so before `ready`)."""
    sock.setblocking(False)
    try:
        _msg, master = fdpass.recv_fd(sock)
    except (BlockingIOError, OSError):
        master = None
    finally:
        sock.close()
    return master


def forward_signals(pid):
    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in FORWARD:
        try:
            signal.signal(sig, forward)
        except (OSError, ValueError):
            pass


def wait(pid, master):
    """Wait for pid (proxying the pty master if any); its exit status the runc way."""
    if master is not None:
        _proxy(pid, master)
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)  # also reaps orphans re-parented to us
        except ChildProcessError:
            return 0
        if reaped == pid:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status)


def _proxy(pid, master):
    """Copy stdin -> pty and pty -> stdout until the init exits."""
    import termios
    import tty

    saved = None
    if os.isatty(0):
        saved = termios.tcgetattr(0)
        tty.setraw(0)
        # raw input, but output processing stays (containerd/console's raw
        # mode, runc's): our terminal turns "\n" into "\r\n", not the pty,
        # whose ONLCR is off (init/console.py): piped stdout gets plain "\n"
        raw = termios.tcgetattr(0)
        raw[1] |= termios.OPOST
        termios.tcsetattr(0, termios.TCSANOW, raw)
        _copy_size(master)
        signal.signal(signal.SIGWINCH, lambda *_: _copy_size(master))
    pidfd = os.pidfd_open(pid)
    inputs = [master, pidfd, 0]
    try:
        while True:
            ready, _, _ = select.select(inputs, [], [])
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every slave fd closed
                    data = b""
                if not data:
                    inputs.remove(master)
                else:
                    _write_all(1, data)
            if 0 in ready:
                data = os.read(0, 65536)
                if data:
                    _write_all(master, data)
                else:
                    inputs.remove(0)
            if pidfd in ready:
                _drain(master)
                return
            if master not in inputs and 0 not in inputs:
                select.select([pidfd], [], [])
                return
    finally:
        os.close(pidfd)
        os.close(master)
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)


def _copy_size(master):
    import fcntl
    import termios
    try:
        size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def _drain(master):
    os.set_blocking(master, False)
    while True:
        try:
            data = os.read(master, 65536)
        except (BlockingIOError, OSError):
            return
        if not data:
            return
        _write_all(1, data)


def _write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


def cleanup(opts, cid):
    try:
        delete.delete(opts, cid, force=True)
    except Exception as exc:  # the run's own status matters more; say why cleanup failed
        opts.log.warn(f"delete {cid}: {exc}")
