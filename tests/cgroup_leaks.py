"""The end-of-run check of the test cgroup parent (conftest.py): a cgroup of
this session that still holds processes is a leak the suite must report.

Only cgroups named after an id this session issued (support.ISSUED_IDS) are
looked at: other pytest sessions (a developer's, beside CI) share the parent,
and their processes are not ours to kill. Ours are killed by pid, then reported.
"""
from __future__ import annotations

import os
import signal
import time

from tests import support


def parents(base: str, parent: str) -> list[str]:
    """<base>/<parent> on a cgroup v2 host, <base>/<hierarchy>/<parent> on v1/hybrid."""
    found = [os.path.join(base, parent)] if os.path.exists(os.path.join(base, "cgroup.controllers")) else []
    if os.path.isdir(base):
        found += [os.path.join(base, h, parent) for h in sorted(os.listdir(base))]
    return [d for d in found if os.path.isdir(d)]


def remove_empty_parents(base: str, parent: str) -> None:
    """rmdir each of parents() that is empty: the test parent once a bench's
    clients are gone (the suite's session fixture does more for pytest); a
    cgroup someone still uses is never empty, so it stays."""
    for d in parents(base, parent):
        try:
            os.rmdir(d)
        except OSError:
            pass


def _procs(cgroup: str) -> list[int]:
    try:
        with open(os.path.join(cgroup, "cgroup.procs")) as f:
            return [int(line) for line in f.read().split()]
    except OSError:
        return []


def _thaw(cgroup: str) -> None:
    """A frozen process does not die of SIGKILL until thawed."""
    for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
        try:
            with open(os.path.join(cgroup, name), "w") as f:
                f.write(value)
        except OSError:
            pass


def kill_leaked(issued: set[str], base: str = "/sys/fs/cgroup",
                parent: str = support.TEST_CGROUP_PARENT, timeout: float = 5.0) -> list[str]:
    """Kill what is left in this session's test cgroups; one line per leak."""
    leaks = []
    for top in parents(base, parent):
        for dirpath, _dirs, _files in os.walk(top):
            if not issued.intersection(os.path.relpath(dirpath, top).split(os.sep)):
                continue
            pids = _procs(dirpath)
            if not pids:
                continue
            leaks.append(f"{dirpath} still holds pids {pids}")
            _thaw(dirpath)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + timeout
            while _procs(dirpath) and time.monotonic() < deadline:
                time.sleep(0.05)
    return leaks
