"""What create, run and exec acquire for a new process, and how a failed
one gives it back: the rollback stack, the --console-socket connection, the
--pid-file, the cgroup manager for the config, the capability numbers, the
seccomp agent placeholder, and the --rootless and --preserve-fds checks.

Place in the flow: called by lifecycle/create.py, run.py and exec.py before
and around the spawn (pyrunc.process). Kept apart from pyrunc.lifecycle's
own module so that the hot verbs (state, kill, start, delete) do not load it.
"""

import os
import stat

from pyrunc.errors import PyruncError, describe_oserror
from pyrunc.kernel.cpython import signal
from pyrunc.lifecycle import kill_cgroup, owns
from pyrunc.store import write_atomic


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
    """The cgroup driver for this container's config and --systemd-cgroup, or
    None in rootless mode (pyrunc.rootless) when the cgroup is not the user's
    to make: then, as runc's rootless manager, the container stays in the
    caller's cgroup, which is fine only while the config sets no limit.
    Rootless on cgroup v2 with --systemd-cgroup, the user's own systemd
    manager makes the cgroup (runc's rootless systemd driver)."""
    from pyrunc import cgroups, rootless
    from pyrunc.cgroups import layout
    linux = cfg.get("linux") or {}
    # a listed device replaces runc's default rule for it
    device_paths = [d.get("path") for d in linux.get("devices") or []]
    is_rootless = rootless.rootless_cgroups(rootless_mode(opts.rootless), opts.systemd_cgroup)
    # the host's cgroup version matters only to a rootless create: no statfs for root's
    version = ("v2" if layout.mode() == "v2" else "v1") if is_rootless else None
    bus, bus_uid = None, None
    if is_rootless and opts.systemd_cgroup and version == "v2":
        bus, bus_uid = rootless.user_bus_address(), rootless.outer_uid()
        if bus is None:
            raise PyruncError("cgroup systemd: rootless --systemd-cgroup needs the user's D-Bus session bus: "
                              "set DBUS_SESSION_BUS_ADDRESS, or XDG_RUNTIME_DIR with its bus socket")
    mgr = cgroups.new_manager(cid, linux.get("cgroupsPath"), linux.get("resources"),
                              systemd=opts.systemd_cgroup, warn=opts.log.warn,
                              linux_device_paths=device_paths,
                              # org.systemd.property.* reach the systemd unit
                              annotations=cfg.get("annotations"), bus=bus, bus_uid=bus_uid)
    if not is_rootless:
        return mgr
    if bus is None and version == "v2" and not linux.get("cgroupsPath") and not mgr.writable():
        # runc's place for a cgroup it names itself: the container id below
        # the parent of the caller's own cgroup, which is the user's when the
        # caller runs in a delegated subtree (a login's scope, say)
        mgr = cgroups.new_manager(cid, cid, linux.get("resources"), warn=opts.log.warn,
                                  linux_device_paths=device_paths)
    if bus_uid is not None or mgr.writable():
        mgr.mark_rootless()
        _check_delegated(mgr, linux.get("resources"), version)
        return mgr
    from pyrunc.cgroups import resources
    if linux.get("cgroupsPath"):
        # runc skips only a cgroup it picked itself: a named one is a demand
        raise PyruncError(f"cgroup {version}: linux.cgroupsPath {linux['cgroupsPath']}: "
                          f"{mgr.dirs()[0]} is not writable by this user (leave cgroupsPath out)")
    limits = resources.demanded(linux.get("resources"), version)
    if limits:
        need = "root" if version == "v1" else "a cgroup delegated to this user"
        raise PyruncError(f"cgroup {version}: resource limits need {need} "
                          f"(linux.resources sets {', '.join(limits)})")
    opts.log.debug(f"rootless: no cgroup of its own for container {cid} ({mgr.dirs()[0]} is not writable)")
    return None


def _check_delegated(mgr, res, version):
    """A rootless container's limits need their controllers delegated to the
    user (user@UID.service's Delegate=): one line naming the missing ones,
    before anything is made, instead of a write that fails half-way."""
    if version != "v2":
        return
    from pyrunc.cgroups import resources
    delegated = mgr.delegated_controllers()
    if delegated is None:
        return
    limits = [f for f in resources.demanded(res, version) if not f.startswith("cgroup.")]
    missing = sorted({f.split(".")[0] for f in limits} - set(delegated))
    if missing:
        files = [f for f in limits if f.split(".")[0] in missing]
        where = getattr(mgr, "manager_cgroup", None) or "this user's cgroup"
        raise PyruncError(f"cgroup v2: linux.resources sets {', '.join(files)}, but controller "
                          f"{' '.join(missing)} is not delegated to this user "
                          f"({where} has: {' '.join(delegated) or 'none'})")


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
