"""The cgroup v1 driver (also hybrid hosts: v1 controllers + a controller-less cgroup2).

One directory per hierarchy; co-mounted controllers share it. On a hybrid host
the process is also placed in the cgroup2 hierarchy ("" in `paths`) as runc
does, so tools that only read the unified line of /proc/<pid>/cgroup see the
container. `name=systemd` is joined too. Neither gets resources.
"""

import time

from pyrunc.cgroups import fsio
from pyrunc.cgroups.base import Manager
from pyrunc.errors import CgroupError
from pyrunc.kernel import posixos  # not os: kill and delete never load it

_JOIN_ONLY = ("name=systemd", "")


class _Probe:
    def __init__(self, paths):
        self.paths = paths

    def has(self, ctrl, name):
        d = self.paths.get(ctrl)
        return bool(d) and posixos.exists(posixos.join(d, name))

    def read(self, ctrl, name):
        d = self.paths.get(ctrl)
        return fsio.read_opt(d, name) if d else None


class V1Manager(Manager):
    driver = "fs"

    def create(self) -> None:
        from pyrunc.cgroups import devices
        from pyrunc.cgroups.resources import DictProbe, plan_v1
        # what a user can get wrong (unified on v1, ranges) fails before mkdir
        plan_v1(self.resources, DictProbe(), warn=lambda m: None)
        devices.Emulator.from_rules(devices.from_spec(self.resources.get("devices"), self.linux_device_paths))
        try:
            for ctrl, d in self.paths.items():
                try:
                    made = fsio.makedirs(d, ctrl or "cgroup2")
                except CgroupError:
                    if ctrl in _JOIN_ONLY:
                        continue
                    raise
                self.made.extend(made)
                if ctrl == "cpuset":
                    self._populate_cpuset(made)
            self.refuse_frozen()
            self._apply(self.resources, update=False)
        except BaseException:
            self._rollback()
            raise

    def _populate_cpuset(self, made: list[str]) -> None:
        # a cpuset cgroup starts with empty cpus/mems and takes no tasks until
        # both are set: fill every empty level from the mount down to our leaf
        # from its parent, as runc's cpusetEnsureParent does (a parent made by
        # another tool may be empty too)
        # the hierarchy's root is the topmost directory with cpuset files
        chain = [self.paths["cpuset"]]
        while posixos.exists(posixos.join(posixos.dirname(chain[0]), "cpuset.cpus")):
            chain.insert(0, posixos.dirname(chain[0]))
        for parent, d in zip(chain, chain[1:]):
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not (fsio.read_opt(d, name) or "").strip():
                    fsio.write(d, name, (fsio.read_opt(parent, name) or "").strip(), "cpuset")

    def prune_parents(self) -> None:
        super().prune_parents()
        cpu = self.paths.get("cpu")
        # a parent left with a realtime budget (rtbudget.grant) gives it back
        granted = [p for p in set(self.prune) | set(self._made_parents())
                   if cpu and cpu.startswith(p + "/") and fsio.read_int(p, "cpu.rt_runtime_us") > 0]
        if granted:
            from pyrunc.cgroups import rtbudget
            rtbudget.release(granted)

    def _dir_for(self, ctrl: str) -> str | None:
        return self.paths.get(ctrl)

    def _apply(self, resources: dict, update: bool) -> None:
        # the table and the executor load only to change a cgroup, never for
        # the state/kill/delete that merely read it
        from pyrunc.cgroups import apply
        from pyrunc.cgroups.resources import plan_v1
        writes = plan_v1(resources, _Probe(self.paths), update=update, warn=self.warn)
        cpu = resources.get("cpu") or {}
        if cpu.get("realtimeRuntime") and self.paths.get("cpu"):
            from pyrunc.cgroups import rtbudget
            leaf = self.paths["cpu"]
            period = int(cpu.get("realtimePeriod") or 0) or fsio.read_int(leaf, "cpu.rt_period_us", 1000000)
            owned = set(self.prune) | set(self.made)
            with rtbudget.explained(leaf, owned):
                rtbudget.grant(leaf, int(cpu["realtimeRuntime"]), period, owned)
                apply.run(writes, self._dir_for, self.warn)
        else:
            apply.run(writes, self._dir_for, self.warn)
        if not update or resources.get("devices"):
            self._apply_devices(resources.get("devices"))

    def _apply_devices(self, rules_spec) -> None:
        from pyrunc.cgroups import devices
        d = self.paths.get("devices")
        if d is None:
            raise CgroupError("cgroup devices: the devices controller is not mounted")
        target = devices.Emulator.from_rules(devices.from_spec(rules_spec, self.linux_device_paths), start_allow=True)
        current = devices.Emulator.from_list(fsio.read(d, "devices.list", "devices"))
        for rule in current.transition(target):
            fsio.write(d, "devices.allow" if rule.allow else "devices.deny", rule.cgroup_string(), "devices")

    def set(self, resources: dict) -> None:
        self._apply(resources or {}, update=True)

    # -- freezer ----------------------------------------------------------

    def _freezer(self) -> str:
        d = self.paths.get("freezer")
        if d is None:
            raise CgroupError("cgroup freezer: the freezer controller is not mounted")
        return d

    def freeze(self) -> None:
        d = self._freezer()
        # the v1 freezer can get stuck in FREEZING when tasks fork meanwhile;
        # thaw and retry now and then (runc fs/freezer.go)
        for i in range(1000):
            if i and i % 50 == 0:
                fsio.write(d, "freezer.state", "THAWED", "freezer")
                time.sleep(0.01)
            fsio.write(d, "freezer.state", "FROZEN", "freezer")
            if i > 25:
                time.sleep(0.01)
            state = fsio.read(d, "freezer.state", "freezer").strip()
            if state == "FROZEN":
                return
            if state not in ("FREEZING",):
                raise CgroupError(f"cgroup freezer: unexpected state {state!r}")
        fsio.write(d, "freezer.state", "THAWED", "freezer")
        raise CgroupError("cgroup freezer: unable to freeze: processes keep escaping")

    def thaw(self) -> None:
        fsio.write(self._freezer(), "freezer.state", "THAWED", "freezer")

    def frozen(self) -> bool:
        d = self.paths.get("freezer")
        if d is None:
            return False
        return (fsio.read_opt(d, "freezer.state") or "").strip() == "FROZEN"

    def thaw_tree(self) -> None:
        top = self.paths.get("freezer")
        if top is None or not posixos.isdir(top):
            return
        # top-down: a child that froze itself stays frozen when its parent thaws
        for d in posixos.walk_dirs(top):
            if (fsio.read_opt(d, "freezer.state") or "THAWED").strip() != "THAWED":
                try:
                    fsio.write(d, "freezer.state", "THAWED", "freezer")
                except CgroupError:
                    pass  # removed meanwhile

    def freezing_dir(self) -> str | None:
        # a child of a frozen cgroup reads FROZEN too (parent_freezing)
        d = self.paths.get("freezer")
        if d and (fsio.read_opt(d, "freezer.state") or "").strip() in ("FROZEN", "FREEZING"):
            return d
        return None

    # -- observation ------------------------------------------------------

    def stats(self) -> dict:
        from pyrunc.cgroups import stats
        return stats.v1(self.paths)

    def oom_kill_count(self) -> int:
        d = self.paths.get("memory")
        if d is None:
            return 0
        return fsio.read_keyed(d, "memory.oom_control").get("oom_kill", 0)

    def oom_event_file(self) -> str | None:
        """A file whose modification signals an OOM (v1 has none: poll the count)."""
        return None
