"""The realtime cpu budget of v1 parents that pyrunc made (CONFIG_RT_GROUP_SCHED).

A cgroup's cpu.rt_runtime_us may only be raised while every ancestor's budget
covers the sum of its children's (the kernel compares runtime/period ratios),
and a new cgroup starts with 0. So a container asking for realtimeRuntime
under a parent pyrunc made (the default `pyrunc` parent, or one its create
made) failed with EINVAL. Before the leaf's write, `grant` raises those
parents' budgets, top-down, just enough; `release` lowers them again when a
container goes (the v1 driver calls both). A parent pyrunc did not make is
never touched: the kernel's EINVAL then stands, as it does for runc, and
`explained` says which parent lacks the room.
"""

import errno
import os

from pyrunc.cgroups import fsio
from pyrunc.errors import CgroupError

_RUNTIME = "cpu.rt_runtime_us"
_PERIOD = "cpu.rt_period_us"


def _ratio_runtime(runtime: int, period: int, to_period: int) -> int:
    """`runtime` per `period` expressed per `to_period`, rounded up."""
    if runtime < 0:  # RUNTIME_INF: the whole period
        return to_period
    return -(-runtime * to_period // period)


def _read(d: str, name: str) -> int:
    return fsio.read_int(d, name, 0)


def _children_need(d: str, period: int, skip: str | None = None) -> int:
    total = 0
    try:
        entries = [e.path for e in os.scandir(d) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return 0
    for child in entries:
        if child != skip:
            total += _ratio_runtime(_read(child, _RUNTIME), _read(child, _PERIOD) or period, period)
    return total


def grant(leaf: str, runtime: int, period: int, owned) -> None:
    """Make room for `runtime`/`period` in `leaf`: raise the budgets of the
    parents in `owned` (absolute directories) between it and the first parent
    that already has room. No-op where the kernel has no rt group scheduling."""
    if runtime <= 0 or not os.path.exists(os.path.join(os.path.dirname(leaf), _RUNTIME)):
        return
    owned = set(owned)
    raises: list[tuple[str, int]] = []
    child, child_need, child_period = leaf, runtime, period
    parent = os.path.dirname(leaf)
    while parent in owned:
        p_period = _read(parent, _PERIOD)
        if not p_period:
            break
        need = _children_need(parent, p_period, skip=child) + _ratio_runtime(child_need, child_period, p_period)
        if need <= _read(parent, _RUNTIME):
            break
        raises.append((parent, need))
        child, child_need, child_period = parent, need, p_period
        parent = os.path.dirname(parent)
    for d, need in reversed(raises):  # top-down: each parent's room first
        fsio.write(d, _RUNTIME, str(need), "cpu")


def release(parents) -> None:
    """Lower the budgets of pyrunc's remaining parents to what their children
    still hold, deepest first, so a container's budget goes back to the pool."""
    for d in sorted(parents, key=lambda p: -p.count("/")):
        if not os.path.exists(os.path.join(d, _RUNTIME)):
            continue
        period = _read(d, _PERIOD)
        need = _children_need(d, period) if period else 0
        if need < _read(d, _RUNTIME):
            try:
                fsio.write(d, _RUNTIME, str(need), "cpu")
            except CgroupError:
                pass  # a budget left high is harmless; delete goes on


class explained:
    """Adds to an EINVAL from a realtime write which parent lacks the room."""

    def __init__(self, leaf: str, owned):
        self.leaf = leaf
        self.owned = set(owned)

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if not isinstance(exc, CgroupError) or _RUNTIME not in str(exc) \
                or getattr(exc.__cause__, "errno", None) != errno.EINVAL:
            return False
        d = os.path.dirname(self.leaf)
        while d in self.owned:
            d = os.path.dirname(d)  # the nearest parent pyrunc may not raise
        raise CgroupError(f"{exc} (the parent cgroup {d} has a realtime budget of {_read(d, _RUNTIME)} us "
                          f"per {_read(d, _PERIOD)} us; pyrunc raises only the parents it made)") from exc.__cause__
