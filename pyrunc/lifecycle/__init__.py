"""The container lifecycle, one module per verb: create, start, kill, delete,
state (and list), run, exec, and the cgroup verbs (pause, resume, ps, update,
stats, events). The CLI (`pyrunc.cli`) and the Python API (`pyrunc.api`) are
two clients of these functions.

This package's own module holds what every verb shares: the global options,
loading a container's record under its lock and deriving its status (the
status table in pyrunc.store.status decides what each verb may do), the
state hooks receive and how they run, and the cgroup clean-up kill and
delete share. What only create, run and exec need (rollback, console, pid
file, the cgroup manager) is in acquire.py, so that the hot verbs (state,
kill, start, delete: shims call them constantly) load this module and their
own, nothing more. Place in the flow: below cli/ and api.py, above
pyrunc.store and pyrunc.kernel.
"""

from pyrunc import SPEC_VERSION
from pyrunc import testhooks as testguards
from pyrunc.errors import HookError, HookFailed, PyruncError
from pyrunc.log import NULL
from pyrunc.store import ContainerDir
from pyrunc.store import status as st


class Options:
    """Global flags, passed explicitly (no global mutable option state)."""

    def __init__(self, root, log=NULL, systemd_cgroup=False, rootless="auto"):
        # `root` may be the PyruncError saying why there is no default root
        # (store.default_root): raised only by a verb that uses it, so
        # `spec` works for a user without XDG_RUNTIME_DIR, as runc's does
        self._root = root
        if not isinstance(root, PyruncError):
            testguards.load(root)  # test-only switches: see pyrunc/testhooks.py
        self.log = log
        self.systemd_cgroup = systemd_cgroup
        self.rootless = rootless

    @property
    def root(self):
        if isinstance(self._root, PyruncError):
            raise self._root
        return self._root


def load(opts, cid, lock=True):
    """The container's state dir and record; `container does not exist` if absent."""
    cdir = ContainerDir.open(opts.root, cid, lock=lock)
    record = cdir.load()
    if record is None:  # a create that has not written its record yet (or died first)
        record = {"id": cid, "status": st.CREATING, "pid": 0}
    return cdir, record


def status_of(cdir, record):
    """The container's status, derived from its record and the live system."""
    return st.derive(record, cdir.has_fifo(), _frozen_probe(record or {}), cdir.held_elsewhere)


def _frozen_probe(record):
    def frozen():
        rec = record.get("cgroup")
        if not rec:
            return False
        from pyrunc import cgroups
        try:
            return cgroups.load_manager(rec).frozen()
        except Exception:
            return False
    return frozen


def container_config(record):
    """The container's config.json as create read it (validated back then):
    what exec and checkpoint read of a running container's bundle."""
    from pyrunc import jsonio
    from pyrunc.errors import describe_oserror
    from pyrunc.kernel.posixos import join
    path = join(record.get("bundle") or "", "config.json")
    try:
        with open(path, "rb") as f:
            return jsonio.loads(f.read())
    except (OSError, ValueError) as exc:
        why = describe_oserror(exc) if isinstance(exc, OSError) else "invalid JSON"
        raise PyruncError(f"container {record.get('id')}: {path}: {why}") from None


def state_for_hooks(record, status):
    """The state JSON hooks and the seccomp agent receive (also exec's)."""
    state = {"ociVersion": SPEC_VERSION, "id": record["id"], "status": status,
             "pid": record.get("pid") or 0, "bundle": record.get("bundle", "")}
    if record.get("annotations"):
        state["annotations"] = record["annotations"]
    return state


def run_hooks(phase, entries, state):
    if not entries:
        return
    from pyrunc.process import hooks
    try:
        hooks.run_hooks(phase, entries, state)
    except HookFailed as exc:
        raise HookError(str(exc)) from None


def quietly(log, fn, *args):
    """Run an undo step; its failure must not hide the error being unwound."""
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - reported, and the original error wins
        log.warn(f"rollback: {exc}")


def owns(cgroup_record):
    """Did this container's create make its cgroup? (A systemd scope always is.)"""
    return cgroup_record.get("owned", True) or cgroup_record.get("driver") == "systemd"


def kill_cgroup(mgr, rec):
    """Whatever else is in the cgroup (a container without its own pid
    namespace, an exec'd process, a half-made container's init) goes too, but
    only from a cgroup this container made: a cgroupsPath naming a shared,
    pre-existing cgroup (even "/") must never kill other processes. Bounded,
    as runc's destroy is: what cannot be killed in time makes the rmdir fail."""
    if not owns(rec):
        return
    try:
        if mgr.exists():
            mgr.kill_all_and_wait(timeout=5.0)
    except PyruncError:
        raise
    except OSError:
        pass


