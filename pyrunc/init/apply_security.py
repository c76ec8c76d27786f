"""Child side of the container's security set-up: between fork and execve.

Place in the flow: stage-2 (the container's init, or an exec'd process) calls
these after the rootfs is final, with plain data the parent prepared before
the first fork: capability numbers from `pyrunc.security.capabilities`, a compiled BPF
program from `pyrunc.security.seccomp.compile`. Nothing here parses names or can fail on a
config mistake the parent could have seen; what fails here is the kernel
saying no, raised as SecurityError with a finished one-line message.

Imports only os, errno, struct, _prctl (python-prctl's C module;
its prctl.py wrapper builds ~100 functions and classes at import, ~0.7 ms),
kernel/libc.py (_ctypes), kernel/arch.py (syscall numbers) and our
seccomp_agent (os, jsonio, fdpass): this runs after pivot_root, where the
host's sys.path is gone; no libseccomp here.

Order in the child (runc's standard_init_linux.go; stage-2 follows it):
  1. set_no_new_privs()              if process.noNewPrivileges: early, so no
                                     later step can exec into more privilege
  2. prepare_process(plan)           set_scheduler, set_io_priority,
                                     set_personality: need no privilege we drop
  3. load_seccomp(compiled)          if seccomp and NOT noNewPrivileges: loading
                                     a filter without no_new_privs needs
                                     CAP_SYS_ADMIN, so before the drop
  4. switch_user(plan):
       drop_bounding(caps)           needs CAP_SETPCAP: before setuid
       keep_caps(True)               so setuid to non-root keeps permitted
       setgroups, setgid, setuid
       keep_caps(False)              the container must not inherit the bit
       apply_capabilities(caps)      E/P/I in one capset, then ambient
                                     (ambient needs the cap in P and I)
  5. load_seccomp(compiled)          if seccomp AND noNewPrivileges: as late as
                                     possible, right before execve, so the
                                     filter never sees our own set-up syscalls
  6. close fds, execve
`set_cpu_affinity(cpus)` is for `exec` (process.execCPUAffinity.initial): the
child calls it first thing after fork; the parent applies `final` by pid.

Inheritable capabilities are exactly what the config lists, never more
(CVE-2022-29162): a missing set means an empty set.
"""
import errno
import os
import struct

import _prctl  # python-prctl

from pyrunc.errors import SecurityError
from pyrunc.init import seccomp_agent
from pyrunc.kernel import arch
from pyrunc.kernel.flags import SECCOMP_FILTER_FLAG_NEW_LISTENER
from pyrunc.kernel.libc import (Structure, addressof, buffer, c_int, c_long, c_ulong, c_ushort, c_void_p,
                                function, get_errno)
from pyrunc.kernel.procfs import parse_cpu_list
from pyrunc.security.attributes import IOPRIO_WHO_PROCESS, ioprio_value, personality_value, sched_attr

_syscall = function("syscall", c_long)
_prctl_raw = function("prctl", c_int, (c_int, c_ulong, c_ulong, c_ulong, c_ulong))
_capset = function("capset")
_personality = function("personality")
_fstatfs = function("fstatfs")
# the newest capability python-prctl was built with: above it, raw prctl
PRCTL_LAST_CAP = _prctl.CAP_LAST_CAP


# prctl(2) options
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2
SECCOMP_SET_MODE_FILTER = 1

CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")

def _fail(what, err=None):
    err = err if err is not None else get_errno()
    raise SecurityError(f"{what}: {os.strerror(err).lower()}")


def _field(obj, name, default=None):
    """Read a field of plain data that may be a dataclass or its to_dict()."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


# ---------------------------------------------------------------- no_new_privs

def set_no_new_privs():
    try:
        _prctl.prctl(_prctl.PR_SET_NO_NEW_PRIVS, 1)
    except OSError as exc:
        _fail("prctl(PR_SET_NO_NEW_PRIVS)", exc.errno)


# ---------------------------------------------------------------- seccomp

class _SockFprog(Structure):
    _fields_ = [("len", c_ushort), ("filter", c_void_p)]


def load_seccomp(compiled, ctx=None):
    """Load the precompiled filter into this process; the notify fd or None.

    With a `ctx` (process/spawn.Context) whose `seccomp_agent_fd` is a socket
    the parent already connected to listenerPath, the fd is sent on to the agent at once, with
    the ContainerProcessState the parent prepared (`seccomp_state`), and both
    fds are closed here; see pyrunc.security.seccomp.notify.
    """
    if compiled is None:
        return None
    bpf = _field(compiled, "bpf")  # bytes (the cache's base64 form: CompiledSeccomp.from_dict)
    flags = int(_field(compiled, "flags", 0))
    optional = int(_field(compiled, "optional_flags", 0))
    nr = int(_field(compiled, "seccomp_nr", -1))
    if nr < 0:
        nr = arch.nr("seccomp")
    count = len(bpf) // 8
    if not count or count > 0xFFFF:
        raise SecurityError(f"load seccomp filter: {count} instructions is not a valid program")
    buf = buffer(bpf)
    prog = _SockFprog(count, addressof(buf))
    while True:
        if flags == 0:
            # the old interface needs no syscall number
            rc = _prctl_raw(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, addressof(prog), 0, 0)
        else:
            rc = _syscall(c_long(nr), c_long(SECCOMP_SET_MODE_FILTER),
                          c_long(flags), c_void_p(addressof(prog)))
        if rc >= 0:
            break
        err = get_errno()
        if err == errno.EINTR:
            continue
        if err == errno.EINVAL and flags & optional:
            flags &= ~optional  # a flag we added on our own: the kernel lacks it
            optional = 0
            continue
        _fail("load seccomp filter", err)
    fd = rc if flags & SECCOMP_FILTER_FLAG_NEW_LISTENER else None
    agent = ctx.seccomp_agent_fd if ctx is not None else -1
    if fd is not None and agent >= 0:
        try:
            seccomp_agent.send(agent, fd, ctx.seccomp_state or {}, pid=ctx.host_pid or os.getpid())
        except OSError as exc:
            _fail("send seccomp listener fd to the agent", exc.errno)
        finally:
            os.close(agent)
            os.close(fd)
        return None  # handed over: the container never holds its own listener
    return fd


# ---------------------------------------------------------------- capabilities

_last_cap = []


def last_cap():
    """The highest capability this kernel knows, probed without /proc
    (PR_CAPBSET_READ says EINVAL above it); probed once per process."""
    if not _last_cap:
        cap = 0
        while _prctl_raw(PR_CAPBSET_READ, cap + 1, 0, 0, 0) >= 0:
            cap += 1
        _last_cap.append(cap)
    return _last_cap[0]


def drop_bounding(caps):
    """Drop from the bounding set every capability not in caps['bounding']."""
    if caps is None:
        return  # no process.capabilities: runc leaves the sets alone
    keep = set(caps.get("bounding") or ())
    for cap in range(last_cap() + 1):
        if cap in keep:
            continue
        # drop first: dropping what is already gone succeeds (with
        # CAP_SETPCAP), and one prctl per capability beats two; only a
        # refusal asks whether the capability is there at all
        if cap <= PRCTL_LAST_CAP:  # python-prctl, for every capability it was built with
            try:
                _prctl.prctl(_prctl.PR_CAPBSET_DROP, cap)
            except OSError as exc:
                if _in_bounding(cap):
                    _fail(f"drop capability {cap} from the bounding set", exc.errno)
            continue
        # newer than python-prctl's headers: the raw prctl
        if _prctl_raw(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            err = get_errno()
            if _in_bounding(cap):
                _fail(f"drop capability {cap} from the bounding set", err)


def _in_bounding(cap):
    return _prctl_raw(PR_CAPBSET_READ, cap, 0, 0, 0) != 0


def keep_caps(on):
    try:
        _prctl.prctl(_prctl.PR_SET_KEEPCAPS, 1 if on else 0)
    except OSError as exc:
        _fail("prctl(PR_SET_KEEPCAPS)", exc.errno)


def apply_capabilities(caps):
    """Effective, permitted, inheritable in one capset; then ambient."""
    if caps is None:
        return
    top = last_cap()
    sets = {name: {c for c in caps.get(name) or () if c <= top}
            for name in ("effective", "permitted", "inheritable")}
    if top <= PRCTL_LAST_CAP:
        capset_prctl(sets)
    else:  # python-prctl was built before this kernel's newest capability
        capset_raw(sets)
    clear_ambient()
    for cap in caps.get("ambient") or ():
        if _prctl_raw(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0:
            _fail(f"raise ambient capability {cap}")


def clear_ambient():
    if _prctl_raw(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0:
        err = get_errno()
        if err != errno.EINVAL:  # EINVAL: a kernel without ambient caps
            _fail("clear ambient capabilities", err)


def capset_prctl(sets):
    """Set the three capability sets through python-prctl."""
    known = range(PRCTL_LAST_CAP + 1)
    names = ("effective", "permitted", "inheritable")
    # python-prctl's set_caps: the (E, P, I) to raise, then the (E, P, I) to clear
    raise_ = [[c for c in known if c in sets[name]] for name in names]
    clear = [[c for c in known if c not in sets[name]] for name in names]
    try:
        _prctl.set_caps(*raise_, *clear)
    except OSError as exc:
        _fail("apply capabilities (capset)", exc.errno)


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def capset_raw(sets):
    """Set the three capability sets with capset(2) itself."""
    words = []
    for i in range(2):
        for name in ("effective", "permitted", "inheritable"):
            mask = 0
            for c in sets[name]:
                if c // 32 == i:
                    mask |= 1 << (c % 32)
            words.append(mask)
    header = buffer(struct.pack("=Ii", _LINUX_CAPABILITY_VERSION_3, 0))
    data = buffer(struct.pack("=6I", *words))
    if _capset(header, data) < 0:
        _fail("apply capabilities (capset)")


def switch_user(plan):
    """Steps 4.x of the module docstring, with plan.user and plan.capabilities."""
    caps = plan.capabilities
    user = plan.user
    drop_bounding(caps)
    keep_caps(True)
    try:
        _set_groups(tuple(user.additional_gids))
        try:
            os.setgid(user.gid)
        except OSError as exc:
            _fail(f"setgid {user.gid}", exc.errno)
        try:
            os.setuid(user.uid)
        except OSError as exc:
            _fail(f"setuid {user.uid}", exc.errno)
    finally:
        keep_caps(False)
    apply_capabilities(caps)


def _set_groups(gids):
    # In a user namespace whose setgroups is "deny" nobody may set groups;
    # runc then leaves them alone unless some were asked for.
    try:
        with open("/proc/self/setgroups", "rb") as f:
            denied = f.read().strip() == b"deny"
    except OSError:
        denied = False
    if denied and not gids:
        return
    try:
        os.setgroups(list(gids))
    except OSError as exc:
        _fail("setgroups", exc.errno)


# ---------------------------------------------------------------- process attributes

def set_io_priority(cfg):
    if not cfg:
        return
    try:
        value = ioprio_value(cfg)
    except ValueError as exc:
        raise SecurityError(str(exc)) from None
    if _syscall(c_long(arch.nr("ioprio_set")), c_long(IOPRIO_WHO_PROCESS),
                c_long(0), c_long(value)) < 0:
        _fail("failed to set io priority")


def set_scheduler(cfg):
    if not cfg:
        return
    try:
        attr = buffer(sched_attr(cfg))
    except ValueError as exc:
        raise SecurityError(str(exc)) from None
    if _syscall(c_long(arch.nr("sched_setattr")), c_long(0), attr,
                c_long(0)) < 0:
        _fail("error setting scheduler")


def set_personality(cfg):
    if not cfg:
        return
    try:
        value = personality_value(cfg)
    except ValueError as exc:
        raise SecurityError(str(exc)) from None
    if _personality(c_ulong(value)) < 0:
        _fail("set_personality")


def set_cpu_affinity(cpus, pid=0):
    """sched_setaffinity to `cpus`: CPU numbers, or an execCPUAffinity
    string such as "0-3,7"."""
    if cpus is None or cpus == "":
        return
    if isinstance(cpus, str):
        try:
            cpus = parse_cpu_list(cpus)
        except ValueError as exc:
            raise SecurityError(f"bad CPU affinity: {exc}") from None
    try:
        os.sched_setaffinity(pid, set(cpus))
    except OSError as exc:
        _fail("error setting CPU affinity", exc.errno)


def set_exec_cpu_affinity(affinity):
    """process.execCPUAffinity in the exec'd process, once it is in the
    container's cgroup: `final`; nothing more if only `initial` was given
    (the parent set it before the fork); and with no affinity at all, every
    CPU, so the process does not inherit the runtime caller's (runc)."""
    affinity = affinity or {}
    if affinity.get("final"):
        set_cpu_affinity(affinity["final"])
    elif not affinity.get("initial"):
        # a mask wider than the kernel's is cut to it; offline CPUs are ignored
        set_cpu_affinity(range(max(1024, os.cpu_count() or 1)))


def prepare_process(plan):
    """Step 2: scheduler, I/O priority, personality (all optional in the plan)."""
    set_scheduler(plan.scheduler)
    set_io_priority(plan.io_priority)
    set_personality(plan.personality)


# ---------------------------------------------------------------- LSMs

def apply_lsm(plan):
    """AppArmor profile / SELinux label for the next execve: the kernel puts
    the process under it when it execs the container's program.

    Whether the host runs the LSM was decided before the fork (the config
    checks refuse the field where it does not, as runc's validator does):
    here, after pivot_root, /sys is the container's and says nothing about
    the host. A kernel that still says no (a profile that is not loaded, say)
    fails the write, with runc's wording ("apparmor failed to apply profile").
    """
    profile = plan.apparmor_profile
    label = plan.selinux_label
    if profile:
        _write_attr("apparmor", f"exec {profile}", "apparmor failed to apply profile")
    if label:
        _write_attr("selinux", label, "can't set process label")


def set_key_label(label):
    """SELinux label of the keys this thread creates next: the session
    keyring the init joins right after (runc's SetKeyLabel before
    JoinSessionKeyring), so the container's keyring carries its process
    label, not the runtime's. SELinux forgets it at execve. No keycreate
    attribute (no SELinux in this kernel, no /proc): nothing to do, as runc."""
    if label:
        _write_proc_attr("/proc/thread-self/attr/keycreate", label, "can't set key label")


def _write_attr(lsm, value, what):
    # /proc/thread-self/attr/<lsm>/exec (per-LSM dir since 5.1), else attr/exec
    for path in (f"/proc/thread-self/attr/{lsm}/exec", "/proc/thread-self/attr/exec"):
        if _write_proc_attr(path, value, what):
            return
    raise SecurityError(f"{what}: no exec attribute in /proc/thread-self/attr")


def _write_proc_attr(path, value, what):
    """Write `value` to the procfs attribute `path`; False if there is none."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError as exc:
        _fail(f"{what}: open {path}", exc.errno)
    try:
        _check_procfs(fd, path, what)
        os.write(fd, value.encode())
    except OSError as exc:
        _fail(f"{what}: write {path}", exc.errno)
    finally:
        os.close(fd)
    return True


PROC_SUPER_MAGIC = 0x9FA0


def fstatfs_type(fd):
    """f_type of the filesystem `fd` is on (OSError on failure)."""
    buf = buffer(bytes(120))  # struct statfs
    if _fstatfs(fd, buf) < 0:
        err = get_errno()
        raise OSError(err, os.strerror(err), "fstatfs")
    return struct.unpack_from("@l", buf, 0)[0]  # f_type: a native long


def check_procfs_fd(fd, path, what):
    """Before writing to /proc through `fd`: it must be on a real procfs.
    A file bind-mounted over a procfs file would take the runtime's write
    elsewhere (CVE-2019-19921, CVE-2025-52881)."""
    try:
        kind = fstatfs_type(fd)
    except OSError as exc:
        _fail(f"{what}: fstatfs {path}", exc.errno)
    if kind != PROC_SUPER_MAGIC:
        raise SecurityError(f"{what}: {path} is not on procfs, refusing to write")


_check_procfs = check_procfs_fd


def check_fstype(fd, magic, message):
    """SecurityError(message) unless `fd` is on a filesystem of type `magic`."""
    try:
        kind = fstatfs_type(fd)
    except OSError as exc:
        _fail(message, exc.errno)
    if kind != magic:
        raise SecurityError(message)
