"""NOTIFY_SOCKET pass-through: sd_notify from inside the container reaches
the socket of whoever ran pyrunc (systemd with Type=notify), as with runc.

The flow (runc's notify_socket.go):
  create  NOTIFY_SOCKET set in our environment: make <state>/notify/, bind it
          read-only at /run/notify in the container and give the process
          NOTIFY_SOCKET=/run/notify/notify.sock. The host's socket itself is
          never exposed to the container.
  start   bind a datagram socket at <state>/notify/notify.sock before the
          container is released, then wait until it sends a `READY=` datagram
          (or its init dies) and send `READY=1` and then `MAINPID=<init pid>` to the
          host's socket, so the caller watches the container's init, not us.
          A foreground `run` relays from a thread while it waits for the init,
          and names itself as MAINPID (it exits with the container's status).
Parent-side; import-light.
"""
from __future__ import annotations

import os
import select
import socket

DIR_NAME = "notify"
SOCKET_NAME = "notify.sock"
IN_CONTAINER_DIR = "/run/notify"


def host_socket(environ=None) -> str | None:
    path = (os.environ if environ is None else environ).get("NOTIFY_SOCKET")
    return path or None


def _address(path: str) -> str:
    # sd_notify's abstract-namespace form: "@name" is "\0name"
    return "\0" + path[1:] if path.startswith("@") else path


def prepare(state_dir: str, environ=None) -> tuple[tuple, tuple]:
    """At create, before the plan is built: (mounts, env) for it, after making
    the directory; ((), ()) without NOTIFY_SOCKET."""
    if not host_socket(environ):
        return (), ()
    from pyrunc import plan as planner
    d = os.path.join(state_dir, DIR_NAME)
    os.makedirs(d, mode=0o755, exist_ok=True)
    mount = planner.mount({"destination": IN_CONTAINER_DIR, "source": d, "type": "bind",
                           "options": ["bind", "nosuid", "noexec", "nodev", "ro"]}, state_dir)
    return (mount,), (f"NOTIFY_SOCKET={IN_CONTAINER_DIR}/{SOCKET_NAME}",)


def bind(state_dir: str, environ=None) -> socket.socket | None:
    """At start, before the release: the socket the container will write to."""
    if not host_socket(environ):
        return None
    d = os.path.join(state_dir, DIR_NAME)
    if not os.path.isdir(d):
        return None  # created without NOTIFY_SOCKET: nothing was mounted
    # Through the directory's descriptor: under a deep --root the whole path
    # is longer than a socket address may be (108 bytes), the short
    # /proc/self/fd/N/notify.sock names the same place.
    dirfd = os.open(d, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        path = f"/proc/self/fd/{dirfd}/{SOCKET_NAME}"
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        sock.bind(path)
        # the container's user may be anyone: it must be able to send
        os.chmod(path, 0o777)
    except OSError as exc:
        sock.close()
        from pyrunc.errors import PyruncError, describe_oserror
        raise PyruncError(f"notify socket {os.path.join(d, SOCKET_NAME)}: {describe_oserror(exc)}") from None
    finally:
        os.close(dirfd)
    return sock


def forward(sock: socket.socket, init_pid: int, environ=None, timeout: float | None = None,
            main_pid: int | None = None) -> bool:
    """Wait for READY= from the container and tell the host; False if the init died first.

    MAINPID is the container's init, or `main_pid` (a foreground `run` names
    itself, as runc does: it is the process that lives as long as the
    container and exits with its status)."""
    host = host_socket(environ)
    try:
        pidfd = os.pidfd_open(init_pid)
    except ProcessLookupError:
        sock.close()
        return False
    try:
        while True:
            ready, _, _ = select.select([sock, pidfd], [], [], timeout)
            if not ready:
                return False
            if sock in ready:
                data = sock.recv(4096)
                if any(line.startswith(b"READY=") for line in data.split(b"\n")):
                    # runc's two datagrams: the state, then the pid to watch
                    _send(host, b"READY=1\n", b"MAINPID=%d\n" % (main_pid or init_pid))
                    return True
            elif pidfd in ready:
                return False
    finally:
        os.close(pidfd)
        sock.close()


def forward_in_background(sock: socket.socket, init_pid: int, environ=None) -> None:
    """For a foreground `run` (runc does this in a goroutine): the caller goes
    on to wait for the container while a daemon thread relays READY=."""
    import threading
    threading.Thread(target=forward, args=(sock, init_pid, environ),
                     kwargs={"main_pid": os.getpid()}, daemon=True, name="notify-socket").start()


def _send(host: str, *datagrams: bytes) -> None:
    out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        out.connect(_address(host))
        for data in datagrams:
            out.send(data)
    except OSError:
        pass  # the caller's socket went away: nothing to tell
    finally:
        out.close()
