"""The systemd driver: the container's cgroup is a transient scope unit.

cgroupsPath is `slice:prefix:name` (runc): the unit is `<prefix>-<name>.scope`
in `<slice>` (default `system.slice`, prefix `pyrunc`, name the container id);
a name ending in `.slice` makes a transient slice instead. The unit is started
over D-Bus (StartTransientUnit with Delegate=yes, the accounting switches,
DefaultDependencies=no and the resource properties systemd understands) and we
wait for its job to finish. systemd only creates a scope around a process, so
the unit is started by `add(pid)`; everything else (resources systemd has no
property for, devices, freezer, stats) goes through the v1/v2 fs driver on the
unit's directories, as runc does after `Apply`. `destroy` stops the unit and
resets its failed state, so a later container can reuse the name.

jeepney (pure-Python D-Bus) is imported only here, and only when a bus is used.
"""
from __future__ import annotations

import os

from pyrunc.cgroups import fsio, layout
from pyrunc.cgroups.base import Manager
from pyrunc.cgroups.sdunit import (  # noqa: F401  (re-exported: the driver's vocabulary)
    ANNOTATION_PREFIX, DEFAULT_PREFIX, DEFAULT_SLICE, parse_gvariant, annotation_properties,
    device_properties, expand_slice, parse_path, properties, unit_name)
from pyrunc.errors import CgroupError

SYSTEM_BUS = "SYSTEM"
# a rootless container's default slice, in the user's manager (runc's)
USER_SLICE = "user.slice"
_JOB_TIMEOUT = 30.0


# ---------------------------------------------------------------- the bus


SYSTEMD_PRIVATE = "unix:path=/run/systemd/private"


def _authenticated(address: str, uid: int, timeout: float = 10.0):
    """A socket to `address` past D-Bus's SASL EXTERNAL as `uid`. jeepney
    would offer our euid, which is root's 0 in the user namespace rootless
    podman made; the bus compares the offer with SO_PEERCRED, that is the
    user's uid outside (runc's newUserSystemdDbus passes that uid too)."""
    import socket
    from binascii import hexlify
    from jeepney.bus import get_bus
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(get_bus(address))
        sock.sendall(b"\0AUTH EXTERNAL " + hexlify(str(uid).encode()) + b"\r\n")
        reply = b""
        while b"\r\n" not in reply:
            chunk = sock.recv(1024)
            if not chunk:
                raise ConnectionResetError("the bus closed the connection during authentication")
            reply += chunk
        if not reply.startswith(b"OK "):
            raise PermissionError(f"the bus refused uid {uid}: {reply.strip().decode(errors='replace')}")
        sock.sendall(b"BEGIN\r\n")
        sock.settimeout(None)
    except BaseException:
        sock.close()
        raise
    return sock


def _connect(address: str, uid: int):
    """A jeepney connection; systemd's private socket is peer-to-peer (no
    bus daemon: no Hello, no AddMatch), the system and user buses are buses."""
    from jeepney.io.blocking import DBusConnection, DBusConnectionBase
    sock = _authenticated(address, uid)
    if address != SYSTEMD_PRIVATE:
        return DBusConnection(sock, False), False
    from jeepney.io.common import MessageFilters

    class PeerConnection(DBusConnection):
        def __init__(self, sock):  # DBusConnection's own __init__ says Hello
            DBusConnectionBase.__init__(self, sock, False)
            self._filters = MessageFilters()
            self.unique_name = None
    return PeerConnection(sock), True


def candidates(address: str) -> list[str]:
    """Where to reach systemd: the system bus, then (root only) its private
    socket, as go-systemd's NewWithContext does for runc."""
    if address != SYSTEM_BUS:
        return [address]
    return [SYSTEM_BUS] + ([SYSTEMD_PRIVATE] if os.geteuid() == 0 else [])


class Bus:
    """systemd's Manager interface over a jeepney blocking connection."""

    def __init__(self, address: str = SYSTEM_BUS, uid: int | None = None, user: bool = False):
        """`user`: `address` is the user's session bus, where its systemd
        user manager listens; `uid`: whom to authenticate as (default: euid)."""
        from jeepney import DBusAddress, MatchRule
        from jeepney.bus_messages import message_bus
        from pyrunc.errors import describe_oserror
        uid = os.geteuid() if uid is None else uid
        first = None
        for addr in candidates(address):
            try:
                self.conn, peer = _connect(addr, uid)
                break
            except Exception as exc:  # OSError, or jeepney's plain Exceptions for addresses
                first = first or exc
        else:
            cause = describe_oserror(first) if isinstance(first, OSError) and first.errno else str(first)
            where = f"the user's D-Bus session bus {address}" if user else "the D-Bus system bus"
            raise CgroupError(f"cgroup systemd: connect to {where}: {cause}") from first
        # the destination is harmless on the peer-to-peer socket (systemctl sets it too)
        self.addr = DBusAddress("/org/freedesktop/systemd1", bus_name="org.freedesktop.systemd1",
                                interface="org.freedesktop.systemd1.Manager")
        rule = MatchRule(type="signal", interface="org.freedesktop.systemd1.Manager", member="JobRemoved",
                         path="/org/freedesktop/systemd1")
        self._job_filter = self.conn.filter(rule)
        # jeepney >= 0.8 hands back a FilterHandle, older ones the deque itself
        self.jobs = getattr(self._job_filter, "queue", self._job_filter)
        if not peer:  # a bus only routes the signals someone asked for
            self._checked(self.conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=_JOB_TIMEOUT), "AddMatch")
        # systemd only emits JobRemoved once some client has subscribed
        self.call("Subscribe", None, ())

    def close(self) -> None:
        self.conn.close()

    def manager_cgroup(self) -> str:
        """The manager's own cgroup (its ControlGroup property): for a user
        manager typically /user.slice/user-UID.slice/user@UID.service."""
        from jeepney import DBusAddress, new_method_call
        props = DBusAddress(self.addr.object_path, bus_name=self.addr.bus_name,
                            interface="org.freedesktop.DBus.Properties")
        msg = new_method_call(props, "Get", "ss", ("org.freedesktop.systemd1.Manager", "ControlGroup"))
        ((_, value),) = self._checked(self.conn.send_and_get_reply(msg, timeout=_JOB_TIMEOUT), "Get ControlGroup")
        return value

    def _checked(self, reply, what: str):
        from jeepney import MessageType
        if reply.header.message_type == MessageType.error:
            from jeepney import HeaderFields
            name = reply.header.fields.get(HeaderFields.error_name, "error")
            detail = reply.body[0] if reply.body else ""
            raise CgroupError(f"cgroup systemd: {what}: {name}: {detail}".rstrip(": "))
        return reply.body

    def call(self, method: str, signature: str | None, body: tuple):
        from jeepney import new_method_call
        msg = new_method_call(self.addr, method, signature, body)
        return self._checked(self.conn.send_and_get_reply(msg, timeout=_JOB_TIMEOUT), method)

    def wait_job(self, job: str, unit: str, what: str) -> None:
        import time
        deadline = time.monotonic() + _JOB_TIMEOUT
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CgroupError(f"cgroup systemd: {what} {unit}: timed out waiting for job {job}")
            sig = self.conn.recv_until_filtered(self.jobs, timeout=left)
            _, path, _, result = sig.body
            if path == job:
                if result != "done":
                    raise CgroupError(f"cgroup systemd: {what} {unit}: job {result}")
                return

    def start_transient(self, unit: str, props: list) -> None:
        (job,) = self.call("StartTransientUnit", "ssa(sv)a(sa(sv))", (unit, "replace", props, []))
        self.wait_job(job, unit, "start")

    def stop(self, unit: str) -> None:
        (job,) = self.call("StopUnit", "ss", (unit, "replace"))
        self.wait_job(job, unit, "stop")

    def reset_failed(self, unit: str) -> None:
        self.call("ResetFailedUnit", "s", (unit,))

    def set_properties(self, unit: str, props: list) -> None:
        self.call("SetUnitProperties", "sba(sv)", (unit, True, props))


def _is_gone(exc: CgroupError) -> bool:
    return "NoSuchUnit" in str(exc) or "not loaded" in str(exc)


# ---------------------------------------------------------------- the manager


class SystemdManager(Manager):
    driver = "systemd"

    def __init__(self, *args, unit: str, slice_: str, version: str, bus: str = SYSTEM_BUS,
                 annotations: dict | None = None, bus_uid: int | None = None,
                 manager_cgroup: str | None = None, connection: Bus | None = None, **kw):
        super().__init__(*args, **kw)
        self.annotations = annotations or {}
        self.unit = unit
        self.slice = slice_
        self.version = version
        self.bus_address = bus
        # rootless: the user's manager, reached as the user outside (bus_uid)
        self.bus_uid = bus_uid
        self.manager_cgroup = manager_cgroup
        self.extra.update({"unit": unit, "slice": slice_, "cgroup_version": version, "bus": bus})
        if bus_uid is not None:
            self.extra.update({"bus_uid": bus_uid, "manager_cgroup": manager_cgroup, "rootless": True})
            self.rootless = True
        self.started = False
        self._bus = connection
        fs_cls = _fs_class(version)
        self.fs = fs_cls(self.container_id, self.root, self.inner, self.paths, self.resources,
                         self.prune, self.warn, self.linux_device_paths)
        self.fs.rootless = self.rootless

    def bus(self) -> Bus:
        if self._bus is None:
            self._bus = Bus(self.bus_address, uid=self.bus_uid, user=self.bus_uid is not None)
        return self._bus

    def delegated_controllers(self) -> list[str] | None:
        if self.manager_cgroup is None:
            return super().delegated_controllers()
        # what was delegated to the user's manager, whatever it enabled so far
        return (fsio.read_opt(self.root + self.manager_cgroup, "cgroup.controllers") or "").split()

    def is_slice(self) -> bool:
        return self.unit.endswith(".slice")

    def _unit_props(self, pid: int | None) -> list:
        props = [("Description", ("s", f"pyrunc container {self.container_id}"))]
        if self.is_slice():
            props.append(("Wants", ("as", [self.slice])))
        else:
            props.append(("Slice", ("s", self.slice)))
            props.append(("Delegate", ("b", True)))
        if pid is not None:
            props.append(("PIDs", ("au", [pid])))
        props += [("MemoryAccounting", ("b", True)), ("CPUAccounting", ("b", True)),
                  ("IOAccounting" if self.version == "v2" else "BlockIOAccounting", ("b", True)),
                  ("TasksAccounting", ("b", True)), ("DefaultDependencies", ("b", False))]
        props += annotation_properties(self.annotations)
        props += properties(self.resources, self.version, self.warn)
        if self.rootless:
            # a user manager cannot attach a device filter: the user
            # namespace and the bound device nodes are the confinement
            return props
        from pyrunc.cgroups import devices
        rules = devices.from_spec(self.resources.get("devices"), self.linux_device_paths)
        return props + device_properties(rules, warn=self.warn)

    def create(self) -> None:
        # validate everything a user can get wrong now, before any fork
        properties(self.resources, self.version, self.warn)
        annotation_properties(self.annotations)
        if self.is_slice():
            self._start(None)

    def add(self, pid: int, only: tuple[str, ...] | None = None) -> None:
        if not self.started and not self.is_slice():
            self._start(pid)
        self.fs.add(pid, only)

    def _start(self, pid: int | None) -> None:
        self.bus().start_transient(self.unit, self._unit_props(pid))
        self.started = True
        try:
            # the rest (devices, files systemd has no property for, the v1
            # hierarchies systemd does not manage) through the fs driver
            self.fs.create()
            self.made = self.fs.made
        except BaseException:
            self._stop_unit()
            raise

    def _stop_unit(self) -> None:
        try:
            self.bus().stop(self.unit)
        except CgroupError as exc:
            if not _is_gone(exc):
                raise
        try:
            self.bus().reset_failed(self.unit)
        except CgroupError:
            pass  # not failed, or already gone

    def destroy(self, timeout: float = 2.0) -> None:
        if not self.started:
            # this process never started the unit (create failed before add):
            # there is nothing to ask systemd for
            self.fs.destroy(timeout)
            return
        try:
            self._stop_unit()
        except CgroupError as exc:
            if "connect to the D-Bus" not in str(exc):
                raise
            # no systemd to ask (gone, or never there): the directories still
            # go, and systemd drops an empty scope by itself if it comes back
            self.warn(f"{exc}; removing the cgroup directories only")
        self.fs.destroy(timeout)

    def remove_if_unused(self) -> bool:
        """Never: the unit is stopped over D-Bus (destroy), as runc does."""
        return False

    def set(self, resources: dict) -> None:
        props = properties(resources, self.version, self.warn)
        if props:
            self.bus().set_properties(self.unit, props)
        self.fs.set(resources)

    def freeze(self) -> None:
        self.fs.freeze()

    def thaw(self) -> None:
        self.fs.thaw()

    def frozen(self) -> bool:
        return self.fs.frozen()

    def thaw_tree(self) -> None:
        self.fs.thaw_tree()

    def freezing_dir(self) -> str | None:
        return self.fs.freezing_dir()

    def pids(self) -> list[int]:
        return self.fs.pids()

    def signal_all(self, sig: int) -> None:
        self.fs.signal_all(sig)

    def stats(self) -> dict:
        return self.fs.stats()

    def oom_kill_count(self) -> int:
        return self.fs.oom_kill_count()

    def oom_event_file(self):
        return self.fs.oom_event_file()


def _fs_class(version: str):
    if version == "v2":
        from pyrunc.cgroups.v2 import V2Manager
        return V2Manager
    from pyrunc.cgroups.v1 import V1Manager
    return V1Manager


def new(container_id, cgroups_path, resources, *, root, version, warn=None, linux_device_paths=(), bus=None,
        annotations=None, mountinfo=None, bus_uid=None):
    """`bus_uid` set: rootless, through the user's manager on `bus` (its
    session bus), as that uid. As runc's rootless systemd driver, the
    default slice is then user.slice, below the manager's own cgroup, which
    is asked for now (the only bus call before create)."""
    slice_, prefix, name = parse_path(container_id, cgroups_path)
    connection = manager_cgroup = None
    if bus_uid is not None:
        if not (cgroups_path or "").split(":")[0]:
            slice_ = USER_SLICE
        connection = Bus(bus, uid=bus_uid, user=True)
        try:
            manager_cgroup = connection.manager_cgroup().rstrip("/")
        except BaseException:
            connection.close()
            raise
    unit = unit_name(prefix, name)
    inner = (manager_cgroup or "") + expand_slice(slice_).rstrip("/") + "/" + unit
    if version == "v2":
        paths = {"": root + inner}
    else:
        paths = layout.v1_paths(inner, root, mountinfo=mountinfo)
    return SystemdManager(container_id, root, inner, paths, resources, [], warn, linux_device_paths,
                          unit=unit, slice_=slice_, version=version, bus=bus or SYSTEM_BUS,
                          annotations=annotations, bus_uid=bus_uid, manager_cgroup=manager_cgroup,
                          connection=connection)


def load(record: dict, warn=None) -> SystemdManager:
    try:
        mgr = SystemdManager(record["id"], record["root"], record["path"], record["paths"], None,
                             record.get("prune") or [], warn, (), unit=record["unit"], slice_=record["slice"],
                             version=record.get("cgroup_version", "v2"), bus=record.get("bus", SYSTEM_BUS),
                             bus_uid=record.get("bus_uid"), manager_cgroup=record.get("manager_cgroup"))
    except KeyError as exc:
        raise CgroupError(f"cgroup: malformed systemd cgroup record in state: missing {exc}") from exc
    mgr.started = True
    return mgr
