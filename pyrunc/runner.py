"""`pyrunc run`: create + start, then (unless detached) stay as the
container's reaper, forward signals to its init, and exit with its status.

pyrunc makes itself a child subreaper before the spawn, so when stage-1 exits
the init is re-parented to us and we can wait for it (runc does the same).
"""
from __future__ import annotations

import os
import signal

from pyrunc import container
from pyrunc.kernel import syscalls as k

# every signal a user may send us goes on to the container
_FORWARD = [s for s in signal.Signals
            if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGTTIN,
                         signal.SIGTTOU, signal.SIGTSTP, signal.SIGSEGV, signal.SIGBUS,
                         signal.SIGFPE, signal.SIGILL, signal.SIGPIPE)]


def run(opts, cid, bundle, *, detach, keep, subreaper=True, **create_args):
    if not detach and subreaper:
        k.set_child_subreaper()
    pid = container.create(opts, cid, bundle, **create_args)
    try:
        container.start(opts, cid)
    except BaseException:
        _cleanup(opts, cid)
        raise
    if detach:
        return 0
    status = _wait(pid)
    if not keep:
        _cleanup(opts, cid)
    return status


def _wait(pid):
    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in _FORWARD:
        try:
            signal.signal(sig, forward)
        except (OSError, ValueError):
            pass
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)  # also reaps orphans re-parented to us
        except ChildProcessError:
            return 0
        if reaped == pid:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.WEXITSTATUS(status)


def _cleanup(opts, cid):
    try:
        container.delete(opts, cid, force=True)
    except Exception as exc:  # the run's own status matters more; say why cleanup failed
        opts.log.warn(f"delete {cid}: {exc}")
