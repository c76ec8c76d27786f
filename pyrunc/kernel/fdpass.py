"""Passing one file descriptor over a unix socket (SCM_RIGHTS), by fd number.

The pty master goes to the console socket or to `run` (init/console.py,
lifecycle/run.py), the seccomp listener to its agent (init/seccomp_agent.py).
socket.py's send_fds/recv_fds would do, but importing socket.py builds its
enums (~1.5 ms of every create, and memory in every waiting init); this is
the same sendmsg/recvmsg on `_socket`, its C half. Child-side safe: no
imports after load, no state.
"""
import sys

from pyrunc.kernel.cpython import socket

_INT = 4  # SCM_RIGHTS carries C ints


def send_fd(sock_fd, data, fd):
    """sendmsg(data, [fd]) on the connected socket `sock_fd` (not closed)."""
    sock = socket.socket(fileno=sock_fd)
    try:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                               fd.to_bytes(_INT, sys.byteorder, signed=True))])
    finally:
        sock.detach()


def recv_fd(sock, bufsize=1024):
    """(data, fd or None) from one recvmsg on `sock` (a socket.socket)."""
    data, ancdata, _flags, _addr = sock.recvmsg(bufsize, socket.CMSG_SPACE(_INT))
    for level, kind, payload in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS and len(payload) >= _INT:
            return data, int.from_bytes(payload[:_INT], sys.byteorder, signed=True)
    return data, None
