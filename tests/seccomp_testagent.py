"""A tiny seccomp user-notification agent for tests (SCMP_ACT_NOTIFY).

`recv_notif(fd)` / `respond(fd, id, error=, val=)` speak the kernel's
SECCOMP_IOCTL_NOTIF_RECV/SEND directly; `Agent` listens on a unix socket the
way a real agent does for runc's `listenerPath`: it accepts one connection,
reads the ContainerProcessState JSON with the listener fd (SCM_RIGHTS), then
answers every notification for the syscalls it was told to fake.
"""
from __future__ import annotations

import fcntl
import json
import os
import select
import socket
import struct
import threading

# _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp)
SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101
_NOTIF = struct.Struct("=QII iIQ6Q")  # id, pid, flags, data{nr, arch, ip, args[6]}
_RESP = struct.Struct("=QqiI")        # id, val, error, flags
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1


def recv_notif(fd: int) -> dict:
    buf = bytearray(_NOTIF.size)
    fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, buf)
    nid, pid, flags, nr, arch, ip, *args = _NOTIF.unpack(buf)
    return {"id": nid, "pid": pid, "nr": nr, "arch": arch, "args": args}


def respond(fd: int, nid: int, *, error: int = 0, val: int = 0, cont: bool = False) -> None:
    flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE if cont else 0
    # the kernel wants a negative errno in `error`
    buf = bytearray(_RESP.pack(nid, val, -abs(error), flags))
    fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, buf)


class Agent:
    """Listens on `path`; for each notification calls answer(notif) ->
    (error, val) and replies. Records the state it got and every notif."""

    def __init__(self, path: str, answer):
        self.path = path
        self.answer = answer
        self.state = None
        self.fds_names = None
        self.notifs = []
        self.error = None
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(4)
        self._stop_r, self._stop_w = os.pipe()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.got_fd = threading.Event()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        os.write(self._stop_w, b"x")
        self.thread.join(10)
        self.server.close()
        os.close(self._stop_r)
        os.close(self._stop_w)

    def _run(self):
        try:
            ready, _, _ = select.select([self.server, self._stop_r], [], [])
            if self._stop_r in ready:
                return
            conn, _ = self.server.accept()
            with conn:
                msg, fds, _, _ = socket.recv_fds(conn, 65536, 4)
            self.state = json.loads(msg)
            listener = fds[0]
            for extra in fds[1:]:
                os.close(extra)
            self.got_fd.set()
            try:
                while True:
                    ready, _, _ = select.select([listener, self._stop_r], [], [])
                    if self._stop_r in ready:
                        return
                    try:
                        notif = recv_notif(listener)
                    except OSError:
                        return  # every filtered process is gone
                    self.notifs.append(notif)
                    error, val = self.answer(notif)
                    try:
                        respond(listener, notif["id"], error=error, val=val)
                    except OSError:
                        pass  # the caller died meanwhile
            finally:
                os.close(listener)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc
            self.got_fd.set()
