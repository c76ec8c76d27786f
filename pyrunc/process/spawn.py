"""The parent's side of starting a container's init.

Forks stage-1 (init/stage1.py), places it in the cgroup before it may go on,
writes the user namespace id maps when asked, learns the init's host pid,
runs the create-time runtime hooks when the init reaches them, and returns
once the init reports `ready`. Sync steps are numbered as in sync.py.
A failure anywhere kills what was forked and raises one SpawnError.
"""
from __future__ import annotations

import os

from pyrunc import testhooks as testguards
from pyrunc.testhooks import reached
from pyrunc.errors import ChildFailed, PeerGone, SpawnError, describe_oserror
from pyrunc.kernel import cgroup_prepay, procfs
from pyrunc.process import sync
from pyrunc.kernel.cpython import signal
from pyrunc.records import dataclass, field


@dataclass
class Context:
    """What the child needs besides the plan (inherited across fork).

    The parent sets its fields at construction and never changes them; the
    last three are declared here for the child, which fills them in on its
    way (stage-1 for the stages after it)."""
    fifo_path: str | None = None     # the exec fifo (create only)
    console_fd: int = -1             # --console-socket's connection, or run/exec's own pty socket
    # the runtime itself is the console (run/exec -t without
    # --console-socket): the child clears the pty's ONLCR (init/console.py)
    raw_console: bool = False
    hook_state: dict = field(default_factory=dict)  # the state hooks get (createContainer, ...)
    # e.g. the container dir's lock: a copy held by the init would keep the
    # lock taken until execve; closed first thing after the fork
    close_in_child: tuple = ()
    next_stage: str = "stage2"       # what stage-1 forks: "stage2" (the init) or "exec_child"
    seccomp_agent_fd: int = -1       # SCMP_ACT_NOTIFY: connected to the agent (seccomp/notify.py)
    seccomp_state: dict | None = None  # the ContainerProcessState sent with the listener fd
    # v1 `tasks` files stage-1 moves itself into after `go` (kernel/clone_into.py)
    cgroup_tasks: tuple = ()
    # filled in by the child
    fifo_fd: int = -1                # O_PATH of fifo_path, opened by stage-1 as the host's root
    bind_trees: dict | None = None   # bind sources stage-1 took (init/rootfs.open_bind_sources)
    host_pid: int | None = None      # ours as the host sees it (for the seccomp agent)


class Children:
    """The processes a failed spawn must kill: stage-1, then its child."""

    def __init__(self, stage1=0):
        self.stage1 = stage1
        self.target = 0
        # the hierarchies the parent still writes the pid into (None: all);
        # with a self_placement only the cgroup2 one, when the fork into it was refused
        self.parent_places = None

    def kill(self):
        _kill(self.target, self.stage1)


def fork_stage1(plan, ctx, self_placement=None):
    """Fork stage-1 (it waits for `go`); (parent's sync socket, Children).
    After its namespaces, stage-1 forks ctx.next_stage: the container's init
    (init/stage2.py) or an exec'd process (init/exec_child.py).
    self_placement (the manager's, cgroups/base.py): stage-1 is forked into
    its cgroup2 directory and moves itself into the v1 ones after `go`
    (kernel/clone_into.py); Children.parent_places says what is left.

    The child imports its own modules (pyrunc.init: _ctypes, python-prctl,
    ~3-5 ms) right after the fork, while the parent makes the cgroup and
    moves it there. Unless the grace period kernel/cgroup_prepay.py started
    is still on: the fork waits for it, so the parent imports them meanwhile
    and the child inherits them. Either way still before any namespace or
    mount change, with the host's sys.path: after pivot_root nothing may be
    imported (pyrunc.init says why)."""
    parent_sock, child_sock = sync.pair()
    if cgroup_prepay.pending():
        # the fork waits for that writer anyway (it joins every thread
        # first): the child's imports cost nothing now, and the child, which
        # inherits them, then has none to do
        _import_child_modules(plan)
    into = None
    if self_placement is not None:
        into, ctx.cgroup_tasks = self_placement.into, self_placement.tasks
    pid, placed = _fork(into)
    if pid == 0:
        parent_sock.close()
        # first: e.g. the container dir's lock, which a crash test (or a
        # `delete --force` after a killed create) must find free at once
        for fd in ctx.close_in_child:
            os.close(fd)
        close_inherited(plan, ctx, child_sock.fileno())
        try:
            stage1 = _child_modules(plan)
        except BaseException as exc:  # noqa: BLE001 - to the parent, as one line
            sync.child_fail(child_sock, exc)
        stage1.run(plan, child_sock, ctx)  # never returns
        os._exit(1)
    child_sock.close()
    kids = Children(pid)
    if self_placement is not None:
        kids.parent_places = ("",) if into is not None and not placed else ()
    return parent_sock, kids


def _fork(into):
    """(pid, placed): into the cgroup2 directory `into` when the kernel
    allows it, else a plain fork, which the caller's write then places."""
    if into is not None:
        from pyrunc.kernel import clone_into
        try:
            return clone_into.fork_into(into), True
        except OSError:
            pass  # e.g. no CLONE_INTO_CGROUP, or a cgroup that may hold no process
    return os.fork(), False


def close_inherited(plan, ctx, sync_fd):
    """In the child, first thing: close every fd but the ones it needs.

    The caller's fds (whatever it left inheritable) and pyrunc's own would
    otherwise stay open in a created container's init until execve, and be
    reachable there through /proc/<pid>/fd; runc's init holds only its exec
    fifo. Kept: stdio, --preserve-fds and LISTEN_FDS (3..3+n-1: create's
    build_plan counts the latter into plan.preserve_fds), the sync socket, the console
    socket and the seccomp agent's socket."""
    if testguards.off("close-fds"):
        return
    keep = {sync_fd, ctx.console_fd, ctx.seccomp_agent_fd}
    first_free = 3 + plan.preserve_fds
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first_free and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # listdir's own fd, gone already


def _import_child_modules(plan):
    try:
        _child_modules(plan)
    except Exception:  # noqa: BLE001 - the child tries again and reports it as one line
        pass


def _child_modules(plan):
    """pyrunc.init, and what this plan's child needs besides (preload)."""
    from pyrunc.init import preload, stage1
    preload.for_plan(plan)
    return stage1


def until_pid(sock, kids, plan, place_in_cgroup, before_placement=None):
    """Steps 1-4: cgroup, go, id maps; returns the host pid stage-1 forked.
    `before_placement()` runs first (create makes the cgroup there)."""
    reached("create:after-fork")
    if before_placement is not None:
        before_placement()
    if kids.parent_places is None:
        place_in_cgroup(kids.stage1)
    elif kids.parent_places:
        place_in_cgroup(kids.stage1, kids.parent_places)
    reached("create:after-cgroup-add")
    try:
        sync.send(sock, sync.GO)  # 1
    except OSError:
        pass  # the child is gone: its error message (or EOF) is read next
    reached("create:after-go")
    msg = sync.recv(sock)
    if msg.get("t") == sync.IDMAP:  # 2
        _write_id_maps(kids.stage1, plan)
        reached("create:after-idmap")
        sync.send(sock, sync.IDMAP_DONE)  # 3
        msg = sync.recv(sock)
    if msg.get("t") == sync.ERROR:
        raise ChildFailed(msg.get("msg"))
    if msg.get("t") != sync.PID:
        raise ChildFailed(f"sync: unexpected {msg.get('t')}")
    kids.target = int(msg["pid"])  # 4
    reached("create:after-pid")
    _reap(kids.stage1)
    kids.stage1 = 0
    return kids.target


class failing_as:  # noqa: N801 - used as `with failing_as(...)`, like a contextmanager
    """Any failure kills what was forked; a child's failure becomes one
    `error_class` message, `gone` when the child died without a word.
    (A class, not contextlib.contextmanager: contextlib costs ~1 ms of imports.)"""

    def __init__(self, error_class, where, kids, gone):
        self.error_class, self.where, self.kids, self.gone = error_class, where, kids, gone

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, _tb):
        if kind is None:
            return False
        self.kids.kill()
        if issubclass(kind, ChildFailed):
            raise self.error_class(f"{self.where}: {exc}") from None
        if issubclass(kind, PeerGone):
            raise self.error_class(f"{self.where}: {self.gone}") from None
        return False


def spawn(plan, ctx, *, place_in_cgroup, run_create_hooks, where, before_fork=None,
          before_placement=None, self_placement=None):
    """Fork the container; returns the init's host pid once it is ready.

    before_fork(), before_placement(), place_in_cgroup(pid, only=None) and
    run_create_hooks(init_pid) are the parent's parts, in that order;
    `where` prefixes error messages (e.g. "container web"). A failure in
    any of them but the first kills stage-1. before_placement runs after
    the fork, while the child imports, unless the grace period
    cgroup_prepay started is still on: then before it.

    self_placement (the manager's, cgroups/base.py): as fork_stage1's; the
    cgroup2 directory it names is before_fork's to make. place_in_cgroup
    is then called only when the kernel refused the fork into it, with
    only=("",)."""
    if before_fork is not None:
        before_fork()
    if self_placement is None and before_placement is not None and cgroup_prepay.pending():
        # the fork would wait for the grace period (fork_stage1): import for
        # the child and do the parent's part now; its mkdirs end with it
        _import_child_modules(plan)
        before_placement()
        before_placement = None
    sock, kids = fork_stage1(plan, ctx, self_placement)
    try:
        with failing_as(SpawnError, where, kids, "container init exited unexpectedly during set-up"):
            init_pid = until_pid(sock, kids, plan, place_in_cgroup, before_placement)
            while True:
                msg = sync.recv(sock)
                kind = msg.get("t")
                if kind == sync.HOOKS:  # 5
                    run_create_hooks(init_pid)
                    reached("create:after-hooks")
                    sync.send(sock, sync.HOOKS_DONE)  # 6
                elif kind == sync.READY:  # 7
                    return init_pid
                elif kind == sync.ERROR:
                    raise ChildFailed(msg.get("msg"))
                else:
                    raise ChildFailed(f"sync: unexpected {kind}")
    finally:
        sock.close()


def _write_id_maps(pid, plan):
    """Root writes both maps. A non-root user may write one mapping of its
    own id (and gid_map only after setgroups is denied: the kernel's rule,
    user_namespaces(7)); any other map goes through the setuid
    newuidmap/newgidmap, which check it against /etc/subuid and /etc/subgid
    (config/checks/rootless.py said so up front, as runc's nsexec does)."""
    euid = os.geteuid()
    for name, data, own in (("uid_map", plan.uid_map, euid), ("gid_map", plan.gid_map, os.getegid())):
        if not data:
            continue
        triples = [line.split() for line in data.splitlines() if line.strip()]
        try:
            if euid == 0 or (len(triples) == 1 and triples[0][1:] == [str(own), "1"]):
                if euid != 0 and name == "gid_map":
                    procfs.write(f"/proc/{pid}/setgroups", "deny")
                procfs.write(f"/proc/{pid}/{name}", data)
            else:
                _map_with_tool(pid, name, triples)
        except OSError as exc:
            raise ChildFailed(f"write {name}: {describe_oserror(exc)}") from None


def _map_with_tool(pid, name, triples):
    import subprocess

    from pyrunc import rootless
    path = rootless.SUBUID if name == "uid_map" else rootless.SUBGID
    tool = rootless.tool(path) or rootless.TOOLS[path]
    argv = [tool, str(pid)] + [n for t in triples for n in t]
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ChildFailed(f"write {name}: {tool}: {exc}") from None
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip().splitlines()
        raise ChildFailed(f"write {name}: {' '.join(argv)}: "
                          f"{said[-1] if said else f'exit status {done.returncode}'}")


def _reap(pid):
    while True:
        try:
            os.waitpid(pid, 0)
            return
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _kill(init_pid, stage1_pid):
    for pid in (init_pid, stage1_pid):
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    if stage1_pid:
        _reap(stage1_pid)
