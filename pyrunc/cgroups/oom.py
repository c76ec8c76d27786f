"""OOM notification for `events`: a waitable source per driver.

v1: an eventfd registered on memory.oom_control through cgroup.event_control
(what runc's NotifyOOM does); the kernel also signals it when the cgroup is
removed, which is how `events` learns to stop. v2 (and v1 without
event_control): memory.events is polled for a growing `oom`/`oom_kill` count.
"""
from __future__ import annotations

import os
import select

from pyrunc.cgroups import fsio


class OOMWatch:
    def __init__(self, mgr):
        self.mgr = mgr
        self.efd = -1
        self.last = self._count()
        mem = mgr.paths.get("memory")
        if mem and fsio.exists(mem, "cgroup.event_control") and hasattr(os, "eventfd"):
            try:
                self.efd = os.eventfd(0, os.EFD_CLOEXEC)
                ofd = os.open(os.path.join(mem, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
                try:
                    fsio.write(mem, "cgroup.event_control", f"{self.efd} {ofd}", "memory")
                finally:
                    os.close(ofd)
            except Exception:
                self.close()

    def _count(self) -> int:
        d = self.mgr.paths.get("") if "memory" not in self.mgr.paths else None
        if d:  # v2: memory.events counts OOM situations and kills
            ev = fsio.read_keyed(d, "memory.events")
            return max(ev.get("oom", 0), ev.get("oom_kill", 0))
        return self.mgr.oom_kill_count()

    def wait(self, timeout: float) -> int:
        """Block up to `timeout` seconds; returns how many OOM events happened."""
        if self.efd >= 0:
            ready, _, _ = select.select([self.efd], [], [], timeout)
            if not ready:
                return 0
            try:
                n = int.from_bytes(os.read(self.efd, 8), "little")
            except BlockingIOError:
                return 0
            # the eventfd also fires when the cgroup goes away: not an OOM
            return n if self.mgr.exists() else 0
        select.select([], [], [], min(timeout, 0.1))
        now = self._count()
        new, self.last = max(0, now - self.last), now
        return new

    def close(self) -> None:
        if self.efd >= 0:
            os.close(self.efd)
            self.efd = -1
