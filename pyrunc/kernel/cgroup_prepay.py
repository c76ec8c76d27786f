"""Starts the kernel's wait for a cgroup move early, while pyrunc still has
other work to do.

Place in the flow: create, run and exec call `start()` first, right after
parsing their arguments (pyrunc.cli, and the click commands in
pyrunc.cli). That is before their imports, the config, the plan and the fork.
About 10 ms later they place stage-1 (or the exec'd process) in the
container's cgroup. Only where that placement is the parent's write: with
cgroupfs on Linux 6.0+, as root, stage-1 joins without any grace period
(kernel/clone_into.py) and `start()` does nothing.

Why: a write to any cgroup.procs file takes the kernel's
cgroup_threadgroup_rwsem for writing. The first writer after a quiet spell
waits for an RCU grace period: 5-27 ms on this VM, longer than everything
pyrunc does before its fork. Writers that arrive while that wait is under
way, or within one grace period after it, do not wait again.

`start()` writes our own pid into the cgroup we are already in. That move
moves nothing, but it starts the grace period at once, in a thread, so the
wait runs alongside the start-up work (imports, config, plan, state dir)
instead of after the fork. Measured on this VM with 100 ms idle before each
create: the placement went from 13-20 ms after the fork to 0-2 ms, and
create from ~43 to ~35 ms.

The thread is gone before pyrunc forks: every os.fork() waits for it first
(`join`, an at-fork hook), so pyrunc forks only single-threaded
(ARCHITECTURE, principle 2). While it still waits, create does its part of
the work that needs no fork (process/spawn.py): it imports the child's
modules for it and makes the cgroup, whose mkdirs wait for the grace period
too (the writer holds the kernel's cgroup_mutex). Two other shapes were
measured (median create of 30, 100 ms idle before each, against runc's
30.4 ms): a thread left running across the fork, 32.1 ms, against 34.5 ms
for this one; a forked child as the writer, 39.6 ms (most likely the
copy-on-write faults of a parent that imports while that child lives).

Here, not in pyrunc.cgroups: importing that package (layout, errors) before
`start()` would delay the grace period by ~0.6 ms; importing os, by ~1.2 ms
(posix instead: the hot verbs and the CLI never load os, kernel/posixos.py).

Best effort: if nothing can be opened or the kernel refuses the write
(rootless, no cgroupfs, EBUSY on a cgroup v2 inner node), the thread ends
silently and nothing changes for the caller. Import-light: posix and thread.
"""
import posix

from pyrunc.kernel import posixos
from pyrunc.kernel.cpython import thread

ROOT = "/sys/fs/cgroup"


def own_procs_file():
    """An fd of our own cgroup's cgroup.procs, opened for writing, or None.

    The cgroup2 line ("0::/path") first: /sys/fs/cgroup on a unified host,
    /sys/fs/cgroup/unified on a hybrid one (which also has v1 lines). Then
    the v1 hierarchies, by their directory names, for a host without
    cgroup2."""
    try:
        fd = posix.open("/proc/self/cgroup", posix.O_RDONLY | posix.O_CLOEXEC)
        try:
            lines = posix.read(fd, 65536).decode("utf-8", "replace").splitlines()
        finally:
            posix.close(fd)
    except OSError:
        return None
    v2, v1 = [], []
    for line in lines:
        _, ctrls, path = (line.split(":", 2) + ["", ""])[:3]
        if not path.startswith("/"):
            continue
        if ctrls == "":
            v2 = [ROOT + path, ROOT + "/unified" + path]
        else:
            v1.append(ROOT + "/" + ctrls.replace("name=", "") + path)
    if v1:  # v1 lines too: a hybrid host, cgroup2 (if any) is "unified"
        v2.reverse()
    candidates = v2 + v1  # the likeliest first: a failed open costs ~0.1 ms
    for directory in candidates:
        try:
            return posix.open(directory.rstrip("/") + "/cgroup.procs", posix.O_WRONLY | posix.O_CLOEXEC)
        except OSError:
            continue
    return None


# released by the writer when it has finished; None when there is none
_finished = None
_threads_before = 1  # the process's own threads, which join() does not wait for


def start(preserve_fds=0, self_placing=False):
    """Start the grace period in a thread; returns at once.

    Not with --preserve-fds or LISTEN_FDS: those name fds 3, 4, ... that the
    caller passes, and ours, the lowest free number, could take one it named
    but did not open (create would then find it open and pass it on).
    Not when the caller will place its child itself (`self_placing`) where
    that takes no grace period (kernel/clone_into.py): then this write's
    wait would only hold up the cgroup's mkdirs (it holds cgroup_mutex)."""
    global _finished, _threads_before
    if _finished is not None or preserve_fds or posixos.getenv("LISTEN_FDS") is not None:
        return
    if self_placing:
        from pyrunc.kernel import clone_into
        if clone_into.free():
            return
    fd = own_procs_file()
    if fd is None:
        return
    _threads_before = _thread_count()
    pid = b"%d" % posix.getpid()
    running = thread.allocate_lock()
    running.acquire()
    finished = thread.allocate_lock()
    finished.acquire()

    def write():
        running.release()
        try:
            posix.write(fd, pid)  # blocks in the kernel, without the GIL
        except OSError:
            pass
        finally:
            posix.close(fd)
            finished.release()

    try:
        thread.start_new_thread(write, ())
    except RuntimeError:  # no thread to be had: do without
        posix.close(fd)
        return
    _finished = finished
    # pyrunc forks only single-threaded (ARCHITECTURE, principle 2): every
    # fork waits for the writer first, at most what is left of the grace period
    posix.register_at_fork(before=join)
    # give the GIL to the thread until it is about to write; otherwise it
    # would wait for the switch interval (5 ms) behind our imports
    running.acquire()


def started():
    """True once start() has started a writer that join() has not joined yet."""
    return _finished is not None


def pending():
    """True while the writer still waits for the grace period."""
    return _finished is not None and _finished.locked()


def join():
    """Wait until the writer has finished and its thread is gone."""
    global _finished
    if _finished is None:
        return
    _finished.acquire()
    _finished = None
    # what is left of the thread is its exit, holding none of the
    # interpreter's locks; let it go, so that a fork copies one thread
    for _ in range(10000):
        if _thread_count() <= _threads_before:
            break
        posix.sched_yield()


def _thread_count():
    try:
        return len(posix.listdir("/proc/self/task"))
    except OSError:
        return 0  # no /proc: join() then trusts `_finished` alone
