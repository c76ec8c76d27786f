"""Stage-1: the first child of pyrunc. Enters and creates namespaces, then
forks the container's init (stage-2) and exits.

Why a second fork: unshare(CLONE_NEWPID) and CLONE_NEWTIME only apply to the
caller's children, so the process that unshares cannot itself be PID 1.
The sequence (sync steps from process/sync.py):
  non-dumpable first (nothing may ptrace us or open our /proc files, CVE-2019-5736)
  wait for `go` (1): the parent has put us in the cgroup (or we were born
      in its cgroup2 directory and now move ourselves into the v1 ones:
      kernel/clone_into.py), so every later process, and the cgroup
      namespace, start from the container's cgroup
  join namespaces by path, the user namespace first (it grants the rest)
  with a new user and mount namespace: take the bind sources (open_tree) first
  unshare a new user namespace alone, ask the parent for id maps (2, 3; dumpable
      meanwhile when rootless, so that the user's pyrunc may open them), become
      root in it, then unshare all other new namespaces in one call, so they
      are owned by the container's user namespace
  write time offsets before the first child is born (the kernel forbids later),
      through a file opened before any user namespace: the writer must be
      privileged over the new time namespace, and once we are root of a
      user namespace our non-dumpable /proc/self files belong to the host's
      root, whom it does not map
  fork stage-2, report its host pid (4), exit
"""
import os

from pyrunc import testhooks as testguards
from pyrunc.init import exec_child, rootfs, stage2
from pyrunc.errors import InitError, describe_oserror
from pyrunc.kernel import clone_into, procfs, syscalls as k
from pyrunc.process import sync


def run(plan, sock, ctx):
    """Never returns: exits the process."""
    try:
        # (ctx.close_in_child is closed right after the fork, in process/spawn.py)
        if not testguards.off("dumpable"):  # (a test-only switch: pyrunc/testhooks.py)
            k.set_dumpable(False)
        sync.expect(sock, sync.GO)  # 1
        if ctx.cgroup_tasks:  # the parent left the v1 hierarchies to us (kernel/clone_into.py)
            clone_into.join_v1(ctx.cgroup_tasks)
        if ctx.fifo_path:
            # while we are still the caller's root: the state root may be
            # closed to a new user namespace's ids (runc hands its init an fd
            # for the same reason); stage-2 inherits it. Nothing else of the
            # state dir: a created init holds only this (spawn.close_inherited)
            ctx.fifo_fd = os.open(ctx.fifo_path, os.O_PATH | os.O_CLOEXEC)
        offsets_fd = -1
        if plan.time_offsets and "time" in plan.new_namespaces:
            offsets_fd = _open_proc("/proc/self/timens_offsets", "set time offsets")
        if plan.oom_score_adj is not None:
            _write_proc("/proc/self/oom_score_adj", str(plan.oom_score_adj), "set oom_score_adj")
        for ns_type, path in plan.join_namespaces:
            _join(ns_type, path)
        # bind sources the container's ids may not reach: opened while we are the host's root
        ctx.bind_trees = rootfs.open_bind_sources(plan)
        if "user" in plan.new_namespaces:
            try:
                k.unshare(k.CLONE_NEWUSER)
            except OSError as exc:
                raise InitError(f"unshare user namespace: {describe_oserror(exc)}") from None
            # a non-dumpable process's /proc files belong to the host's root:
            # a non-root parent could not open our uid_map. Dumpable just for
            # the maps, as runc's nsexec (only the same user could use it)
            rootless = os.geteuid() != 0 and not testguards.off("dumpable")
            if rootless:
                k.set_dumpable(True)
            sync.send(sock, sync.IDMAP)  # 2
            sync.expect(sock, sync.IDMAP_DONE)  # 3
            if rootless:
                k.set_dumpable(False)
        if plan.has("user"):
            try:
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
            except OSError as exc:
                raise InitError(f"become root in the user namespace: {describe_oserror(exc)}") from None
        flags = 0
        for ns in plan.new_namespaces:
            if ns != "user":
                flags |= k.NAMESPACE_FLAGS[ns]
        if flags:
            try:
                k.unshare(flags)
            except OSError as exc:
                names = ", ".join(n for n in plan.new_namespaces if n != "user")
                raise InitError(f"unshare namespaces ({names}): {describe_oserror(exc)}") from None
        if offsets_fd >= 0:
            # the file's opener (us, before the user namespace) is what the
            # kernel checks: CAP_SYS_TIME over the new time namespace
            try:
                os.write(offsets_fd, plan.time_offsets.encode())
            except OSError as exc:
                raise InitError(f"set time offsets: write /proc/self/timens_offsets: "
                                f"{describe_oserror(exc)}") from None
            os.close(offsets_fd)
        # stage-2 shares our sync socket: it must not speak before our `pid`
        # message is out, or the parent would read its message first and
        # never learn the pid of a process it has to kill on failure. It
        # waits for EOF on this pipe, which comes when we exit.
        hold_r, hold_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(hold_w)
            got = os.read(hold_r, 32)
            os.close(hold_r)
            if got.isdigit():
                # our host pid: in a joined pid namespace getpid() cannot tell
                # (the seccomp agent's ContainerProcessState needs it)
                ctx.host_pid = int(got)
            # the container's init, or (pyrunc exec) init/exec_child.run
            next_stage = exec_child.run if ctx.next_stage == "exec_child" else stage2.run
            next_stage(plan, sock, ctx)  # never returns
        sync.send(sock, sync.PID, pid=pid)  # 4
        os.write(hold_w, b"%d" % pid)  # releases stage-2 and tells it its host pid
        os._exit(0)
    except BaseException as exc:  # the child must never unwind into the parent's code
        sync.child_fail(sock, exc)


def _join(ns_type, path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise InitError(f"open {ns_type} namespace {path}: {describe_oserror(exc)}") from None
    try:
        k.setns(fd, k.NAMESPACE_FLAGS[ns_type], path)
    except OSError as exc:
        raise InitError(f"join {ns_type} namespace {path}: {describe_oserror(exc)}") from None
    finally:
        os.close(fd)


def _open_proc(path, what):
    try:
        return os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise InitError(f"{what}: open {path}: {describe_oserror(exc)}") from None


def _write_proc(path, value, what):
    try:
        procfs.write(path, value)
    except OSError as exc:
        raise InitError(f"{what}: write {path}: {describe_oserror(exc)}") from None
