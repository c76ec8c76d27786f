"""`create`: from a bundle to an init waiting on the exec fifo.

Place in the flow: the CLI and the API call create(); it runs the config
pipeline (pyrunc.config: the same checks `validate` runs) and builds the plan
before it makes anything, then acquires in order -- state dir, record, fifo,
cgroup, console, the spawned init (pyrunc.process.spawn), network devices --
each registering its undo on a Rollback, so a failed create leaves nothing
behind. Heavy modules (config validation, seccomp, the child's code) load
only here and in run/exec.
"""

import os

from pyrunc.errors import HookError, PyruncError, SpawnError
from pyrunc.kernel import procfs
from pyrunc.lifecycle.common import (NO_AGENT, Rollback, cgroup_manager, check_preserved_fds, connect_console,
                                     kill_cgroup_and_destroy, kill_quietly, quietly, resolve_capabilities,
                                     rootless_mode, run_hooks, state_for_hooks, write_pid_file)
from pyrunc.log import rfc3339
from pyrunc.store import status as st
from pyrunc.store.statedir import ContainerDir
from pyrunc.testhooks.crashpoint import reached


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
    check_preserved_fds(preserve_fds)
    cfg, plan = prepare(opts, cid, bundle, no_pivot=no_pivot, no_new_keyring=no_new_keyring,
                        preserve_fds=preserve_fds)
    where = f"container {cid}"
    with Rollback() as undo:
        cdir = ContainerDir.create(opts.root, cid)
        undo.callback(cdir.close)
        undo.callback(quietly, opts.log, cdir.remove)
        reached("create:after-statedir")
        # LISTEN_FDS / NOTIFY_SOCKET pass-through (runc's; activation.py, notify_socket.py)
        from pyrunc.lifecycle import activation
        activation.apply(plan)
        if os.environ.get("NOTIFY_SOCKET"):  # notify_socket imports socket.py: only when needed
            from pyrunc.lifecycle import notify as notify_socket
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
                undo.callback(quietly, opts.log, kill_cgroup_and_destroy, mgr)
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
        if plan.seccomp is not None and plan.seccomp.uses_notify:  # type: ignore[attr-defined]  # a seccomp.Compiled
            # SCMP_ACT_NOTIFY: the init sends its listener fd to the agent itself
            # (seccomp_notify imports socket.py and contextlib: only then)
            from pyrunc.security.seccomp import notify as seccomp_notify
            agent = seccomp_notify.agent_connection(plan, ctx, hook_state)
        with agent:
            init_pid = spawn.spawn(plan, ctx, where=where, before_placement=before_placement,
                                   place_in_cgroup=(mgr.add if mgr is not None else (lambda pid: None)),
                                   run_create_hooks=run_create_hooks)
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


def _owner():
    import pwd  # create only: state, kill and delete never need it
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
