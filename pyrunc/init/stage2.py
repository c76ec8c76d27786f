"""Stage-2: the container's init (PID 1 in a new pid namespace), from fork to execve.

One straight-line function; each ordering constraint says why. Sync steps are
from process/sync.py. Errors before `ready` go to the parent over the sync
socket; after `start` released us they go into the exec fifo, where `start`
reads them. Nothing here imports anything after fork: all modules are loaded
by pyrunc.init before the first fork.
"""
import fcntl
import os
import resource
import stat
import struct

from pyrunc import rootless
from pyrunc import testhooks as testguards
from pyrunc.init import console, preload, rootfs
from pyrunc.init import apply_security as security
from pyrunc.errors import HookFailed, InitError, describe_oserror
from pyrunc.kernel import syscalls as k
from pyrunc.kernel.cpython import signal, socket
from pyrunc.process import sync

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"



def run(plan, sock, ctx):
    released = False
    fifo_w = -1
    try:
        os.setsid()
        # the exec fifo is reachable only while the host's filesystem is
        # visible: an O_PATH handle now (opened by stage-1, before any user
        # namespace), reopened for writing through /proc/self/fd after pivot;
        # the host's /proc/self/fd is kept only if the container's cannot do it
        fifo = ctx.fifo_fd
        fd_dir = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        host_pid = int(os.readlink("/proc/self"))
        ctx.host_pid = host_pid  # for the seccomp agent (security.load_seccomp)
        # devices are bound, not made, and host mounts' flags are locked,
        # whether the user namespace is the container's own or the one the
        # runtime already runs in (rootless podman runs us as root of its
        # user namespace, with a config that asks for none: runc's
        # RunningInUserNS || NEWUSER)
        in_userns = plan.has("user") or rootless.in_user_namespace()
        if "network" in plan.new_namespaces:
            _loopback_up()
        mount_ns = plan.has("mount")
        if mount_ns:
            rootfs.prepare(plan, in_userns, ctx.bind_trees)
        state = dict(ctx.hook_state, pid=host_pid, status="creating")
        if plan.runtime_hooks_at_create:
            sync.send(sock, sync.HOOKS)  # 5: the parent runs prestart + createRuntime
            sync.expect(sock, sync.HOOKS_DONE)  # 6
        if plan.hooks_create_container:
            # in the rootfs, with the process's environment (runc); HOME is
            # not known yet: the container's /etc/passwd is not / yet
            try:
                os.chdir(plan.rootfs)
            except OSError as exc:
                raise InitError(f"chdir {plan.rootfs}: {describe_oserror(exc)}") from None
            _hooks("createContainer", plan.hooks_create_container, state, config_environment(plan))
        raw_console = ctx.raw_console
        if mount_ns:
            rootfs.pivot(plan)
            if plan.terminal and ctx.console_fd >= 0:
                console.setup(plan, ctx.console_fd, raw_console)
        else:
            if plan.terminal and ctx.console_fd >= 0:
                # the host's mount namespace: nothing was mounted in the
                # rootfs, so its /dev has no devpts of ours; the pty comes
                # from the host's /dev/ptmx, before the chroot hides it
                console.setup(plan, ctx.console_fd, raw_console, bind_console=False)
            os.chroot(plan.rootfs)
            os.chdir("/")
        # sysctls before finalize: readonlyPaths usually holds /proc/sys (runc's order)
        for key, value in plan.sysctl:
            _write("/proc/sys/" + key.replace(".", "/"), value, f"sysctl {key}")
        if mount_ns:
            rootfs.finalize(plan)
        if plan.hostname is not None and plan.has("uts"):
            _do(k.sethostname, plan.hostname, what="sethostname")
        if plan.domainname is not None and plan.has("uts"):
            _do(k.setdomainname, plan.domainname, what="setdomainname")
        set_rlimits(plan.rlimits)
        apply_memory_policy(plan)
        if not plan.no_new_keyring:
            security.set_key_label(plan.selinux_label)
            try:
                k.join_session_keyring(None)
            except OSError:
                pass  # keyrings may be unavailable (runc ignores ENOSYS/EPERM here too)
        security.apply_lsm(plan)
        if plan.no_new_privileges:
            security.set_no_new_privs()
        security.prepare_process(plan)
        if plan.seccomp is not None and not plan.no_new_privileges:
            # without no_new_privs, loading needs CAP_SYS_ADMIN: before the drop
            security.load_seccomp(plan.seccomp, ctx)
        env = environment(plan)
        retry_cwd = chdir_before_switch(plan.cwd)
        give_stdio_to(plan.user.uid)
        security.switch_user(plan)
        chdir_after_switch(plan.cwd, retry_cwd)
        # after the chdir and as the user, like runc: "./x" is relative to cwd
        path = lookpath(plan.args[0], env)
        if plan.user.umask is not None:
            os.umask(plan.user.umask)
        # as PID 1 we would ignore every signal without a handler, so `kill ID`
        # (SIGTERM) could not stop a created container; runc's init dies of
        # them. Handlers do not survive execve: the process starts clean.
        for sig in _DIE_WHILE_WAITING:
            signal.signal(sig, _die_of_signal)
        fifo_path, fd_dir = _fifo_reopen_path(fifo, fd_dir)
        sync.send(sock, sync.READY)  # 7
        sock.close()
        # blocks until `start` opens the fifo for reading
        fifo_w = os.open(fifo_path, os.O_WRONLY | os.O_CLOEXEC, dir_fd=fd_dir if fd_dir >= 0 else None)
        if fd_dir >= 0:
            os.close(fd_dir)
        elif not _same_file(fifo_w, fifo):
            os._exit(1)  # the container's /proc changed under us: write nothing there
        os.close(fifo)
        released = True
        os.write(fifo_w, b"0")
        if plan.seccomp is not None and plan.no_new_privileges:
            # as late as possible: the filter then sees few of our own calls;
            # but before startContainer hooks, which run as the process would
            security.load_seccomp(plan.seccomp, ctx)
        if plan.hooks_start_container:
            _hooks("startContainer", plan.hooks_start_container, dict(state, status="running"), env)
        # CVE-2024-21626: no fd of ours or of our caller survives execve, except
        # stdio and the preserved ones (fifo_w is close-on-exec: its EOF tells
        # `start` that execve happened)
        if not testguards.off("close-fds"):
            k.close_range_cloexec(3 + plan.preserve_fds)
        # Python ignores SIGPIPE and SIGXFSZ; ignored signals survive execve
        for sig in RESTORE_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        os.execve(path, list(plan.args), env)
    except BaseException as exc:
        msg = sync.describe(exc)
        if isinstance(exc, OSError) and not isinstance(exc, InitError) and released:
            msg = f"exec {plan.args[0]}: {describe_oserror(exc)}"
        if released and fifo_w >= 0:
            try:
                os.write(fifo_w, b"E" + msg.encode())
            except OSError:
                pass
            os._exit(1)
        sync.report_error(sock, msg)  # (after `ready` nobody reads it: start says the init died)
        os._exit(1)


# Python ignores these; ignored signals survive execve (also exec_child's)
RESTORE_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)
_DIE_WHILE_WAITING = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1,
                      signal.SIGUSR2, signal.SIGALRM)


def apply_memory_policy(plan):
    """linux.memoryPolicy (runc's setupMemoryPolicy): late, so that it binds the
    container's process and not our own set-up; exec_child calls it too."""
    if plan.memory_policy is None:
        return
    mode, mask, maxnode = plan.memory_policy
    try:
        k.set_mempolicy(mode, mask, maxnode)
    except OSError as exc:
        raise InitError(f"set_mempolicy: {describe_oserror(exc)}") from None


def give_stdio_to(uid):
    """The container's user must be able to use its stdio, its terminal
    above all (runc's fixStdioPermissions): chown 0-2 to it, the group kept."""
    for fd in (0, 1, 2):
        try:
            st = os.fstat(fd)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3):
                continue  # never /dev/null
            os.fchown(fd, uid, -1)
        except OSError:
            # EBADF: no such stdio; EINVAL/EPERM: ids unmapped in our user
            # namespace: better to leave stdio alone than to fail (runc)
            continue


def _die_of_signal(signum, _frame):
    os._exit(128 + signum)


def _fifo_reopen_path(fifo, fd_dir):
    """(path, dir fd) to open the exec fifo for writing once `start` reads it.

    The container's own /proc/self/fd/N when it leads to our fifo: then the
    host's /proc/self/fd is closed, and a created init holds nothing of the
    host but the fifo (runc's rule). Without a usable /proc in the container
    (none mounted, no mount namespace) the host's one stays open."""
    if fifo < 0:
        return str(fifo), fd_dir
    path = f"/proc/self/fd/{fifo}"
    try:
        reachable = os.path.samestat(os.stat(path), os.fstat(fifo))
    except OSError:
        reachable = False
    if not reachable:
        return str(fifo), fd_dir
    os.close(fd_dir)
    return path, -1


def _same_file(fd_a, fd_b):
    try:
        return os.path.samestat(os.fstat(fd_a), os.fstat(fd_b))
    except OSError:
        return False


def _do(fn, arg, what):
    try:
        fn(arg)
    except OSError as exc:
        raise InitError(f"{what}: {describe_oserror(exc)}") from None


def _write(path, value, what):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            # CVE-2025-52881: a file mounted over a procfs file would take the write
            if not testguards.off("procfs-write"):
                security.check_procfs_fd(fd, path, what)
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
    except OSError as exc:
        raise InitError(f"{what}: write {path}: {describe_oserror(exc)}") from None


def _hooks(phase, entries, state, env):
    hooks = preload.hooks  # loaded before the fork: this plan has container-side hooks
    try:
        hooks.run_hooks(phase, entries, state, env)
    except HookFailed as exc:
        raise InitError(str(exc)) from None


def _loopback_up():
    """A new network namespace has lo down; runc brings it up."""
    SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sh14x", b"lo", 0)
        flags = struct.unpack("16sh14x", fcntl.ioctl(s, SIOCGIFFLAGS, ifr))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh14x", b"lo", flags | IFF_UP))
    except OSError as exc:
        raise InitError(f"bring up lo: {describe_oserror(exc)}") from None
    finally:
        s.close()


def set_rlimits(rlimits):
    """process.rlimits, each failure worded from the errno (also exec_child's).

    resource.prlimit on ourselves, not resource.setrlimit: setrlimit turns
    EPERM into a ValueError without an errno ("not allowed to raise maximum
    limit") where runc says "operation not permitted"."""
    for name, res, soft, hard in rlimits:
        try:
            resource.prlimit(0, res, (soft, hard))
        except OSError as exc:
            raise InitError(f"setrlimit {name}: {describe_oserror(exc)}") from None
        except ValueError:  # prlimit's own wording of EINVAL (soft above hard)
            raise InitError(f"setrlimit {name}: invalid argument") from None


def config_environment(plan):
    """process.env as a dict, as the config gives it."""
    env = {}
    for item in plan.env:
        key, sep, value = item.partition("=")
        if sep:
            env[key] = value
    return env


def environment(plan):
    """The process's environment: the config's, HOME from the container's
    /etc/passwd when missing (so: after pivot_root; also exec_child's)."""
    env = config_environment(plan)
    if not env.get("HOME"):  # unset or empty: the user's, as runc
        env["HOME"] = _home_of(plan.user.uid)
    return env


def _home_of(uid):
    try:
        with open("/etc/passwd", "rb") as f:
            for line in f:
                parts = line.decode(errors="replace").rstrip("\n").split(":")
                if len(parts) >= 6 and parts[2] == str(uid):
                    return parts[5] or "/"
    except OSError:
        pass
    return "/"


def lookpath(name, env):
    """args[0] resolved like Go's exec.LookPath with the container's PATH (runc's wording)."""
    if "/" in name:
        try:
            st = os.stat(name)
        except OSError as exc:
            raise InitError(f'exec: "{name}": stat {name}: {describe_oserror(exc)}') from None
        if not _executable(st):
            raise InitError(f'exec: "{name}": permission denied')
        return name
    for d in env.get("PATH", "").split(":"):
        candidate = os.path.join(d or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if _executable(st):
            return candidate
    raise InitError(f'exec: "{name}": executable file not found in $PATH')


def _executable(st):
    return stat.S_ISREG(st.st_mode) and st.st_mode & 0o111


def chdir_before_switch(cwd):
    """chdir to the cwd while we still have the runtime's rights (a user's
    process may have a cwd only root can enter, e.g. /root); True when it
    must be tried again as the user (runc: only a permission error is
    retried, the directory may be open to the user and not to us)."""
    try:
        os.chdir(cwd)
    except PermissionError:
        return True
    except OSError as exc:
        raise InitError(f"chdir to cwd ({cwd}) set in config.json failed: {describe_oserror(exc)}") from None
    return False


def chdir_after_switch(cwd, retry):
    """The retry as the container's user, then CVE-2024-21626's check, always."""
    if retry:
        try:
            os.chdir(cwd)
        except OSError as exc:
            raise InitError(f"chdir to cwd ({cwd}) set in config.json failed: {describe_oserror(exc)}") from None
    # CVE-2024-21626: a leaked host fd as cwd shows up as an unreachable path
    if testguards.off("cwd-check"):
        return
    try:
        here = os.getcwd()
    except OSError as exc:
        raise InitError(f"current working directory is outside of container mount namespace root: {describe_oserror(exc)}") from None
    if not here.startswith("/"):
        raise InitError("current working directory is outside of container mount namespace root")
