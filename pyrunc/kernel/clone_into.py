"""Joining a cgroup without the kernel's grace period.

Place in the flow: create (lifecycle/create.py) asks its cgroup manager for
a placement (cgroups/base.py, `Manager.self_placement`); process/spawn.py
then forks stage-1 with `fork_into` straight into the cgroup2 directory,
and stage-1 (init/stage1.py) moves itself into each v1 hierarchy with
`join_v1`. `free()` tells the CLI (cli/verbs.py) that create and run need
no cgroup_prepay then.

Why: the parent's write of the child's pid into a cgroup.procs file takes
the kernel's cgroup_threadgroup_rwsem for writing, which waits for an RCU
grace period after a quiet spell: 6-15 ms on this VM, the largest single
wait of a create. Two moves take no such lock:
  - a child born in its cgroup: clone3(CLONE_INTO_CGROUP), cgroup v2 only
    (Linux 5.7; runc's exec and crun use it);
  - one thread moving itself alone: "0" into a v1 hierarchy's `tasks`
    file (Linux 6.0 skips the lock when the mover is the task moved and
    no thread group is involved). A process that is single-threaded, as
    stage-1 is, is then wholly moved.
Measured on this host (hybrid, 6.18), 100 ms of quiet before each, median
of 15: fork + the parent writing cgroup.procs in the unified and the pids
hierarchy 15.1 ms; clone3 into the unified cgroup + "0" into pids' tasks
from the child 1.8 ms, fork included. (cgroup.threads is no way round on
cgroup2: it only moves threads within one threaded domain.)

What `fork_into` keeps of os.fork(): CPython's fork protocol around the
system call (PyOS_BeforeFork: the at-fork hooks, the import lock;
PyOS_AfterFork_Child/Parent), called with the GIL held, as os.fork() does.
What it leaves out is glibc's fork wrapper: glibc's own at-fork handlers
(so it refuses a process with other threads, one of which could hold a
libc lock; the CLI forks only single-threaded, ARCHITECTURE principle 2) and the thread id glibc caches (glibc >= 2.35
signals itself by gettid(), not by that cache; stage-1 forks its own
children with os.fork(), which sets theirs).
"""
import posix

_CLONE_INTO_CGROUP = 0x200000000
_SIGCHLD = 17
_SYS_CLONE3 = 435       # the same number on every architecture Linux has added it to
_CLONE_ARGS_SIZE = 88   # struct clone_args up to .cgroup (CLONE_ARGS_SIZE_VER2)


def free():
    """May create place stage-1 without the grace period here: root (a
    rootless container's cgroup is systemd's or its delegate's to make) on
    Linux 6.0 or later (the single-thread move; clone3 came before)."""
    if posix.geteuid() != 0:
        return False
    try:
        major, minor = posix.uname().release.split(".")[:2]
        return (int(major), int("".join(c for c in minor if c.isdigit()) or 0)) >= (6, 0)
    except ValueError:
        return False


def fork_into(cgroup_dir):
    """Fork into the cgroup2 directory `cgroup_dir`: the child's pid in the
    parent, 0 in the child, as os.fork(). OSError when the kernel refuses
    (no clone3 or CLONE_INTO_CGROUP, a cgroup that may hold no processes,
    no permission, gone); the caller then forks and places the child itself."""
    if len(posix.listdir("/proc/self/task")) != 1:
        # another thread may hold a libc lock (malloc's) that glibc's fork
        # would have taken for us: an API caller's thread, say
        raise OSError(0, "clone3: this process has other threads; forking the usual way")
    from pyrunc.kernel import libc
    api = _python_api(libc)
    fd = posix.open(cgroup_dir, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
    try:
        fields = (_CLONE_INTO_CGROUP, 0, 0, 0, _SIGCHLD, 0, 0, 0, 0, 0, fd)
        args = libc.buffer(b"".join(v.to_bytes(8, "little") for v in fields))
        api["PyOS_BeforeFork"]()
        pid = api["syscall"](libc.c_long(_SYS_CLONE3), args, libc.c_size_t(_CLONE_ARGS_SIZE))
        if pid == 0:
            api["PyOS_AfterFork_Child"]()
            return 0
        api["PyOS_AfterFork_Parent"]()
        if pid < 0:
            code = libc.get_errno()
            raise OSError(code, f"clone3 into {cgroup_dir}: {posix.strerror(code)}")
        return pid
    finally:
        posix.close(fd)  # the child's copy too: nothing of it may reach the container


def _python_api(libc):
    """The functions fork_into calls, bound to keep the GIL (ctypes'
    pythonapi flavour): os.fork() calls them with it held."""
    return {name: libc.function(name, restype=restype, gil=True)
            for name, restype in (("PyOS_BeforeFork", None), ("PyOS_AfterFork_Child", None),
                                  ("PyOS_AfterFork_Parent", None), ("syscall", libc.c_long))}


def join_v1(tasks_files):
    """In stage-1 (single-threaded): move this process into each v1
    hierarchy by writing "0" into its `tasks` file. `tasks_files` is
    ((controller, path, required), ...); a failure of a required one
    raises CgroupError, worded as the parent's cgroup.procs write would be."""
    for controller, path, required in tasks_files:
        try:
            fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC)
            try:
                posix.write(fd, b"0")
            finally:
                posix.close(fd)
        except OSError as exc:
            if required:
                from pyrunc.errors import CgroupError, describe_oserror
                raise CgroupError(f"cgroup {controller}: write tasks=0: {describe_oserror(exc)}") from None
