"""Stage-2 of `pyrunc exec`: a new process inside a running container.

Stage-1 (init/stage1.py, unchanged) already joined every namespace of the
container, user first and mount last, and forked us, so we are inside the
container's pid and time namespaces and our root is the container's root
(setns into a mount namespace moves root and cwd to that namespace's root).
We are non-dumpable (inherited from stage-1) until execve. The sequence is
runc's setns-init; each ordering constraint says why:

  setsid                  every container process gets its own session
  pty                     before anything may fail after the caller waits on
                          the console socket; the slave becomes stdio + ctty
  rlimits                 while we still hold CAP_SYS_RESOURCE (if anyone does)
  LSM label, no_new_privs
  scheduler/ioprio/personality
  seccomp (no NNP)        needs CAP_SYS_ADMIN: before the capability drop
  resolve args[0]         so "not found" is reported, not a dead process
  user, groups, caps      bounding set first, then setuid keeping caps
  cwd                     after the switch: it may need the user's rights
  seccomp (NNP)           as late as possible: fewer of our calls filtered
  close every fd but stdio and the preserved ones, default SIGPIPE/SIGXFSZ,
  execve

Sync (process/sync.py): nothing is sent on success. The sync socket is
close-on-exec, so its EOF tells the parent that execve happened; a failure
sends one `error` message instead and exits. Imports nothing after fork.
"""
import fcntl
import os

from pyrunc.errors import InitError, describe_oserror
from pyrunc.init import console
from pyrunc.init import apply_security as security
from pyrunc.init import stage2
from pyrunc.kernel import syscalls as k
from pyrunc.process import sync
from pyrunc.kernel.cpython import signal


def run(plan, sock, ctx):
    """Never returns: execs or exits."""
    try:
        os.setsid()
        if plan.terminal:
            # without a mount namespace, from the host's /dev/ptmx, as the init's
            _console(plan, ctx.console_fd, ctx.raw_console)
        if not plan.has("mount"):
            # no mount namespace to join: the container's root is a plain dir
            os.chroot(plan.rootfs)
            os.chdir("/")
        stage2.set_rlimits(plan.rlimits)
        stage2.apply_memory_policy(plan)  # runc's setns init applies it too
        security.apply_lsm(plan)
        if plan.no_new_privileges:
            security.set_no_new_privs()
        security.prepare_process(plan)
        security.set_exec_cpu_affinity(plan.exec_cpu_affinity)
        if plan.seccomp is not None and not plan.no_new_privileges:
            security.load_seccomp(plan.seccomp, ctx)
        env = stage2.environment(plan)
        path = stage2.lookpath(plan.args[0], env)
        retry_cwd = stage2.chdir_before_switch(plan.cwd)
        stage2.give_stdio_to(plan.user.uid)  # the pty above all (runc's fixStdioPermissions)
        security.switch_user(plan)
        stage2.chdir_after_switch(plan.cwd, retry_cwd)
        if plan.user.umask is not None:
            os.umask(plan.user.umask)
        if plan.seccomp is not None and plan.no_new_privileges:
            security.load_seccomp(plan.seccomp, ctx)
        # CVE-2024-21626: only stdio and the preserved fds survive execve; the
        # sync socket is close-on-exec and its EOF is our success message
        k.close_range_cloexec(3 + plan.preserve_fds)
        # Python ignores SIGPIPE and SIGXFSZ; ignored signals survive execve
        for sig in stage2.RESTORE_SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        os.execve(path, list(plan.args), env)
    except BaseException as exc:
        msg = sync.describe(exc)
        if isinstance(exc, OSError) and not isinstance(exc, InitError):
            msg = f"exec {plan.args[0]}: {describe_oserror(exc)}"
        sync.report_error(sock, msg)
        os._exit(1)


def _console(plan, console_fd, raw):
    """A pty from the container's devpts; the master goes to the caller.

    Unlike the init, an exec'd process gets no /dev/console bind mount: the
    container's one belongs to its init (runc does the same)."""
    if console_fd < 0:
        raise InitError("process.terminal is true but no console socket was given")
    master, slave, _name = console.open_pty()
    if plan.console_size:
        console.set_size(slave, *plan.console_size)
    if raw:  # the runtime is the console (exec -t without --console-socket)
        console.clear_onlcr(slave)
    console.send_master(console_fd, master)
    os.close(master)
    os.close(console_fd)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
    try:
        fcntl.ioctl(0, console.TIOCSCTTY, 0)
    except OSError as exc:
        raise InitError(f"set controlling terminal: {describe_oserror(exc)}") from None
