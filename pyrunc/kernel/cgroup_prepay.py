"""Starts the kernel's wait for a cgroup move early, while pyrunc still has
other work to do.

Place in the flow: create, run and exec call `start()` first, right after
parsing their arguments (pyrunc.fastcli, and the click commands in
pyrunc.cli). That is before their imports, the config, the plan and the fork.
About 10 ms later they place stage-1 (or the exec'd process) in the
container's cgroup.

Why: a write to any cgroup.procs file takes the kernel's
cgroup_threadgroup_rwsem for writing. The first writer after a quiet spell
waits for an RCU grace period: 5-27 ms on this VM, longer than everything
pyrunc does before its fork. Writers that arrive while that wait is under
way, or within one grace period after it, do not wait again.

`start()` writes our own pid into the cgroup we are already in. That move
moves nothing, but it starts the grace period at once, in a thread, so the
wait runs alongside the start-up work instead of after the fork. The writer
holds the kernel's cgroup_mutex while it waits, so every cgroup mkdir waits
too: create forks stage-1 before it makes the cgroup (as runc does), and
the child imports its modules meanwhile. Measured on this VM, with 100 ms
idle before each create: the placement went from 13-20 ms after the fork to
0-2 ms, and create from ~43 to ~38 ms.

Here, not in pyrunc.cgroups: importing that package (layout, errors) before
`start()` would delay the grace period by ~0.6 ms.

Best effort: if nothing can be opened or the kernel refuses the write
(rootless, no cgroupfs, EBUSY on a cgroup v2 inner node), the thread ends
silently and nothing changes for the caller. Import-light: os and _thread.
"""
import os
import _thread

ROOT = "/sys/fs/cgroup"


def _own_procs_file():
    """An fd of our own cgroup's cgroup.procs, opened for writing, or None.

    The cgroup2 line ("0::/path") first: /sys/fs/cgroup on a unified host,
    /sys/fs/cgroup/unified on a hybrid one (which also has v1 lines). Then
    the v1 hierarchies, by their directory names, for a host without
    cgroup2."""
    try:
        fd = os.open("/proc/self/cgroup", os.O_RDONLY | os.O_CLOEXEC)
        try:
            lines = os.read(fd, 65536).decode("utf-8", "replace").splitlines()
        finally:
            os.close(fd)
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
            return os.open(directory.rstrip("/") + "/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            continue
    return None


# the fd the thread writes to, -1 once closed; _guard makes "close it and
# say so" one step as far as a fork can see
_fd = -1
_guard = _thread.allocate_lock()


def start(preserve_fds=0):
    """Start the grace period in a thread; returns at once.

    Not with --preserve-fds or LISTEN_FDS: those name fds 3, 4, ... that the
    caller passes, and ours, the lowest free number, could take one it named
    but did not open (create would then find it open and pass it on)."""
    global _fd
    if preserve_fds or "LISTEN_FDS" in os.environ:
        return
    fd = _own_procs_file()
    if fd is None:
        return
    _fd = fd
    # a fork while the thread still waits would hand the host's cgroup.procs
    # to the container's init (until its execve; for good with --preserve-fds
    # if the number fell in that range): every child closes its copy
    os.register_at_fork(before=_guard.acquire, after_in_parent=_guard.release,
                        after_in_child=_close_in_child)
    pid = b"%d" % os.getpid()
    running = _thread.allocate_lock()
    running.acquire()

    def write():
        running.release()
        try:
            os.write(fd, pid)  # blocks in the kernel, without the GIL
        except OSError:
            pass
        finally:
            _close()

    try:
        _thread.start_new_thread(write, ())
    except RuntimeError:  # no thread to be had: do without
        _close()
        return
    # give the GIL to the thread until it is about to write; otherwise it
    # would wait for the switch interval (5 ms) behind our imports
    running.acquire()


def _close():
    global _fd
    with _guard:
        if _fd >= 0:
            os.close(_fd)
            _fd = -1


def _close_in_child():
    global _fd
    if _fd >= 0:
        os.close(_fd)
        _fd = -1
    _guard.release()  # taken by `before` in the parent: this copy is ours
