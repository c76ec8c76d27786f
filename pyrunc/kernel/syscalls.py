"""Wrappers for the syscalls Python's os module lacks (through kernel/libc.py).

One choke point: `_check` retries EINTR and turns a -1 into
OSError(errno, strerror, path) naming the operation, so callers add context
once. Used by the parent and by the child between fork and exec.
"""
import errno
import os
import struct

# every constant, as k.MS_BIND etc. (a parent that needs only them imports flags)
from pyrunc.kernel.flags import *  # noqa: F401,F403
from pyrunc.errors import UnsupportedArchitecture
from pyrunc.kernel.arch import nr
from pyrunc.kernel.libc import c_int, c_long, c_size_t, c_uint, c_ulong, buffer, function, get_errno

_syscall = function("syscall", c_long)
_mount = function("mount")
_umount2 = function("umount2")
_unshare = function("unshare")
_setns = function("setns")
_sethostname = function("sethostname")
_setdomainname = function("setdomainname")
_prctl = function("prctl")


def _check(ret, op, path=None):
    if ret == -1:
        err = get_errno()
        raise OSError(err, f"{op}: {os.strerror(err).lower()}", path)
    return ret


def _call(fn, op, path, *args):
    while True:
        ret = fn(*args)
        if ret == -1 and get_errno() == errno.EINTR:
            continue
        return _check(ret, op, path)


def _b(s):
    if s is None:
        return None
    return s if isinstance(s, bytes) else os.fsencode(s)


def mount(source, target, fstype, flags=0, data=None):
    _call(_mount, "mount", target, _b(source), _b(target), _b(fstype),
          c_ulong(flags), _b(data))


def umount2(target, flags=0):
    _call(_umount2, "umount", target, _b(target), c_int(flags))


def pivot_root(new_root, put_old):
    _call(_syscall, "pivot_root", new_root, c_long(nr("pivot_root")), _b(new_root), _b(put_old))


def unshare(flags):
    _call(_unshare, "unshare", None, c_int(flags))


def setns(fd, nstype=0, path=None):
    _call(_setns, "setns", path, c_int(fd), c_int(nstype))


def openat2(dirfd, path, flags, mode=0, resolve=0):
    """openat2(2) with `resolve` flags: the safe way to open inside a rootfs."""
    how = struct.pack("QQQ", flags, mode, resolve)
    buf = buffer(how)
    return _call(_syscall, "openat2", path, c_long(nr("openat2")), c_int(dirfd),
                 _b(path), buf, c_size_t(len(how)))


def mount_setattr(dirfd, path, flags, attr_set, attr_clr, propagation=0):
    """mount_setattr(2) with a struct mount_attr (userns left alone; propagation
    an MS_SLAVE-style flag, or 0 to leave it)."""
    attr = struct.pack("QQQQ", attr_set, attr_clr, propagation, 0)
    buf = buffer(attr)
    _call(_syscall, "mount_setattr", path, c_long(nr("mount_setattr")), c_int(dirfd),
          _b(path), c_uint(flags), buf, c_size_t(len(attr)))


def set_mempolicy(mode, mask, maxnode):
    """set_mempolicy(2): `mask` is the nodemask as bytes (pyrunc.kernel.mempolicy)."""
    buf = buffer(mask)
    _call(_syscall, "set_mempolicy", None, c_long(nr("set_mempolicy")), c_int(mode), buf,
          c_ulong(maxnode))


def open_tree(dirfd, path, flags):
    """open_tree(2): with OPEN_TREE_CLONE, a detached copy of the mount at path."""
    return _call(_syscall, "open_tree", path, c_long(nr("open_tree")), c_int(dirfd), _b(path),
                 c_uint(flags))


def move_mount(from_fd, from_path, to_fd, to_path, flags):
    _call(_syscall, "move_mount", to_path, c_long(nr("move_mount")), c_int(from_fd), _b(from_path),
          c_int(to_fd), _b(to_path), c_uint(flags))


def sethostname(name):
    data = _b(name)
    _call(_sethostname, "sethostname", None, data, c_size_t(len(data)))


def setdomainname(name):
    data = _b(name)
    _call(_setdomainname, "setdomainname", None, data, c_size_t(len(data)))


def prctl(option, arg2=0, arg3=0, arg4=0, arg5=0):
    return _call(_prctl, "prctl", None, c_int(option), c_ulong(arg2),
                 c_ulong(arg3), c_ulong(arg4), c_ulong(arg5))


def join_session_keyring(name=None):
    return _call(_syscall, "keyctl", None, c_long(nr("keyctl")),
                 c_long(KEYCTL_JOIN_SESSION_KEYRING), _b(name))


def set_dumpable(on):
    prctl(PR_SET_DUMPABLE, 1 if on else 0)


def close_range_cloexec(first):
    """Mark every fd >= first close-on-exec (CVE-2024-21626: no host fd survives)."""
    CLOSE_RANGE_CLOEXEC = 4
    try:
        ret = _syscall(c_long(nr("close_range")), c_uint(first), c_uint(0xFFFFFFFF),
                       c_uint(CLOSE_RANGE_CLOEXEC))
    except UnsupportedArchitecture:
        ret = -1  # the walk below needs no syscall number
    if ret == -1:  # older kernel (or no number): walk the fd table
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd >= first:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    pass
