"""Run a command with a read-only tmpfs mounted at a directory, in a private
mount namespace this helper makes (the host's mounts and propagation are
never touched): `python -m tests.robustness.rofs_exec DIR -- ARGV...`.

Inside the new namespace: / becomes rslave (so nothing we mount leaks back
to the host), a small tmpfs goes on DIR, `DIR/root` is made in it, the tmpfs
is remounted read-only, then ARGV is exec'd. The namespace, and the mount,
die with the process.
"""
from __future__ import annotations

import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_REC = 16384
MS_SLAVE = 1 << 19

_libc = ctypes.CDLL(None, use_errno=True)


def _check(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                       ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def main(argv):
    directory, sep, *command = argv
    assert sep == "--" and command, "usage: rofs_exec DIR -- ARGV..."
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_SLAVE)  # only inside our new namespace
    _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    os.mkdir(os.path.join(directory, "root"), 0o711)
    _mount(None, directory, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
