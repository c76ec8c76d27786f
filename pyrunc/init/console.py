"""The container's terminal: a pty from the container's own devpts.

The master goes to the caller over --console-socket with SCM_RIGHTS (runc's
protocol: one fd, its name as the payload); the slave becomes stdio and
/dev/console. The slave is reached with TIOCGPTPEER from the master fd, never
by a path lookup the container could race (CVE-2025-52565). Child-side.
"""
import fcntl
import os
import stat
import struct

from pyrunc import testhooks as testguards
from pyrunc.init import apply_security as security
from pyrunc.errors import InitError, describe_oserror
from pyrunc.kernel import fdpass, syscalls as k

# ioctl numbers (asm-generic; termios.py would cost every container's init ~0.5 ms)
TIOCSPTLCK = 0x40045431
TIOCGPTPEER = 0x5441
TIOCGPTN = 0x80045430
TIOCSWINSZ = 0x5414
TIOCSCTTY = 0x540E
TCGETS = 0x5401
TCSETS = 0x5402
ONLCR = 0o4  # c_oflag: "\n" -> "\r\n" on output
_TERMIOS = 60  # struct termios (36 bytes on most arches) with room to spare
DEVPTS_SUPER_MAGIC = 0x1CD1


def open_pty():
    """(master fd, slave fd, slave name) from the container's /dev/ptmx."""
    try:
        master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise InitError(f"open /dev/ptmx: {describe_oserror(exc)}") from None
    try:
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        num = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0\0\0\0"))[0]
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
    except OSError as exc:
        os.close(master)
        raise InitError(f"set up pty: {describe_oserror(exc)}") from None
    return master, slave, f"/dev/pts/{num}"


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def clear_onlcr(fd):
    """Output without the pty's "\n" -> "\r\n": what runc's own console
    (recvtty) does to the master it receives. Done here, before the master
    leaves and before the process can print: the parent would be too late
    for an exec'd process that prints at once."""
    try:
        attrs = bytearray(fcntl.ioctl(fd, TCGETS, bytes(_TERMIOS)))
        oflag = struct.unpack_from("I", attrs, 4)[0]  # c_iflag, then c_oflag
        struct.pack_into("I", attrs, 4, oflag & ~ONLCR)
        fcntl.ioctl(fd, TCSETS, bytes(attrs))
    except OSError as exc:
        raise InitError(f"clear ONLCR on the pty: {describe_oserror(exc)}") from None


def send_master(sock_fd, master):
    try:
        fdpass.send_fd(sock_fd, b"/dev/ptmx", master)
    except OSError as exc:
        raise InitError(f"send pty master over console socket: {describe_oserror(exc)}") from None


def _console_target():
    """An O_PATH fd of /dev/console, made if missing; never through a symlink."""
    try:
        os.close(os.open("/dev/console", os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC
                         | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        pass
    nofollow = 0 if testguards.off("console-by-fd") else os.O_NOFOLLOW
    fd = os.open("/dev/console", os.O_PATH | nofollow | os.O_CLOEXEC)
    if stat.S_ISLNK(os.fstat(fd).st_mode):
        os.close(fd)
        raise InitError("/dev/console is a symlink, refusing to mount the console there")
    return fd


def setup(plan, console_fd, raw=False, bind_console=True):
    """In the container after pivot_root: pty, send master, slave as stdio + /dev/console.
    `raw`: the runtime itself is the console (no --console-socket): no ONLCR.
    Without `bind_console` (no mount namespace: a mount would be the host's)
    there is no /dev/console."""
    master, slave, name = open_pty()
    if plan.console_size:
        set_size(slave, *plan.console_size)
    if raw:
        clear_onlcr(slave)
    send_master(console_fd, master)
    os.close(master)
    os.close(console_fd)
    if bind_console:
        _bind_console(slave, name)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    fcntl.ioctl(0, TIOCSCTTY, 0)
    os.close(slave)


def _bind_console(slave, name):
    # /dev/console: bind the slave there, by fd on both ends (CVE-2025-52565:
    # a /dev/console symlink from the rootfs must not redirect the mount)
    try:
        security.check_fstype(slave, DEVPTS_SUPER_MAGIC, f"{name}: not on devpts, refusing")
        target = _console_target()
        try:
            k.mount(f"/proc/self/fd/{slave}", f"/proc/self/fd/{target}", None, k.MS_BIND)
        finally:
            os.close(target)
    except OSError as exc:
        raise InitError(f"mount {name} on /dev/console: {describe_oserror(exc)}") from None
