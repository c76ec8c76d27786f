"""What every lifecycle verb shares: the global options, loading a
container's record under its lock and deriving its status, the state hooks
receive, the rollback stack of a create, and the parent's small acts that
create, run and exec all do (console socket, pid file, cgroup manager).

Place in the flow: below the verb modules (create.py, start.py, ...), above
pyrunc.store (the state dir) and pyrunc.kernel. Import-light: `state`,
`kill` and `delete` load it on every call under a shim.
"""

import os
import stat

from pyrunc import SPEC_VERSION
from pyrunc.errors import HookError, HookFailed, PyruncError, describe_oserror
from pyrunc.kernel.cpython import signal
from pyrunc.log import NULL
from pyrunc.store import status as st
from pyrunc.store.statedir import ContainerDir, write_atomic
from pyrunc import testhooks as testguards


class Options:
    """Global flags, passed explicitly (no global mutable option state)."""

    def __init__(self, root, log=NULL, systemd_cgroup=False, rootless="auto"):
        self.root = root
        testguards.load(root)  # test-only switches: see pyrunc/testhooks.py
        self.log = log
        self.systemd_cgroup = systemd_cgroup
        self.rootless = rootless


_TRUE = ("1", "t", "T", "TRUE", "true", "True")      # Go's strconv.ParseBool, as runc parses it


_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def rootless_mode(value):
    """--rootless: True, False, or None for auto (runc's parseBoolOrAuto)."""
    if not value or value.lower() == "auto":
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise PyruncError(f"--rootless {value!r}: must be true, false or auto")


def check_preserved_fds(n):
    for fd in range(3, 3 + n):
        try:
            os.fstat(fd)
        except OSError:
            raise PyruncError(f"--preserve-fds {n}: file descriptor {fd} is not open") from None


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


class Rollback:
    """The undo steps of a create, run newest first if it fails: ExitStack's
    callback/pop_all, without contextlib (and the functools and collections it
    imports). A step that raises does not stop the others; the last error wins."""

    def __init__(self):
        self.steps = []

    def callback(self, fn, *args):
        self.steps.append((fn, args))

    def pop_all(self):
        self.steps = []

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        steps, self.steps = self.steps, []
        error = None
        while steps:
            fn, args = steps.pop()
            try:
                fn(*args)
            except BaseException as exc:  # noqa: BLE001 - raised after the rest ran
                error = exc
        if error is not None:
            raise error
        return False


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


def kill_cgroup_and_destroy(mgr):
    rec = mgr.record()
    kill_cgroup(mgr, rec)
    if owns(rec):
        mgr.destroy()


def kill_quietly(pid):
    """SIGKILL a process we started; one already gone is fine (also exec's)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def cgroup_manager(opts, cid, cfg):
    """The cgroup driver for this container's config and --systemd-cgroup (also exec's)."""
    from pyrunc import cgroups
    linux = cfg.get("linux") or {}
    return cgroups.new_manager(cid, linux.get("cgroupsPath"), linux.get("resources"),
                               systemd=opts.systemd_cgroup, warn=opts.log.warn,
                               # a listed device replaces runc's default rule for it
                               linux_device_paths=[d.get("path") for d in linux.get("devices") or []],
                               # org.systemd.property.* reach the systemd unit
                               annotations=cfg.get("annotations"))


def connect_console(path):
    """Connect to --console-socket; the fd the pty master is sent over (also exec's)."""
    import socket
    if not path:
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting console socket")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        reason = describe_oserror(exc)
        try:  # connecting to a regular file says "connection refused": say what is wrong
            if not stat.S_ISSOCK(os.stat(path).st_mode):
                reason = "not a socket"
        except OSError:
            pass
        raise PyruncError(f"console socket {path}: {reason}") from None
    return sock.detach()


def write_pid_file(path, pid):
    """Write --pid-file atomically, as runc does (also exec's)."""
    path = os.path.abspath(path)
    try:
        write_atomic(path, str(pid).encode())
    except OSError as exc:
        raise PyruncError(f"pid file {path}: {describe_oserror(exc)}") from None


def resolve_capabilities(cfg, warn, debug=None):
    """The config's capability names as numbers, resolved in the parent
    (never in the child), after runc's one warning line for the names this
    host cannot grant; None when the config has none."""
    process = cfg.get("process") or {}
    if process.get("capabilities") is None:
        return None
    from pyrunc.config.checks import process as process_checks
    from pyrunc.security import capabilities
    skip = process_checks.report_capabilities(process["capabilities"], warn)
    return capabilities.resolve_capabilities(process["capabilities"], skip=skip, debug=debug)


class _NoAgent:
    """The seccomp agent connection of a plan without SCMP_ACT_NOTIFY: no
    socket, no state (security.seccomp.notify.agent_connection's shape)."""

    def __enter__(self):
        return -1, None

    def __exit__(self, *_exc):
        return False


NO_AGENT = _NoAgent()  # what `with agent:` gets without a seccomp agent (also exec's)
