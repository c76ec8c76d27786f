"""A network namespace the CRI tests make and hold, so that nothing they run
touches the host's network.

The namespace is made by a short-lived thread (unshare(CLONE_NEWNET) moves
only the calling thread) and kept alive by an fd to it. Everything network
related of the CRI harness lives in it: the local registry on 127.0.0.1,
containerd (hence its CNI plugins, whose bridge and host-side veths appear
in containerd's namespace, and the runtimes it starts for host-network
pods), and the test's own registry client (a thread that joins it).
containerd also gets a mount namespace of its own (private_mount_ns), where
the tests may make a shared mount without touching the host's propagation.
"""
from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import threading

CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_SHARED = 1 << 20
MS_SLAVE = 1 << 19
MS_REC = 1 << 14
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifr = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack("16sH14x", b"lo", 0))
        flags = struct.unpack("16sH14x", ifr)[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def _in_thread(fn):
    """Run fn in a fresh thread (its namespace changes die with it)."""
    box: dict = {}

    def body():
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller
            box["error"] = exc
    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


class NetNS:
    """A new network namespace with loopback up, held by an open fd."""

    def __init__(self):
        def make():
            _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
            _loopback_up()
            return os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
        self.fd: int = _in_thread(make)
        self.inode = os.fstat(self.fd).st_ino

    def enter(self) -> None:
        """preexec_fn for a child that must run in the namespace."""
        _check(_libc.setns(self.fd, CLONE_NEWNET), "setns(net)")

    def run(self, fn):
        """Call fn in a thread that has joined the namespace; return its result."""
        def joined():
            self.enter()
            return fn()
        return _in_thread(joined)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def private_mount_ns(shared_dir: str) -> None:
    """preexec_fn part: a new mount namespace for the child, with a tmpfs at
    `shared_dir` made shared there, as a hostPath with Bidirectional or
    HostToContainer propagation needs. Everything else turns slave first:
    where systemd made the host's mounts shared, the copies are their peers,
    and the daemon's mounts (rootfs overlays, netns files, that tmpfs) would
    land in the host's table."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_SLAVE, None), "make / rslave")
    _check(_libc.mount(b"tmpfs", shared_dir.encode(), b"tmpfs", 0, b"mode=755"),
           f"mount tmpfs on {shared_dir}")
    _check(_libc.mount(None, shared_dir.encode(), None, MS_SHARED, None),
           f"make {shared_dir} shared")
