"""ctypes wrappers for the syscalls Python's os module lacks.

One choke point: `_check` retries EINTR and turns a -1 into
OSError(errno, strerror, path) naming the operation, so callers add context
once. Used by the parent and by the child between fork and exec.
"""
import ctypes
import errno
import os
import struct

# every constant, as k.MS_BIND etc. (a parent that needs only them imports flags)
from pyrunc.kernel.flags import *  # noqa: F401,F403

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


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
