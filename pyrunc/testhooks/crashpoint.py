"""Deterministic crash points for the crash-safety tests.

`reached("create:after-cgroup")` SIGKILLs this process when the environment
says PYRUNC_CRASH_AT=create:after-cgroup, so a test can stop pyrunc at each
phase of an operation and then check that `delete --force` finds and removes
everything. PYRUNC_CRASH_SIGNAL=SIGSTOP stops it there instead, so a test can
look at the half-made container while a live pyrunc still holds its lock.
Costs one dict lookup when unset.

The same points are the phases `--debug` reports: the CLI sets `observer`
to its log's debug (pyrunc.log), as runc logs each step of create.
"""
import os

from pyrunc.kernel.cpython import signal

_AT = os.environ.get("PYRUNC_CRASH_AT")
_SIGNAL = signal.SIGSTOP if os.environ.get("PYRUNC_CRASH_SIGNAL") == "SIGSTOP" else signal.SIGKILL


observer = None  # called with each point's name (the CLI's --debug)


def reached(name):
    if observer is not None:
        observer(name)
    if _AT == name:
        os.kill(os.getpid(), _SIGNAL)
