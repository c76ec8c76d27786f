"""The lifecycle: create, start, run, kill, delete, state, list.

Each operation takes the container's lock, derives its status from facts,
checks the status table, and acts. `create` owns a rollback stack: every
acquisition (state dir, fifo, cgroup, processes) registers its undo, so a
failed create leaves nothing behind. Heavy modules (config validation,
seccomp, the child's code) load only on create/run.
"""

import os
import stat

from pyrunc import SPEC_VERSION, jsonio, status as st, testguards
from pyrunc.crashpoint import reached
from pyrunc.errors import ContainerNotFound, PyruncError, describe_oserror
from pyrunc.errors import HookError, HookFailed, InvalidState, SpawnError
from pyrunc.kernel import procfs
from pyrunc.kernel.cpython import signal
from pyrunc.log import NULL, rfc3339
from pyrunc.state import ContainerDir, list_ids, write_atomic


class Options:
    """Global flags, passed explicitly (no global mutable option state)."""

    def __init__(self, root, log=NULL, systemd_cgroup=False, rootless="auto"):
        self.root = root
        testguards.load(root)  # test-only switches: see pyrunc/testguards.py
        self.log = log
        self.systemd_cgroup = systemd_cgroup
        self.rootless = rootless


# -- create ------------------------------------------------------------------

def create(opts, cid, bundle, *, pid_file=None, console_socket=None, console_fd=-1,
           no_pivot=False, no_new_keyring=False, preserve_fds=0):
    """Create the container; returns its init pid. The init then waits on the fifo."""
    from pyrunc.process import spawn

    if rootless_mode(opts.rootless):
        # (another change implements rootless containers; until then say so, never half-do it)
        raise PyruncError("--rootless true: rootless mode is not supported yet")
    bundle = os.path.abspath(bundle)
    if not os.path.isdir(bundle):
        raise PyruncError(f"bundle {bundle}: no such directory")
    _check_preserved_fds(preserve_fds)
    cfg, plan = prepare(opts, cid, bundle, no_pivot=no_pivot, no_new_keyring=no_new_keyring,
                        preserve_fds=preserve_fds)
    where = f"container {cid}"
    with Rollback() as undo:
        cdir = ContainerDir.create(opts.root, cid)
        undo.callback(cdir.close)
        undo.callback(_quietly, opts.log, cdir.remove)
        reached("create:after-statedir")
        # LISTEN_FDS / NOTIFY_SOCKET pass-through (runc's; activation.py, notify_socket.py)
        from pyrunc import activation
        activation.apply(plan)
        if os.environ.get("NOTIFY_SOCKET"):  # notify_socket imports socket.py: only when needed
            from pyrunc import notify_socket
            notify_socket.prepare(plan, cdir.path)
        hooks_cfg = cfg.get("hooks") or {}
        record = {
            "id": cid, "status": st.CREATING, "pid": 0, "pid_start": None,
            "bundle": bundle, "rootfs": plan.rootfs, "created": rfc3339(),
            "annotations": cfg.get("annotations") or {},
            "hooks": {k: hooks_cfg[k] for k in ("poststart", "poststop") if hooks_cfg.get(k)},
            "namespaces": {t: p for t, p in plan.join_namespaces},
        }
        mgr = cgroup_manager(opts, cid, cfg)
        if mgr is not None:
            plan.cgroup_dirs = _cgroup_dirs(mgr)  # the paths are fixed when the manager is made
        # a console_fd from `run` is its own: the runtime is the console and,
        # as runc's recvtty, wants no ONLCR; a --console-socket's owner decides
        raw_console = console_fd >= 0
        if plan.terminal and console_fd < 0:
            console_fd = connect_console(console_socket)
            undo.callback(os.close, console_fd)
            reached("create:after-console")
        hook_state = state_for_hooks(record, st.CREATING)
        ctx = spawn.Context(fifo_path=cdir.fifo_path, console_fd=console_fd, hook_state=hook_state,
                            close_in_child=(cdir.fileno(),), raw_console=raw_console)

        def before_placement():
            # after the fork: stage-1 imports its modules (~3-5 ms) meanwhile.
            # The cgroup's mkdirs also wait there for the grace period
            # kernel/cgroup_prepay.py started (that write holds the kernel's
            # cgroup_mutex until then); runc too forks before it applies cgroups
            record.update(owner=_owner(), creator={"pid": os.getpid(), "start": procfs.start_time(os.getpid())})
            if mgr is not None:
                record["cgroup"] = mgr.record()
            cdir.save(record)  # before any acquisition: a later delete finds all of it
            reached("create:after-record")
            old = os.umask(0)
            try:
                os.mkfifo(ctx.fifo_path, 0o622)
            finally:
                os.umask(old)
            reached("create:after-fifo")
            if mgr is not None:
                undo.callback(_quietly, opts.log, _kill_cgroup_and_destroy, mgr)
                mgr.create()
                record["cgroup"] = mgr.record()  # now names the parents it made, for delete
                cdir.save(record)
            reached("create:after-cgroup")

        def run_create_hooks(init_pid):
            state = dict(hook_state, pid=init_pid)
            for phase in ("prestart", "createRuntime"):
                try:
                    _run_hooks(phase, hooks_cfg.get(phase), state)
                except HookError as exc:
                    raise SpawnError(f"{where}: {exc}") from None

        agent = NO_AGENT
        if plan.seccomp is not None and plan.seccomp.uses_notify:  # type: ignore[attr-defined]  # a seccomp.Compiled
            # SCMP_ACT_NOTIFY: the init sends its listener fd to the agent itself
            # (seccomp_notify imports socket.py and contextlib: only then)
            from pyrunc import seccomp_notify
            agent = seccomp_notify.agent_connection(plan, ctx, hook_state)
        with agent:
            init_pid = spawn.spawn(plan, ctx, where=where, before_placement=before_placement,
                                   place_in_cgroup=(mgr.add if mgr is not None else (lambda pid: None)),
                                   run_create_hooks=run_create_hooks)
        undo.callback(kill_quietly, init_pid)
        if plan.net_devices:
            from pyrunc import netdevices
            record["net_devices"] = netdevices.move_in(plan.net_devices, init_pid, where)
            # (undone before the kill above: afterwards the namespace is gone)
            undo.callback(_quietly, opts.log, netdevices.move_out, record["net_devices"], init_pid)
        reached("create:after-ready")
        record.update(status=st.CREATED, pid=init_pid, pid_start=procfs.start_time(init_pid))
        record.pop("creator", None)
        cdir.save(record)
        reached("create:after-state")
        if pid_file:
            write_pid_file(pid_file, init_pid)
        reached("create:after-pidfile")
        undo.pop_all()
        cdir.close()
        return init_pid


def prepare(opts, cid, bundle, *, no_pivot=False, no_new_keyring=False, preserve_fds=0):
    """(config, plan): all create decides before it makes anything.

    Every check of the config is pyrunc.config's pipeline, the one `validate`
    runs (it also compiles the seccomp filter; runc: unknown syscalls at debug
    level); what follows only translates. Raises ConfigError, nothing else a
    user's config can cause.
    """
    from pyrunc import config, plan as planner
    loaded = config.load(bundle, cache_dir=os.path.join(opts.root, ".cache"), warn=opts.log.warn,
                         debug=opts.log.debug)
    cfg = loaded.config
    plan = planner.build(cfg, cid, bundle, no_pivot=no_pivot, no_new_keyring=no_new_keyring,
                         preserve_fds=preserve_fds)
    plan.seccomp = loaded.seccomp
    resolve_capabilities(plan, cfg, opts.log.warn, debug=opts.log.debug)
    return cfg, plan


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


def _check_preserved_fds(n):
    for fd in range(3, 3 + n):
        try:
            os.fstat(fd)
        except OSError:
            raise PyruncError(f"--preserve-fds {n}: file descriptor {fd} is not open") from None


def resolve_capabilities(plan, cfg, warn, debug=None):
    """Capability names to numbers in the parent (never in the child)."""
    process = cfg.get("process") or {}
    if process.get("capabilities") is not None:
        from pyrunc import capabilities
        plan.capabilities = capabilities.resolve_capabilities(process["capabilities"], warn, debug=debug)


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


def _cgroup_dirs(mgr):
    """(name under /sys/fs/cgroup, host dir) pairs for a `cgroup` mount inside
    the container: its own cgroup dirs only, never the host's tree. On a
    hybrid host, like runc, the v1 hierarchies only."""
    rec = mgr.record()
    paths, root = rec.get("paths") or {}, rec.get("root") or "/sys/fs/cgroup"
    if set(paths) == {""}:
        return (("", paths[""]),)
    out = {os.path.relpath(d, root).split("/")[0]: d for name, d in paths.items() if name}
    return tuple(sorted(out.items()))


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


def _owner():
    import pwd  # create only: state, kill and delete never need it
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def state_for_hooks(record, status):
    """The state JSON hooks and the seccomp agent receive (also exec's)."""
    state = {"ociVersion": SPEC_VERSION, "id": record["id"], "status": status,
             "pid": record.get("pid") or 0, "bundle": record.get("bundle", "")}
    if record.get("annotations"):
        state["annotations"] = record["annotations"]
    return state


def _run_hooks(phase, entries, state):
    if not entries:
        return
    from pyrunc import hooks
    try:
        hooks.run_hooks(phase, entries, state)
    except HookFailed as exc:
        raise HookError(str(exc)) from None


class _NoAgent:
    """The seccomp agent connection of a plan without SCMP_ACT_NOTIFY: nothing."""

    def __enter__(self):
        return None

    def __exit__(self, *_exc):
        return False


NO_AGENT = _NoAgent()  # what `with agent:` gets without a seccomp agent (also exec's)


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


def _quietly(log, fn, *args):
    """Run an undo step; its failure must not hide the error being unwound."""
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - reported, and the original error wins
        log.warn(f"rollback: {exc}")


def _owns(cgroup_record):
    """Did this container's create make its cgroup? (A systemd scope always is.)"""
    return cgroup_record.get("owned", True) or cgroup_record.get("driver") == "systemd"


def _kill_cgroup_and_destroy(mgr):
    rec = mgr.record()
    _kill_cgroup(mgr, rec)
    if _owns(rec):
        mgr.destroy()


def kill_quietly(pid):
    """SIGKILL a process we started; one already gone is fine (also exec's)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


# -- reading state -------------------------------------------------------------

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


def status_of(cdir, record):
    """The container's status, derived from its record and the live system."""
    return st.derive(record, cdir.has_fifo(), _frozen_probe(record or {}), cdir.held_elsewhere)


def load(opts, cid, lock=True):
    """The container's state dir and record; `container does not exist` if absent."""
    cdir = ContainerDir.open(opts.root, cid, lock=lock)
    record = cdir.load()
    if record is None:  # a create that has not written its record yet (or died first)
        record = {"id": cid, "status": st.CREATING, "pid": 0}
    return cdir, record


def state_json(record, status):
    """runc's `state` output shape."""
    out = {
        "ociVersion": SPEC_VERSION,
        "id": record.get("id"),
        "pid": record.get("pid", 0) if status != st.STOPPED else 0,
        "status": status,
        "bundle": record.get("bundle", ""),
        "rootfs": record.get("rootfs", ""),
        "created": record.get("created", ""),
        "owner": record.get("owner", ""),
    }
    if record.get("annotations"):
        out["annotations"] = record["annotations"]
    return out


def state(opts, cid):
    cdir, record = load(opts, cid, lock=False)
    with cdir:
        return state_json(record, status_of(cdir, record))


def list_containers(opts):
    out = []
    for cid in list_ids(opts.root):
        try:
            cdir, record = load(opts, cid, lock=False)
        except ContainerNotFound:
            continue  # deleted while we listed
        except PyruncError as exc:
            # one bad record must not hide the others (runc: "load container X: ...")
            opts.log.warn(str(exc))
            continue
        with cdir:
            out.append(state_json(record, status_of(cdir, record)))
    return out


# -- start ---------------------------------------------------------------------

def start(opts, cid, *, notify_in_background=False):
    cdir, record = load(opts, cid)
    with cdir:
        status = status_of(cdir, record)
        st.require("start", status)
        listener = None
        if os.environ.get("NOTIFY_SOCKET"):  # else bind() is a no-op: skip importing socket
            from pyrunc import notify_socket
            listener = notify_socket.bind(cdir.path)  # before the release: READY may come at once
        release(cdir, record)
        reached("start:after-release")
        record["status"] = st.RUNNING
        cdir.save(record)
        reached("start:after-state")
        try:
            _run_hooks("poststart", (record.get("hooks") or {}).get("poststart"),
                       state_for_hooks(record, st.RUNNING))
        except HookError as exc:
            opts.log.warn(str(exc))
    if listener is not None:  # outside the lock: waiting for READY may take long
        if notify_in_background:  # foreground `run`: it must go on to wait/proxy
            notify_socket.forward_in_background(listener, record["pid"])
        else:
            notify_socket.forward(listener, record["pid"])


def release(cdir, record):
    """Open the exec fifo: the init's blocked open returns, it writes "0", runs
    startContainer hooks, and execs (EOF), or writes "E<message>" on failure.
    The init's pidfd is watched too: a dead init is an error, not a hang."""
    pid = record["pid"]
    try:
        handle = os.open(cdir.fifo_path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        raise InvalidState("cannot start an already running container") from None
    reached("start:after-open")
    # unlink before opening for reading (which releases the init): if we die
    # from here on, the container is never again seen as `created` while it
    # runs, and a second `start` cannot block on a fifo nobody will write
    os.unlink(cdir.fifo_path)
    reached("start:after-unlink")
    # the pidfd before the release: once released, the init may exec, exit and
    # be reaped by a subreaper (a shim) before we look, and pidfd_open would
    # then call a container that ran fine "exited before start"
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        os.close(handle)
        raise PyruncError(f"container {record['id']}: init process exited before start") from None
    try:
        fifo = os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except BaseException:
        os.close(pidfd)
        raise
    finally:
        os.close(handle)
    reached("start:after-reopen")
    data = b""
    import select  # start only
    try:
        poller = select.poll()
        poller.register(fifo, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        while True:
            events = dict(poller.poll())
            if fifo in events:
                chunk = _read_all(fifo)
                data += chunk
                if events[fifo] & select.POLLHUP and (data or not chunk):
                    break  # the init closed its end: execve happened, or it failed
            if pidfd in events:
                data += _read_all(fifo)
                break
    finally:
        os.close(fifo)
        os.close(pidfd)
    if b"E" in data:
        msg = data[data.index(b"E") + 1:].decode(errors="replace")
        raise PyruncError(f"container {record['id']}: {msg}")
    if data[:1] != b"0":
        # the init holds no fd of the state dir (a created init keeps only its
        # fifo), so an init that died before `start` leaves no reason behind
        raise PyruncError(f"container {record['id']}: init process exited before start")


def _read_all(fd):
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk


# -- kill ------------------------------------------------------------------------

def kill(opts, cid, sig, all_processes=False):
    cdir, record = load(opts, cid)
    with cdir:
        status = status_of(cdir, record)
        if all_processes and record.get("cgroup") and status != st.CREATING:
            # runc: --all signals whatever the cgroup holds, even once the
            # init is gone (a container without a pid namespace leaves its
            # children behind); a stopped container whose cgroup is gone is
            # not an error. Once stopped, a shared cgroup it did not make
            # holds only others' processes: left alone, as delete does.
            from pyrunc import cgroups
            mgr = cgroups.load_manager(record["cgroup"])
            if status == st.STOPPED and (not _owns(record["cgroup"]) or not mgr.exists()):
                return
            mgr.signal_all(sig)
            return
        st.require("kill", status)
        _signal(record, sig)


def _signal(record, sig):
    pid = record["pid"]
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        raise InvalidState("container not running") from None
    try:
        # the pidfd pins the process: check it is still the init we made
        if not procfs.is_alive(pid, record.get("pid_start")):
            raise InvalidState("container not running")
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        raise InvalidState("container not running") from None
    finally:
        os.close(pidfd)


# -- delete ----------------------------------------------------------------------

def delete(opts, cid, force=False):
    try:
        cdir, record = load(opts, cid)
    except ContainerNotFound:
        if force:
            return  # runc: delete --force of a missing container succeeds
        raise
    with cdir:
        status = status_of(cdir, record)
        reached("delete:after-lock")
        if status in (st.RUNNING, st.PAUSED) and not force:
            st.require("delete", status)
        mgr = None
        if record.get("cgroup"):
            from pyrunc import cgroups
            mgr = cgroups.load_manager(record["cgroup"])
        if status == st.CREATING and not force:
            raise InvalidState("cannot delete a container that is being created")
        if status != st.STOPPED and record.get("pid"):
            _return_net_devices(opts, record)
            _kill_and_wait(record, mgr, status)
        reached("delete:after-kill")
        if mgr is not None:
            # a half-made container, a container without its own pid
            # namespace or an exec'd process may leave processes behind
            _kill_cgroup(mgr, record["cgroup"])
            if _owns(record["cgroup"]):  # a shared cgroup is not ours to remove
                mgr.destroy()
        reached("delete:after-cgroup")
        cdir.remove()
    if record.get("pid"):
        try:
            _run_hooks("poststop", (record.get("hooks") or {}).get("poststop"),
                       state_for_hooks(record, st.STOPPED))
        except HookError as exc:
            opts.log.warn(str(exc))


def _return_net_devices(opts, record):
    """linux.netDevices go back to the host while the init's namespace lives."""
    if not record.get("net_devices") or not procfs.is_alive(record["pid"], record.get("pid_start")):
        return
    from pyrunc import netdevices
    _quietly(opts.log, netdevices.move_out, record["net_devices"], record["pid"])


def _kill_and_wait(record, mgr, status):
    pid = record["pid"]
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        pidfd = None
    try:
        if pidfd is not None and procfs.is_alive(pid, record.get("pid_start")):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            # a frozen task cannot die, even in a sub-cgroup that froze itself
            if mgr is not None and _owns(record.get("cgroup") or {}):
                mgr.thaw_tree()
            elif mgr is not None and status == st.PAUSED:
                mgr.thaw()
            import select  # delete --force of a live container only
            select.select([pidfd], [], [], 10.0)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _kill_cgroup(mgr, rec):
    """Whatever else is in the cgroup (a container without its own pid
    namespace, an exec'd process, a half-made container's init) goes too, but
    only from a cgroup this container made: a cgroupsPath naming a shared,
    pre-existing cgroup (even "/") must never kill other processes. Bounded,
    as runc's destroy is: what cannot be killed in time makes the rmdir fail."""
    if not _owns(rec):
        return
    try:
        if mgr.exists():
            mgr.kill_all_and_wait(timeout=5.0)
    except PyruncError:
        raise
    except OSError:
        pass


def to_json(obj):
    return jsonio.dumps(obj, indent=2)
