"""Socket activation (sd_listen_fds) passed on to the container, as runc does.

When systemd (or any activator) started pyrunc with LISTEN_FDS=n and
LISTEN_PID=<our pid>, fds 3..3+n-1 are listening sockets meant for the
service: create/run keeps them open across the container's execve (before
any --preserve-fds ones, which then follow them) and sets LISTEN_FDS=n and
LISTEN_PID=1 in the container's environment, since the container's process
is PID 1 there. With LISTEN_PID naming another process the fds are not ours
and nothing is passed. Parent-side; import-light.
"""
from __future__ import annotations

import os


def listen_fds(environ=None, pid=None) -> int:
    """How many activation fds were handed to this process (0 if none)."""
    env = os.environ if environ is None else environ
    count = env.get("LISTEN_FDS")
    if not count:
        return 0
    try:
        n = int(count)
        owner = int(env.get("LISTEN_PID", ""))
    except ValueError:
        return 0
    if n <= 0 or owner != (os.getpid() if pid is None else pid):
        return 0
    return n


def passed(environ=None, pid=None) -> tuple[int, tuple]:
    """(n, env entries): the activation fds to keep (the plan's preserve_fds
    counts them, before any --preserve-fds ones) and what the container's
    environment gets; (0, ()) when nothing was handed to us."""
    n = listen_fds(environ, pid)
    if not n:
        return 0, ()
    return n, (f"LISTEN_FDS={n}", "LISTEN_PID=1")
