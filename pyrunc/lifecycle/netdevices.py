"""linux.netDevices: host network interfaces moved into the container's
network namespace at create, and back out at delete.

Place in the flow: lifecycle/create.py calls move_in() once the init is ready
(its network namespace exists, it waits for `start`), before the state
says `created`; the rollback and lifecycle/delete.py call move_out() while the
init still lives (afterwards its namespace is gone: the kernel destroys
virtual devices with it and returns physical ones to the initial
namespace, not to ours). "The host" is the runtime's own network namespace.

As runc (libcontainer/network_linux.go): each device is set down, moved and
renamed in one request, its permanent global addresses are added again
inside (the kernel drops addresses on a move), and it is set up there.
Parent-side; checks of the names are config/checks/linux.py's.
"""
from __future__ import annotations

import os

from pyrunc.errors import PyruncError, describe_oserror
from pyrunc.kernel import netlink

# what the state record keeps: [[host name, name in the container], ...]


def _ns_fd(pid):
    return os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def _home_fd():
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def move_in(devices, init_pid, where):
    """Move each (host name, container name) into init_pid's network namespace.
    On a failure the ones already moved go back, and PyruncError says which
    device failed and why."""
    moved, failed = _move_all(init_pid, devices, inward=True)
    if failed is None:
        return moved
    try:
        move_out(moved, init_pid)
    except PyruncError:
        pass  # the first error is the one to tell
    exc, host_name, name = failed
    raise PyruncError(f"{where}: linux.netDevices: move {host_name} into the container"
                      f"{'' if name == host_name else ' as ' + name}: {describe_oserror(exc)}")


def move_out(moved, init_pid):
    """Back to the runtime's namespace under their host names, addresses kept,
    link down; every device is tried, the first failure is raised after."""
    if not moved:
        return
    _done, failed = _move_all(init_pid, [(name, host) for host, name in moved], inward=False)
    if failed is not None:
        exc, name, host_name = failed
        raise PyruncError(f"linux.netDevices: move {name} back to the host as {host_name}: "
                          f"{describe_oserror(exc)}")


def _move_all(init_pid, pairs, inward):
    """Move (name, new name) pairs into (inward) or out of the container's
    namespace: ([moved pairs, as (host name, container name)], the first
    failure as (OSError, name, new name) or None). Inward stops at the first
    failure; outward tries every device."""
    done, failed = [], None
    ns = home = -1
    try:
        ns = _ns_fd(init_pid)
        home = _home_fd()
        with netlink.Socket() as host, netlink.socket_in(ns) as inside:
            src, dst, dst_ns = (host, inside, ns) if inward else (inside, host, home)
            for name, new_name in pairs:
                try:
                    _move(src, dst, name, new_name, dst_ns, up=inward)
                except OSError as exc:
                    failed = failed or (exc, name, new_name)
                    if inward:
                        break
                    continue
                done.append([name, new_name] if inward else [new_name, name])
    except OSError as exc:  # opening the namespace or a socket: the first device is where it stopped
        failed = failed or (exc, *pairs[min(len(done), len(pairs) - 1)])
    finally:
        for fd in (ns, home):
            if fd >= 0:
                os.close(fd)
    return done, failed


def _move(src, dst, name, new_name, dst_ns, up):
    index = src.link_index(name)
    src.set_up(index, False)  # nothing on the old side may use it half-way
    keep = [(family, plen, scope, addr) for family, plen, scope, flags, addr in src.addresses(index)
            if flags & netlink.IFA_F_PERMANENT and scope == netlink.RT_SCOPE_UNIVERSE]
    src.move(index, new_name, dst_ns)
    new = dst.link_index(new_name)
    for family, plen, scope, addr in keep:
        dst.add_address(new, family, plen, scope, addr)
    if up:  # inside, as runc; back on the host it stays down: the host's tools decide
        dst.set_up(new, True)
