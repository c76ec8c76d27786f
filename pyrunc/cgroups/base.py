"""What the v1, v2 and systemd drivers share: the record, placement in
directories, teardown, process listing and signalling.

A manager is built purely (nothing touched) by `new_manager`, described by
`record()` (saved in state.json before `create()` so that `delete` can always
find what to remove, even after a crash), and rebuilt from that record by
`load_manager` for `state`, `kill`, `ps`, `pause`, `events` and `delete`.
"""

import posix  # not os: kill and delete never load it (pyrunc/kernel/posixos.py)
import time

from pyrunc.cgroups import fsio
from pyrunc.errors import CgroupError, describe_oserror
from pyrunc.kernel import posixos

RECORD_VERSION = 1
_SIGKILL = 9


def _no_warn(msg: str) -> None:
    pass


class SelfPlacement:
    """How stage-1 joins its cgroup without the kernel's grace period
    (pyrunc.kernel.clone_into). A plain class: kill and delete load this
    module, and pyrunc.records would be one more import for them."""
    __slots__ = ("into", "tasks")

    def __init__(self, into: str | None, tasks: tuple):
        self.into = into     # the cgroup2 directory it is forked into (None: no cgroup2 here)
        self.tasks = tasks   # ((controller, v1 `tasks` file, required), ...) it writes "0" into


def _kill(pid: int) -> None:
    try:
        posix.kill(pid, _SIGKILL)
    except OSError:
        pass  # gone already


class Manager:
    """The protocol the lifecycle core uses; drivers fill in the details."""

    driver = "?"
    # runc's Rootless: the user's own cgroup, where a device filter cannot be attached
    rootless = False

    def __init__(self, container_id: str, root: str, inner: str, paths: dict[str, str],
                 resources: dict | None = None, prune: list[str] | None = None, warn=None,
                 linux_device_paths=(), extra: dict | None = None):
        self.container_id = container_id
        self.root = root
        self.inner = inner
        self.paths = dict(paths)              # controller ("" = cgroup2) -> directory
        self.resources = resources or {}
        self.prune = list(prune or [])        # absolute parent dirs delete may rmdir when empty
        self.warn = warn or _no_warn
        self.linux_device_paths = tuple(linux_device_paths or ())
        self.extra = dict(extra or {})
        self.made: list[str] = []
        self.made_ahead: list[str] = []   # by make_ahead, before create()

    # -- description ------------------------------------------------------

    def record(self) -> dict:
        rec = {"version": RECORD_VERSION, "driver": self.driver, "id": self.container_id,
               "root": self.root, "path": self.inner, "paths": dict(self.paths),
               "prune": sorted(set(self.prune) | set(self._made_parents())),
               # create() made the container's own cgroup (not a shared, pre-existing
               # one): only then may delete kill whatever is in it
               "owned": bool(set(self.paths.values()) & set(self.made))}
        rec.update(self.extra)
        return rec

    def _made_parents(self) -> list[str]:
        leaves = set(self.paths.values())
        return [d for d in self.made if d not in leaves]

    def path(self, controller: str = "") -> str | None:
        return self.paths.get(controller)

    def dirs(self) -> list[str]:
        """Every distinct directory (co-mounted controllers share one)."""
        seen: list[str] = []
        for d in self.paths.values():
            if d not in seen:
                seen.append(d)
        return seen

    def exists(self) -> bool:
        return any(posixos.isdir(d) for d in self.dirs())

    def mark_rootless(self) -> None:
        """A rootless container's cgroup (recorded, for the verbs after create)."""
        self.rootless = True
        self.extra["rootless"] = True

    def delegated_controllers(self) -> list[str] | None:
        """cgroup v2: the controllers the nearest existing ancestor of our
        directory offers (a delegated subtree has those its owner got);
        None on v1."""
        if "" not in self.paths:
            return None
        d = self.paths[""]
        while not posixos.isdir(d) and d not in ("/", ""):
            d = posixos.dirname(d)
        return (fsio.read_opt(d, "cgroup.controllers") or "").split()

    def writable(self) -> bool:
        """May this process make (or use) every one of its dirs? A user's own,
        delegated cgroup, or root; what rootless mode asks before it skips."""
        for d in self.dirs():
            while not posixos.isdir(d) and d not in ("/", ""):
                d = posixos.dirname(d)
            if not posix.access(d, posix.W_OK | posix.X_OK):
                return False
        return True

    # -- lifecycle --------------------------------------------------------

    def destroy(self, timeout: float = 2.0) -> None:
        """Remove the cgroup(s) and now-empty parents pyrunc made. Kills nothing.

        Idempotent: a cgroup already gone is fine. A cgroup that still has
        processes after the drain timeout (one for all hierarchies) is an
        error (delete kills first: kill_all_and_wait).
        """
        errors = []
        deadline = time.monotonic() + timeout
        for d in self.dirs():
            try:
                fsio.rmdir_tree(d, max(0.0, deadline - time.monotonic()))
            except CgroupError as exc:
                errors.append(exc)
        self.prune_parents()
        if errors:
            raise errors[0]

    def remove_if_unused(self) -> bool:
        """delete's quick path, for a container whose init is gone: one rmdir
        per directory, which the kernel refuses while a cgroup still holds a
        process or a sub-cgroup. True when every directory is gone (the
        parents then pruned, as destroy does); False when one is in use, and
        the caller kills what is there and destroys as usual. runc, too,
        reads no cgroup.procs for a container with its own pid namespace."""
        in_use = False
        for d in self.dirs():
            try:
                posix.rmdir(d)
            except FileNotFoundError:
                continue
            except OSError:
                in_use = True  # busy, or not empty: the full path decides
        if in_use:
            return False
        self.prune_parents()
        return True

    def prune_parents(self) -> None:
        """rmdir the parents pyrunc made (or may prune) once they are empty."""
        # deepest first; rmdir only succeeds on an empty cgroup
        for parent in sorted(set(self.prune) | set(self._made_parents()), key=lambda p: -p.count("/")):
            fsio.rmdir_if_empty(parent)

    def refuse_frozen(self) -> None:
        """A process placed in a frozen cgroup stops at once, so the create
        would wait forever for its init: refuse such a target up front (runc:
        "container's cgroup unexpectedly frozen"). Called once the cgroup
        exists, so a new cgroup below a frozen parent is caught too."""
        where = self.freezing_dir()
        if where:
            raise CgroupError(f"cgroup freezer: {where}: container's cgroup unexpectedly frozen")

    def self_placement(self) -> SelfPlacement | None:
        """How stage-1 can join this cgroup without the kernel's grace
        period, or None where the parent must place it (add): the systemd
        driver (the unit's start moves the pid), rootless, a kernel before 6.0."""
        from pyrunc.kernel import clone_into
        if self.driver not in ("fs", "fs2") or self.rootless or not clone_into.free():
            return None
        tasks, seen = [], set()
        for ctrl, d in self.paths.items():
            if ctrl and d not in seen:
                seen.add(d)
                # runc ignores the named hierarchy's failures (add)
                tasks.append((ctrl, posixos.join(d, "tasks"), ctrl != "name=systemd"))
        return SelfPlacement(self.paths.get(""), tuple(tasks))

    def add(self, pid: int, only: tuple[str, ...] | None = None) -> None:
        """Write `pid` into cgroup.procs of every hierarchy (or of `only`'s)."""
        for ctrl, d in self.paths.items():
            if only is not None and ctrl not in only:
                continue
            try:
                fsio.write(d, "cgroup.procs", str(pid), ctrl or "cgroup2")
            except CgroupError:
                if ctrl in ("name=systemd", "") and self.driver == "fs":
                    continue  # runc ignores the named and hybrid hierarchies' failures
                raise

    # -- processes --------------------------------------------------------

    # where cgroup.procs is read for pids(): a hierarchy every process joins
    procs_order = ("pids", "devices", "freezer", "memory", "cpu", "")

    def _procs_dir(self) -> str | None:
        for ctrl in self.procs_order:
            d = self.paths.get(ctrl)
            if d and posixos.isdir(d):
                return d
        for d in self.dirs():
            if posixos.isdir(d):
                return d
        return None

    def pids(self) -> list[int]:
        d = self._procs_dir()
        return fsio.procs(d) if d else []

    def all_pids(self) -> list[int]:
        """Every process in any of the container's hierarchies, sub-cgroups
        included: one a process was moved out of still holds it elsewhere."""
        found: set[int] = set()
        for d in self.dirs():
            found.update(fsio.procs(d))
        return sorted(found)

    def kill_all_and_wait(self, timeout: float = 5.0) -> list[int]:
        """SIGKILL everything in the cgroup tree and wait, boundedly, until it
        is empty (runc's destroy: freeze, kill, thaw, wait). Frozen parts of
        the tree, even a sub-cgroup that froze itself, are thawed first: a
        frozen task dies only once thawed. Returns the pids still there."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            left = self.all_pids()
            if not left or time.monotonic() > deadline:
                return left
            self.thaw_tree()
            self.signal_all(_SIGKILL)
            for pid in left:  # a process that left the pids hierarchy but not the others
                _kill(pid)
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def signal_all(self, sig: int) -> None:
        """Signal every process; frozen meanwhile so nothing forks past us (runc).

        A paused container stays paused, except for SIGKILL: frozen tasks only
        die once thawed, so then it is thawed too (runc always thaws).
        """
        froze = False
        if self.frozen():
            froze = sig == _SIGKILL
        else:
            try:
                self.freeze()
                froze = True
            except CgroupError:
                pass
        try:
            for pid in self.pids():
                try:
                    posix.kill(pid, sig)
                except ProcessLookupError:
                    continue
                except OSError as exc:
                    raise CgroupError(f"cgroup: kill {pid}: {describe_oserror(exc)}") from exc
        finally:
            if froze:
                self.thaw()

    # -- drivers override --------------------------------------------------

    def create(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def set(self, resources: dict) -> None:  # pragma: no cover
        raise NotImplementedError

    def freeze(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def thaw(self) -> None:  # pragma: no cover
        raise NotImplementedError

    def frozen(self) -> bool:  # pragma: no cover
        raise NotImplementedError

    def thaw_tree(self) -> None:  # pragma: no cover
        """Thaw the container's cgroup and every sub-cgroup frozen in it."""
        raise NotImplementedError

    def freezing_dir(self) -> str | None:  # pragma: no cover
        """The container's cgroup directory if it is frozen or freezing."""
        raise NotImplementedError

    def stats(self) -> dict:  # pragma: no cover
        raise NotImplementedError

    def oom_kill_count(self) -> int:  # pragma: no cover
        raise NotImplementedError

    def _rollback(self) -> None:
        for d in reversed(self.made):
            if not fsio.rmdir_if_empty(d) and d in self.made_ahead:
                # stage-1, forked into it (make_ahead): nobody else knew the
                # directory, so what is in it is ours to kill
                for pid in fsio.procs(d):
                    _kill(pid)
                try:
                    fsio.rmdir_tree(d)
                except CgroupError:
                    pass
        self.made = []

    def make_ahead(self, controller: str) -> None:
        """Make one hierarchy's directory before create(), which then finds
        it made: the cgroup2 one a child is forked into (self_placement).
        Best effort: create() makes it or says why it cannot."""
        try:
            made = fsio.makedirs(self.paths[controller], controller or "cgroup2")
        except CgroupError:
            return
        self.made.extend(made)
        self.made_ahead.extend(made)
