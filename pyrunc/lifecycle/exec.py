"""`pyrunc exec`: a new process in a created or running container.

Where it sits: cli/verbs.py parses runc's flags and calls `run_exec`, the API `exec_process`;
this module decides everything a user can get wrong before the first fork
(the process object, the terminal/console-socket combination, the preserved
fds, the container's status, its namespaces and cgroup), compiles the
container's seccomp profile and the process's capabilities, builds the plan
once with all of it (plan.build), and hands the rest to process/exec_spawn.py
(stage-1 joins, init/exec_child.py sets up and execs).

runc's rules, followed here:
- `--process FILE` is the whole OCI process object; otherwise the container's
  own config.json process is the base and the flags override it.
- capabilities, rlimits, AppArmor profile and SELinux label the process does
  not give come from the container's config; no_new_privileges is the
  process's own; seccomp is always the container's profile.
- the process joins every namespace the container's config lists (user
  first, mount last: /proc/<init>/ns paths must be opened before our root
  moves into the container) and the container's cgroup (or a sub-cgroup
  with --cgroup).
- `--detach` writes --pid-file and returns: the caller (conmon, the shim) is
  the subreaper that adopts and reaps the process. In the foreground pyrunc
  is the subreaper, forwards signals, proxies the pty when no
  --console-socket was given, and exits with the process's status.
"""
from __future__ import annotations

import copy
import os

from pyrunc import jsonio
from pyrunc.lifecycle import acquire, container_config, load, state_for_hooks, status_of
from pyrunc.store import status as st
from pyrunc import testhooks as testguards
from pyrunc.errors import ConfigError, ExecError, InvalidState, PyruncError, UsageError, describe_oserror
from pyrunc.kernel import procfs
from pyrunc.kernel.cpython import socket
from pyrunc.kernel.flags import NAMESPACE_PROC_NAMES

# OCI namespace type -> /proc/<pid>/ns name; the order is the join order
JOIN_ORDER = tuple((oci, NAMESPACE_PROC_NAMES[oci])
                   for oci in ("user", "pid", "network", "ipc", "uts", "cgroup", "time", "mount"))


class Flags:
    """runc exec's process flags (used only without --process)."""

    def __init__(self, args=(), cwd=None, env=(), tty=None, user=None, additional_gids=(),
                 caps=(), no_new_privs=None, apparmor=None, process_label=None):
        self.args = list(args)
        self.cwd = cwd
        self.env = list(env)
        self.tty = tty
        self.user = user
        self.additional_gids = list(additional_gids)
        self.caps = list(caps)
        self.no_new_privs = no_new_privs
        self.apparmor = apparmor
        self.process_label = process_label


def load_process_file(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            process = jsonio.loads(f.read())
    except OSError as exc:
        raise UsageError(f"process {path}: {describe_oserror(exc)}") from None
    except ValueError as exc:
        raise UsageError(f"process {path}: invalid JSON: {exc}") from None
    if not isinstance(process, dict):
        raise UsageError(f"process {path}: must be a JSON object")
    return process


def process_from_flags(base: dict, flags: Flags) -> dict:
    """The container's process with runc exec's flags applied."""
    p = copy.deepcopy(base or {})
    p["args"] = list(flags.args)
    if flags.cwd:
        p["cwd"] = flags.cwd
    if flags.apparmor:
        p["apparmorProfile"] = flags.apparmor
    if flags.process_label:
        p["selinuxLabel"] = flags.process_label
    if flags.caps:
        caps = p.setdefault("capabilities", {})
        for name in ("bounding", "effective", "permitted"):
            caps[name] = list(caps.get(name) or ()) + list(flags.caps)
        # and ambient, where it can be raised at all: never inheritable
        # (CVE-2022-29162), so only next to the config's own inheritable set
        # (runc; 1.1.5 adds it always and drops the raise that fails)
        if caps.get("inheritable") is not None:
            caps["ambient"] = list(caps.get("ambient") or ()) + list(flags.caps)
        if testguards.off("exec-cap-inheritable"):  # runc < 1.1.2 (CVE-2022-29162)
            caps["inheritable"] = list(caps.get("inheritable") or ()) + list(flags.caps)
    p["env"] = list(p.get("env") or ()) + list(flags.env)
    # runc: the container's terminal setting does not carry over to exec
    p["terminal"] = bool(flags.tty)
    if flags.no_new_privs is not None:
        p["noNewPrivileges"] = flags.no_new_privs
    user = dict(p.get("user") or {})
    if flags.user:
        uid, _, gid = flags.user.partition(":")
        try:
            user["uid"] = int(uid)
            if gid:
                user["gid"] = int(gid)
        except ValueError:
            raise UsageError(f"--user {flags.user}: must be uid[:gid] (numbers)") from None
    if flags.additional_gids:
        user["additionalGids"] = list(user.get("additionalGids") or ()) + list(flags.additional_gids)
    p["user"] = user
    return p


def validate_process(p: dict) -> None:
    """runc's validateProcessSpec."""
    args = p.get("args")
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        raise UsageError("process: args must not be empty")
    cwd = p.get("cwd")
    if not cwd:
        raise UsageError("process: cwd property must not be empty")
    if not os.path.isabs(cwd):
        raise UsageError("process: cwd must be an absolute path")
    # what config/checks/process.py checks for create: a --process file skips that pipeline
    from pyrunc.plan import RLIMITS
    for i, rl in enumerate(p.get("rlimits") or ()):
        name = rl.get("type") if isinstance(rl, dict) else None
        if name not in RLIMITS:
            raise ConfigError(f"config.json: process.rlimits[{i}].type: unknown rlimit {name!r}")


def run_exec(opts, container_id, command, *, process_file=None, cwd=None, env=(), tty=None,
             user=None, additional_gids=(), cap=(), no_new_privs=None, apparmor=None,
             process_label=None, detach=False, pid_file=None, console_socket=None,
             preserve_fds=0, cgroup=(), ignore_paused=False) -> int:
    """The `exec` verb, from parsed flags (pyrunc.cli's click command and
    pyrunc.cli both call this): the process's exit status, or ExecError
    `exec failed: ...` (exit 255, as runc) for any failure of exec itself;
    no container id at all is a UsageError (exit 1, as runc)."""
    from pyrunc.store import check_id
    if not container_id:
        # no arguments at all is a usage error, exit 1 (runc: "exec"
        # requires a minimum of 1 argument); everything after is exec's, 255
        raise UsageError("container id cannot be empty")
    try:
        check_id(container_id)
        if not process_file and not command:
            raise UsageError("no command given (use --process or give one after the id)")
        if preserve_fds < 0:
            raise UsageError("--preserve-fds: must be a non-negative number")
        flags = Flags(args=tuple(command), cwd=cwd, env=tuple(env), tty=tty, user=user,
                      additional_gids=tuple(additional_gids), caps=tuple(cap),
                      no_new_privs=no_new_privs, apparmor=apparmor, process_label=process_label)
        return exec_process(opts, container_id, process_file=process_file, flags=flags,
                            detach=detach, pid_file=pid_file, console_socket=console_socket,
                            preserve_fds=preserve_fds, cgroup=tuple(cgroup),
                            ignore_paused=ignore_paused)
    except PyruncError as exc:  # ExecError included: one "exec failed:" prefix
        raise ExecError(f"exec failed: {exc.message}") from None


def exec_process(opts, cid, *, process_file=None, flags=None, detach=False, pid_file=None,
                 console_socket=None, preserve_fds=0, cgroup=(), ignore_paused=False,
                 process=None, on_started=None) -> int:
    """Run the process; returns the exit code for the cli (0 when detached).
    pyrunc.api passes `process` (an OCI process object, as process_file
    holds one) and `on_started`, called with the process's host pid."""
    cdir, record = load(opts, cid, lock=False)
    with cdir:
        status = status_of(cdir, record)
    if not (ignore_paused and status == st.PAUSED):
        st.require("exec", status)
    init_pid = record.get("pid") or 0
    cfg = container_config(record)
    base = cfg.get("process") or {}
    if process_file or process is not None:
        process = load_process_file(process_file) if process_file else copy.deepcopy(process)
        if flags is not None and flags.tty:
            process["terminal"] = True  # podman passes --tty with --process
    else:
        process = process_from_flags(base, flags or Flags())
    validate_process(process)
    inherit_from_container(process, base)
    terminal = bool(process.get("terminal"))
    if detach and terminal and not console_socket:
        raise UsageError("cannot allocate tty if runc will detach without setting console socket")
    if (not detach or not terminal) and console_socket:
        raise UsageError("cannot use console socket if runc will not detach or allocate tty")
    _check_preserved_fds(preserve_fds)

    plan = _plan(cfg, process, record, init_pid, preserve_fds, opts.log.warn,
                 cache_dir=os.path.join(opts.root, ".cache"), debug=opts.log.debug)
    place, self_placement = _placement(record, cgroup)

    from pyrunc.process import exec_spawn, spawn
    relay = None
    if not detach:
        import _prctl  # python-prctl's C module (the child loads it too)
        _prctl.prctl(_prctl.PR_SET_CHILD_SUBREAPER, 1)  # stage-1 exits: its child must become ours to wait for
        relay = _SignalRelay()  # from now on: a signal to us is meant for the process
    ours = None
    console_fd = -1
    if terminal:
        if console_socket:
            console_fd = acquire.connect_console(console_socket)
        else:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            console_fd = theirs.detach()
    aff = process.get("execCPUAffinity") or {}
    initial = procfs.parse_cpu_list(aff["initial"]) if aff.get("initial") else None
    if initial:
        # execCPUAffinity.initial: stage-1 inherits it (runc); `final` (or a
        # reset to every CPU) is the child's, once in the cgroup (exec_child)
        os.sched_setaffinity(0, initial)
    try:
        agent = acquire.NO_AGENT
        if plan.seccomp is not None and plan.seccomp.uses_notify:  # type: ignore[attr-defined]  # a CompiledSeccomp
            # SCMP_ACT_NOTIFY: the exec'd process sends its listener fd to the agent
            # (runc's state for an exec: status running, the init's pid)
            from pyrunc.security.seccomp import notify as seccomp_notify
            agent = seccomp_notify.agent_connection(plan, state_for_hooks(record, "running"))
        with agent as (agent_fd, agent_state):
            # with no --console-socket we are the console: no ONLCR, as runc's recvtty
            ctx = spawn.Context(console_fd=console_fd, raw_console=ours is not None, next_stage="exec_child",
                                seccomp_agent_fd=agent_fd, seccomp_state=agent_state)
            pid = exec_spawn.spawn_exec(plan, ctx, place_in_cgroup=place, where=f"container {cid}",
                                        self_placement=self_placement)
    finally:
        if console_fd >= 0:
            os.close(console_fd)
    # the namespaces were opened by path: make sure they were still the init's
    if not procfs.is_alive(init_pid, record.get("pid_start")):
        acquire.kill_quietly(pid)
        raise InvalidState("container not running: its init exited during exec")
    if pid_file:
        acquire.write_pid_file(pid_file, pid)
    if on_started is not None:
        on_started(pid)
    if detach:
        return 0
    relay.target(pid)
    from pyrunc.lifecycle import run as runner
    master = runner.receive_master(ours) if ours is not None else None
    return runner.wait(pid, master)


class _SignalRelay:
    """Catch forwardable signals from before the fork on (runc installs its
    handler before starting the process): until the pid is known they are
    queued, then sent on. runner.wait later installs its own forwarder."""

    def __init__(self):
        from pyrunc.kernel.cpython import signal
        from pyrunc.lifecycle import run as runner
        self.pid = None
        self.pending = []
        for sig in runner.FORWARD:
            try:
                signal.signal(sig, self._handle)
            except (OSError, ValueError):
                pass

    def _handle(self, signum, _frame):
        if self.pid is None:
            self.pending.append(signum)
        else:
            self._send(signum)

    def _send(self, signum):
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def target(self, pid):
        self.pid = pid
        while self.pending:
            self._send(self.pending.pop(0))


def inherit_from_container(process: dict, base: dict) -> None:
    """What runc takes from the container when the exec'd process leaves it out."""
    if process.get("capabilities") is None and base.get("capabilities") is not None:
        process["capabilities"] = copy.deepcopy(base["capabilities"])
    if not process.get("rlimits") and base.get("rlimits"):
        process["rlimits"] = copy.deepcopy(base["rlimits"])
    for key in ("apparmorProfile", "selinuxLabel"):
        if not process.get(key) and base.get(key):
            process[key] = base[key]


def _check_preserved_fds(n: int) -> None:
    for fd in range(3, 3 + n):
        try:
            os.fstat(fd)
        except OSError:
            raise UsageError(f"unable to stat preserved-fd {fd - 2} (of {n}): "
                             f"fd {fd} is not open") from None


def _plan(cfg: dict, process: dict, record: dict, init_pid: int, preserve_fds: int, warn,
          cache_dir=None, debug=None):
    """The exec'd process's plan, built once: the process part of the
    container's config, its namespaces by path, its rootfs, seccomp profile
    and the process's capabilities."""
    from pyrunc import plan as planner
    linux = cfg.get("linux") or {}
    join = tuple(_namespaces(linux, init_pid))
    seccomp, capabilities = _security(cfg, process, warn, cache_dir=cache_dir, debug=debug)
    # only the process part of a config: plan.build turns it into the same
    # fields the init gets (rlimits, user, env, cwd, terminal, oomScoreAdj, ...)
    mini = {"process": process, "root": {"path": record.get("rootfs") or "/"},
            "linux": {key: linux[key] for key in ("personality", "memoryPolicy") if linux.get(key)}}
    return planner.build(mini, record["id"], record.get("bundle") or "/", preserve_fds=preserve_fds,
                         rootfs=record.get("rootfs") or None, join_namespaces=join,
                         seccomp=seccomp, capabilities=capabilities)


def _namespaces(linux: dict, init_pid: int):
    """(type, /proc/<init>/ns/<name>) for every namespace the container has."""
    listed = {ns.get("type") for ns in linux.get("namespaces") or ()}
    for oci, proc in JOIN_ORDER:
        if oci not in listed:
            continue
        theirs = procfs.ns_inode(init_pid, proc)
        if theirs is None:
            raise InvalidState(f"container not running: /proc/{init_pid}/ns/{proc} is gone")
        if theirs == procfs.ns_inode("self", proc):
            continue  # already ours (a shared namespace); setns into our own user ns fails
        yield oci, f"/proc/{init_pid}/ns/{proc}"


def _security(cfg, process, warn, cache_dir=None, debug=None):
    """Parent-side: (the container's compiled seccomp profile, the process's
    capabilities as numbers), each None when not given."""
    linux = cfg.get("linux") or {}
    # the rules create ran (pyrunc.config.checks), without the rest of pyrunc.config:
    # process.json is not a bundle, and the bundle's config.json may have changed since
    from pyrunc.config.checks import process as process_checks
    process_checks.check_process_security({"process": process}, warn)  # ioPriority, scheduler, LSMs, affinity
    seccomp = capabilities = None
    if linux.get("seccomp"):
        from pyrunc.config.checks import seccomp as seccomp_checks
        seccomp_checks.check_profile(linux["seccomp"])
        from pyrunc.security.seccomp import cache as seccomp_cache  # a hit skips libseccomp entirely
        seccomp = seccomp_cache.compile_cached(linux["seccomp"], warn, cache_dir=cache_dir,
                                               debug=debug)  # runc: unknown syscalls at debug level
    if process.get("capabilities") is not None:
        from pyrunc.security import capabilities as caps
        skip = process_checks.report_capabilities(process["capabilities"], warn)
        capabilities = caps.resolve_capabilities(process["capabilities"], skip=skip, debug=debug)
    return seccomp, capabilities


def _rootless_join(add):
    """As runc: a rootless exec whose caller may not move a process into the
    container's cgroup (moving needs write access to the common ancestor,
    root's when the caller runs in root's cgroup) stays where it is."""
    from pyrunc.errors import CgroupError

    def place(pid):
        try:
            add(pid)
        except CgroupError:
            pass
    return place


def _placement(record: dict, cgroup_opts):
    """(a function putting a pid in the container's cgroup, or a sub-cgroup
    of it; the manager's self_placement, or None: kernel/clone_into.py).

    --cgroup is runc's `[controller[,controller]:]path`: a path relative to the
    container's cgroup, for the named controllers or for all of them.
    """
    rec = record.get("cgroup")
    if not rec:
        if cgroup_opts:
            raise UsageError("--cgroup: the container has no cgroup")
        return (lambda pid: None), None
    from pyrunc import cgroups
    mgr = cgroups.load_manager(rec)
    if not cgroup_opts and mgr.rootless:
        return _rootless_join(mgr.add), None
    if not cgroup_opts:
        return mgr.add, mgr.self_placement()
    subs: dict[str, str] = {}
    for item in cgroup_opts:
        ctrls, sep, path = item.rpartition(":")
        targets = ctrls.split(",") if sep else list(mgr.paths)
        for ctrl in targets:
            if ctrl not in mgr.paths:
                raise UsageError(f"--cgroup {item}: the container has no {ctrl or 'cgroup2'} cgroup")
            subs[ctrl] = path
    dirs = {}
    for ctrl, base in mgr.paths.items():
        sub = subs.get(ctrl)
        d = os.path.normpath(os.path.join(base, sub.lstrip("/"))) if sub else base
        if not (d == base or d.startswith(base + "/")) or not os.path.isdir(d):
            raise UsageError(f"--cgroup: {d}: no such sub-cgroup of the container's")
        dirs[ctrl] = d

    def place(pid):
        for ctrl, d in dirs.items():
            try:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except OSError as exc:
                if ctrl in ("name=systemd", "") and mgr.driver == "fs":
                    continue  # as Manager.add: v1's named/hybrid hierarchies may refuse
                raise ExecError(f"cgroup: join {d}: {describe_oserror(exc)}") from None
    return place, None
