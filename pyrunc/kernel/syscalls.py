"""ctypes wrappers for the syscalls Python's os module lacks.

One choke point: `_check` retries EINTR and turns a -1 into
OSError(errno, strerror, path) naming the operation, so callers add context
once. Used by the parent and by the child between fork and exec.
"""
import ctypes
import errno
import os
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long

# x86_64 / generic numbers for syscalls without a libc wrapper in Debian 12's glibc
SYS_pivot_root = 155
SYS_setns = 308
SYS_openat2 = 437
SYS_keyctl = 250
SYS_pidfd_send_signal = 424

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS,
    "cgroup": CLONE_NEWCGROUP,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "user": CLONE_NEWUSER,
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
    "time": CLONE_NEWTIME,
}
# /proc/<pid>/ns/<name> for each OCI namespace type
NAMESPACE_PROC_NAMES = {
    "mount": "mnt", "cgroup": "cgroup", "uts": "uts", "ipc": "ipc",
    "user": "user", "pid": "pid", "network": "net", "time": "time",
}

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8

# openat2 resolve flags
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

KEYCTL_JOIN_SESSION_KEYRING = 1

# mount_setattr(2): recursive mount attributes (rro, rnosuid, ...)
SYS_mount_setattr = 442
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_NOSYMFOLLOW = 0x200000


def _check(ret, op, path=None):
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{op}: {os.strerror(err).lower()}", path)
    return ret


def _call(fn, op, path, *args):
    while True:
        ret = fn(*args)
        if ret == -1 and ctypes.get_errno() == errno.EINTR:
            continue
        return _check(ret, op, path)


def _b(s):
    if s is None:
        return None
    return s if isinstance(s, bytes) else os.fsencode(s)


def mount(source, target, fstype, flags=0, data=None):
    _call(_libc.mount, "mount", target, _b(source), _b(target), _b(fstype),
          ctypes.c_ulong(flags), _b(data))


def umount2(target, flags=0):
    _call(_libc.umount2, "umount", target, _b(target), ctypes.c_int(flags))


def pivot_root(new_root, put_old):
    _call(_syscall, "pivot_root", new_root, ctypes.c_long(SYS_pivot_root), _b(new_root), _b(put_old))


def unshare(flags):
    _call(_libc.unshare, "unshare", None, ctypes.c_int(flags))


def setns(fd, nstype=0, path=None):
    _call(_libc.setns, "setns", path, ctypes.c_int(fd), ctypes.c_int(nstype))


def openat2(dirfd, path, flags, mode=0, resolve=0):
    """openat2(2) with `resolve` flags: the safe way to open inside a rootfs."""
    how = struct.pack("QQQ", flags, mode, resolve)
    buf = ctypes.create_string_buffer(how, len(how))
    return _call(_syscall, "openat2", path, ctypes.c_long(SYS_openat2), ctypes.c_int(dirfd),
                 _b(path), buf, ctypes.c_size_t(len(how)))


def mount_setattr(dirfd, path, flags, attr_set, attr_clr):
    """mount_setattr(2) with a struct mount_attr (propagation and userns left alone)."""
    attr = struct.pack("QQQQ", attr_set, attr_clr, 0, 0)
    buf = ctypes.create_string_buffer(attr, len(attr))
    _call(_syscall, "mount_setattr", path, ctypes.c_long(SYS_mount_setattr), ctypes.c_int(dirfd),
          _b(path), ctypes.c_uint(flags), buf, ctypes.c_size_t(len(attr)))


def sethostname(name):
    data = _b(name)
    _call(_libc.sethostname, "sethostname", None, data, ctypes.c_size_t(len(data)))


def setdomainname(name):
    data = _b(name)
    _call(_libc.setdomainname, "setdomainname", None, data, ctypes.c_size_t(len(data)))


def prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    return _call(_libc.prctl, "prctl", None, ctypes.c_int(option), ctypes.c_ulong(arg2),
                 ctypes.c_ulong(arg3), ctypes.c_ulong(arg4), ctypes.c_ulong(arg5))


def join_session_keyring(name=None):
    return _call(_syscall, "keyctl", None, ctypes.c_long(SYS_keyctl),
                 ctypes.c_long(KEYCTL_JOIN_SESSION_KEYRING), _b(name))


def pidfd_send_signal(pidfd, sig):
    _call(_syscall, "pidfd_send_signal", None, ctypes.c_long(SYS_pidfd_send_signal),
          ctypes.c_int(pidfd), ctypes.c_int(sig), None, ctypes.c_uint(0))


def set_dumpable(on):
    prctl(PR_SET_DUMPABLE, 1 if on else 0)


def set_child_subreaper():
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_pdeathsig(sig):
    prctl(PR_SET_PDEATHSIG, sig)


def close_range_cloexec(first):
    """Mark every fd >= first close-on-exec (CVE-2024-21626: no host fd survives)."""
    CLOSE_RANGE_CLOEXEC = 4
    SYS_close_range = 436
    ret = _syscall(ctypes.c_long(SYS_close_range), ctypes.c_uint(first), ctypes.c_uint(0xFFFFFFFF),
                   ctypes.c_uint(CLOSE_RANGE_CLOEXEC))
    if ret == -1:  # older kernel: walk the fd table
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd >= first:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    pass
