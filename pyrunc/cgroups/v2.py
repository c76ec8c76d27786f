"""The cgroup v2 driver: one directory in the unified hierarchy.

create() enables every available controller in `cgroup.subtree_control` of
each ancestor (runc fs2/create.go: delegation top-down), then writes the
resources and attaches the eBPF device filter. `cgroup.kill` kills the whole
tree atomically where the kernel has it (5.14+); `cgroup.freeze` freezes.
"""
from __future__ import annotations

import time

from pyrunc.cgroups import fsio
from pyrunc.cgroups.base import Manager
from pyrunc.errors import CgroupError
from pyrunc.kernel.cpython import signal
from pyrunc.kernel import posixos  # not os: kill and delete never load it


def _default_installer(directory: str, program: bytes) -> None:
    from pyrunc.cgroups import ebpf  # ctypes only when devices are applied
    ebpf.install(directory, program)


class _Probe:
    def __init__(self, d):
        self.d = d

    def has(self, ctrl, name):
        return posixos.exists(posixos.join(self.d, name))

    def read(self, ctrl, name):
        return fsio.read_opt(self.d, name)


class V2Manager(Manager):
    driver = "fs2"
    procs_order = ("",)
    # tests swap this for a recorder; the real one loads and attaches via bpf(2)
    device_installer = staticmethod(_default_installer)

    @property
    def dir(self) -> str:
        return self.paths[""]

    def create(self) -> None:
        from pyrunc.cgroups import devices
        from pyrunc.cgroups.resources import DictProbe, plan_v2
        # what a user can get wrong (swap < memory, bad unified keys) fails before mkdir
        plan_v2(self.resources, DictProbe(), warn=lambda m: None)
        devices.Emulator.from_rules(devices.from_spec(self.resources.get("devices"), self.linux_device_paths))
        try:
            self.made.extend(fsio.makedirs(self.dir, "cgroup2"))
            self.refuse_frozen()
            self._delegate()
            self._apply(self.resources, update=False)
        except BaseException:
            self._rollback()
            raise

    def _delegate(self) -> None:
        """Enable controllers in subtree_control from the root down to our parent."""
        import posixpath  # create's path (it loads os anyway)
        rel = posixpath.relpath(posixos.dirname(self.dir), self.root)
        chain = [self.root]
        if rel != ".":
            for part in rel.split("/"):
                chain.append(posixos.join(chain[-1], part))
        for d in chain:
            available = (fsio.read_opt(d, "cgroup.controllers") or "").split()
            enabled = set((fsio.read_opt(d, "cgroup.subtree_control") or "").split())
            missing = [c for c in available if c not in enabled]
            if not missing:
                continue
            try:
                fsio.write(d, "cgroup.subtree_control", " ".join("+" + c for c in missing), "cgroup")
            except CgroupError:
                # one controller may be refused (e.g. cpu with realtime tasks
                # in the parent): enable the others one by one, as runc does
                for c in missing:
                    try:
                        fsio.write(d, "cgroup.subtree_control", "+" + c, "cgroup")
                    except CgroupError:
                        pass

    def _apply(self, resources: dict, update: bool) -> None:
        # loaded only to change a cgroup, never for state/kill/delete
        from pyrunc.cgroups import apply
        from pyrunc.cgroups.resources import plan_v2
        writes = plan_v2(resources, _Probe(self.dir), update=update, warn=self.warn)
        apply.run(writes, lambda ctrl: self.dir, self.warn)
        if not update or resources.get("devices"):
            self.apply_devices(resources.get("devices"))

    def device_program(self, rules_spec) -> bytes:
        from pyrunc.cgroups import devicefilter, devices
        return devicefilter.build(devices.from_spec(rules_spec, self.linux_device_paths))

    def apply_devices(self, rules_spec) -> None:
        try:
            self.device_installer(self.dir, self.device_program(rules_spec))
        except (CgroupError, OSError):
            # as runc: a user may not load a device filter, and the user
            # namespace with bound device nodes confines the container
            if not self.rootless:
                raise

    def set(self, resources: dict) -> None:
        self._apply(resources or {}, update=True)

    # -- freezer ----------------------------------------------------------

    def freeze(self) -> None:
        self._set_frozen("1")

    def thaw(self) -> None:
        self._set_frozen("0")

    def _set_frozen(self, value: str) -> None:
        if not fsio.exists(self.dir, "cgroup.freeze"):
            raise CgroupError("cgroup freezer: cgroup.freeze is not available (needs Linux 5.2+)")
        fsio.write(self.dir, "cgroup.freeze", value, "freezer")
        # the write only starts freezing; cgroup.events says when it is done
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            events = fsio.read_keyed(self.dir, "cgroup.events")
            if str(events.get("frozen", value)) == value:
                return
            time.sleep(0.005)
        raise CgroupError(f"cgroup freezer: timed out waiting for frozen={value}")

    def frozen(self) -> bool:
        return (fsio.read_opt(self.dir, "cgroup.freeze") or "0").strip() == "1"

    def thaw_tree(self) -> None:
        if not posixos.isdir(self.dir):
            return
        for d in posixos.walk_dirs(self.dir):
            if (fsio.read_opt(d, "cgroup.freeze") or "0").strip() == "1":
                try:
                    fsio.write(d, "cgroup.freeze", "0", "freezer")
                except CgroupError:
                    pass  # removed meanwhile

    def freezing_dir(self) -> str | None:
        # cgroup.freeze says what was asked of this cgroup; cgroup.events
        # "frozen 1" also covers a cgroup below a frozen parent
        if self.frozen() or fsio.read_keyed(self.dir, "cgroup.events").get("frozen") == 1:
            return self.dir
        return None

    def signal_all(self, sig: int) -> None:
        if sig == signal.SIGKILL and fsio.exists(self.dir, "cgroup.kill"):
            fsio.write(self.dir, "cgroup.kill", "1", "cgroup")
            return
        super().signal_all(sig)

    # -- observation ------------------------------------------------------

    def stats(self) -> dict:
        from pyrunc.cgroups import stats
        return stats.v2(self.dir)

    def oom_kill_count(self) -> int:
        return fsio.read_keyed(self.dir, "memory.events").get("oom_kill", 0)

    def oom_event_file(self) -> str | None:
        """memory.events is modified (inotify IN_MODIFY) on every memory event."""
        return posixos.join(self.dir, "memory.events")
