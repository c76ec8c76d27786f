"""`create`: from a bundle to an init waiting on the exec fifo.

Place in the flow: the CLI and the API call create(); it runs the config
pipeline (pyrunc.config: the same checks `validate` runs) before it makes
anything, then claims the state dir, describes the cgroup (its paths are
fixed then) and builds the plan once, frozen, with every input it needs.
Then it acquires in order -- record, fifo, cgroup, console, the spawned
init (pyrunc.process.spawn), network devices -- each registering its undo
on a Rollback, so a failed create leaves nothing behind. Heavy modules (config validation, seccomp, the child's code) load
only here and in run/exec.
"""
from __future__ import annotations

import os

from pyrunc.errors import HookError, PyruncError, SpawnError
from pyrunc.kernel import procfs
from pyrunc.lifecycle.acquire import (
    NO_AGENT,
    Rollback,
    cgroup_manager,
    check_preserved_fds,
    connect_console,
    kill_cgroup_and_destroy,
    kill_quietly,
    resolve_capabilities,
    rootless_mode,
    write_pid_file,
)
from pyrunc.lifecycle import quietly, run_hooks, state_for_hooks
from pyrunc.log import rfc3339
from pyrunc.records import dataclass
from pyrunc.store import status as st
from pyrunc.store import ContainerDir
from pyrunc.testhooks import reached


def create(opts, cid, bundle, *, pid_file=None, console_socket=None, console_fd=-1,
           no_pivot=False, no_new_keyring=False, preserve_fds=0):
    """Create the container; returns its init pid. The init then waits on the fifo."""
    from pyrunc.process import spawn

    rootless_mode(opts.rootless)  # a bad --rootless fails before anything is made
    bundle = os.path.abspath(bundle)
    if not os.path.isdir(bundle):
        raise PyruncError(f"bundle {bundle}: no such directory")
    check_preserved_fds(preserve_fds)
    checked = check(opts, bundle)
    cfg = checked.config
    where = f"container {cid}"
    with Rollback() as undo:
        cdir = ContainerDir.create(opts.root, cid)
        undo.callback(cdir.close)
        undo.callback(quietly, opts.log, cdir.remove)
        reached("create:after-statedir")
        mgr = cgroup_manager(opts, cid, cfg)  # describes the cgroup; nothing is made yet
        plan = build_plan(checked, cid, bundle, state_dir=cdir.path, mgr=mgr, no_pivot=no_pivot,
                          no_new_keyring=no_new_keyring, preserve_fds=preserve_fds,
                          own_cgroup=_own_cgroup_dirs() if mgr is None else ())
        hooks_cfg = cfg.get("hooks") or {}
        record = new_record(cid, bundle, plan.rootfs, cfg, plan.join_namespaces)
        # a console_fd from `run` is its own: the runtime is the console and,
        # as runc's recvtty, wants no ONLCR; a --console-socket's owner decides
        raw_console = console_fd >= 0
        if plan.terminal and console_fd < 0:
            console_fd = connect_console(console_socket)
            undo.callback(os.close, console_fd)
            reached("create:after-console")
        hook_state = state_for_hooks(record, st.CREATING)

        placement = mgr.self_placement() if mgr is not None else None

        def before_fork():
            record.update(owner=owner(), creator={"pid": os.getpid(), "start": procfs.start_time(os.getpid())})
            if mgr is not None:
                record["cgroup"] = mgr.record()
            cdir.save(record)  # before any acquisition: a later delete finds all of it
            reached("create:after-record")
            old = os.umask(0)
            try:
                os.mkfifo(cdir.fifo_path, 0o622)
            finally:
                os.umask(old)
            reached("create:after-fifo")
            if mgr is not None:
                undo.callback(quietly, opts.log, kill_cgroup_and_destroy, mgr)
                if placement is not None and placement.into is not None:
                    mgr.make_ahead("")  # the cgroup2 dir stage-1 is forked into
                    record["cgroup"] = mgr.record()  # made, so ours: a delete after a crash removes it
                    cdir.save(record)

        def before_placement():
            # after the fork: stage-1 imports its modules (~3-5 ms) meanwhile.
            # The cgroup's mkdirs also wait there for the grace period
            # kernel/cgroup_prepay.py started (that write holds the kernel's
            # cgroup_mutex until then); runc too forks before it applies cgroups
            if mgr is not None:
                mgr.create()
                record["cgroup"] = mgr.record()  # now names the parents it made, for delete
                cdir.save(record)
            reached("create:after-cgroup")

        def run_create_hooks(init_pid):
            state = dict(hook_state, pid=init_pid)
            for phase in ("prestart", "createRuntime"):
                try:
                    run_hooks(phase, hooks_cfg.get(phase), state)
                except HookError as exc:
                    raise SpawnError(f"{where}: {exc}") from None

        agent = NO_AGENT
        if plan.seccomp is not None and plan.seccomp.uses_notify:  # type: ignore[attr-defined]  # a CompiledSeccomp
            # SCMP_ACT_NOTIFY: the init sends its listener fd to the agent itself
            # (seccomp_notify imports socket.py and contextlib: only then)
            from pyrunc.security.seccomp import notify as seccomp_notify
            agent = seccomp_notify.agent_connection(plan, hook_state)
        with agent as (agent_fd, agent_state):
            ctx = spawn.Context(fifo_path=cdir.fifo_path, console_fd=console_fd, hook_state=hook_state,
                                close_in_child=(cdir.fileno(),), raw_console=raw_console,
                                seccomp_agent_fd=agent_fd, seccomp_state=agent_state)
            init_pid = spawn.spawn(plan, ctx, where=where, before_fork=before_fork,
                                   before_placement=before_placement,
                                   place_in_cgroup=(mgr.add if mgr is not None else (lambda pid: None)),
                                   self_placement=placement, run_create_hooks=run_create_hooks)
        undo.callback(kill_quietly, init_pid)
        if plan.net_devices:
            from pyrunc.lifecycle import netdevices
            record["net_devices"] = netdevices.move_in(plan.net_devices, init_pid, where)
            # (undone before the kill above: afterwards the namespace is gone)
            undo.callback(quietly, opts.log, netdevices.move_out, record["net_devices"], init_pid)
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


@dataclass(frozen=True)
class Checked:
    """A config the pipeline accepted, with what create compiled from it."""
    config: dict
    seccomp: object = None              # the pipeline's compiled filter
    capabilities: dict | None = None    # resolved to numbers


def check(opts, bundle) -> Checked:
    """All create decides about the config before it makes anything.

    Every check of the config is pyrunc.config's pipeline, the one `validate`
    runs (it also compiles the seccomp filter; runc: unknown syscalls at debug
    level); what follows only translates. Raises ConfigError, nothing else a
    user's config can cause.
    """
    from pyrunc import config
    loaded = config.load(bundle, cache_dir=os.path.join(opts.root, ".cache"), warn=opts.log.warn,
                         debug=opts.log.debug)
    caps = resolve_capabilities(loaded.config, opts.log.warn, debug=opts.log.debug)
    return Checked(loaded.config, loaded.seccomp, caps)


def build_plan(checked, cid, bundle, *, state_dir=None, mgr=None, no_pivot=False,
               no_new_keyring=False, preserve_fds=0, environ=None, own_cgroup=()):
    """The container's plan, built once with every input: the checked config,
    the cgroup manager's dirs (fixed when it is made), and runc's pass-through
    of LISTEN_FDS (activation.py) and NOTIFY_SOCKET (notify.py, which makes
    its directory in `state_dir`) from `environ`. Without a manager, a
    `cgroup` mount shows `own_cgroup`'s dirs (rootless: _own_cgroup_dirs)."""
    from pyrunc import plan as planner
    from pyrunc.lifecycle import activation
    env = os.environ if environ is None else environ
    listen_fds, extra_env = activation.passed(env)
    extra_mounts: tuple = ()
    if state_dir is not None and env.get("NOTIFY_SOCKET"):
        # notify.py imports socket.py: only when needed
        from pyrunc.lifecycle import notify as notify_socket
        extra_mounts, notify_env = notify_socket.prepare(state_dir, env)
        extra_env += notify_env
    return planner.build(checked.config, cid, bundle, no_pivot=no_pivot, no_new_keyring=no_new_keyring,
                         preserve_fds=listen_fds + preserve_fds, seccomp=checked.seccomp,
                         capabilities=checked.capabilities,
                         cgroup_dirs=_cgroup_dirs(mgr) if mgr is not None else own_cgroup,
                         extra_env=extra_env, extra_mounts=extra_mounts)


def prepare(opts, cid, bundle, *, no_pivot=False, no_new_keyring=False, preserve_fds=0):
    """(config, plan) as create gets them before it makes anything (no state
    dir, no cgroup manager yet): check() and build_plan()."""
    checked = check(opts, bundle)
    return checked.config, build_plan(checked, cid, bundle, no_pivot=no_pivot,
                                      no_new_keyring=no_new_keyring, preserve_fds=preserve_fds)


def new_record(cid, bundle, rootfs, cfg, join_namespaces=()):
    """The state record a create (or a restore) starts from: creating, no
    pid yet; the hooks kept are those a later verb runs."""
    hooks_cfg = cfg.get("hooks") or {}
    return {"id": cid, "status": st.CREATING, "pid": 0, "pid_start": None,
            "bundle": bundle, "rootfs": rootfs, "created": rfc3339(),
            "annotations": cfg.get("annotations") or {},
            "hooks": {k: hooks_cfg[k] for k in ("poststart", "poststop") if hooks_cfg.get(k)},
            "namespaces": dict(join_namespaces)}


def _cgroup_dirs(mgr):
    return cgroup_mount_dirs(mgr.record())


def cgroup_mount_dirs(rec):
    """(name under /sys/fs/cgroup, host dir) pairs for a `cgroup` mount inside
    the container with the cgroup record `rec`: its own cgroup dirs only,
    never the host's tree. On a hybrid host, like runc, the v1 hierarchies
    only. (Also what checkpoint and restore declare as CRIU's external mounts.)"""
    return _mountable(rec.get("paths") or {}, rec.get("root") or "/sys/fs/cgroup")


def _own_cgroup_dirs():
    """What a rootless container without a cgroup of its own (acquire.cgroup_manager)
    sees at a `cgroup` mount: the cgroups it lives in, pyrunc's own, as runc's."""
    from pyrunc.cgroups import layout
    own = layout.parse_proc_cgroup(layout.own_cgroups())
    if layout.mode() == "v2":
        return _mountable({"": layout.DEFAULT_ROOT + own.get("", "/")}, layout.DEFAULT_ROOT)
    paths = {c: os.path.normpath(d) for c, d in layout.v1_paths(".").items()}
    return _mountable(paths, layout.DEFAULT_ROOT)


def _mountable(paths, root):
    if set(paths) == {""}:
        return (("", paths[""]),)
    out = {os.path.relpath(d, root).split("/")[0]: d for name, d in paths.items() if name}
    return tuple(sorted(out.items()))


def owner():
    import pwd  # create only: state, kill and delete never need it
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
