"""The systemd driver: names, properties, and a fake systemd on a private D-Bus.

The fake peer is a real D-Bus endpoint on a unix socket (SASL EXTERNAL, then
messages parsed and answered with jeepney's own wire code), so the driver's
calls are checked byte-for-byte: method names, signatures, property variants
and the JobRemoved wait.
"""
from __future__ import annotations

import json
import os
import socket
import threading

import pytest

from pyrunc.cgroups import load_manager, new_manager
from pyrunc.cgroups import systemd as sd
from pyrunc.cgroups.v2 import V2Manager
from pyrunc.errors import CgroupError
from tests.unit.test_cgroups_fakefs import FakeCgroupFS, fake_rmdir  # noqa: F401

from jeepney import DBusAddress, HeaderFields, new_error, new_method_return, new_signal
from jeepney.low_level import Parser

U64 = 2**64 - 1


# ------------------------------------------------------------------ pure parts


@pytest.mark.parametrize("path,want", [
    (None, ("system.slice", "pyrunc", "cid")), ("", ("system.slice", "pyrunc", "cid")),
    ("machine.slice:libpod:abc", ("machine.slice", "libpod", "abc")),
    (":crio:x", ("system.slice", "crio", "x")),
])
def test_parse_path(path, want):
    assert sd.parse_path("cid", path) == want


def test_parse_path_rejects_other_forms():
    with pytest.raises(CgroupError, match="slice:prefix:name"):
        sd.parse_path("cid", "/abs/path")


@pytest.mark.parametrize("prefix,name,unit", [("docker", "abc", "docker-abc.scope"), ("", "abc", "abc.scope"),
                                              ("x", "my.slice", "my.slice")])
def test_unit_name(prefix, name, unit):
    assert sd.unit_name(prefix, name) == unit


@pytest.mark.parametrize("slice_,path", [("system.slice", "/system.slice"), ("-.slice", "/"),
                                         ("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice")])
def test_expand_slice(slice_, path):
    assert sd.expand_slice(slice_) == path


@pytest.mark.parametrize("bad", ["system", "a--b.slice", "a/b.slice", "-a.slice", ".slice"])
def test_expand_slice_rejects(bad):
    with pytest.raises(CgroupError, match="invalid slice"):
        sd.expand_slice(bad)


def test_properties_v2():
    props = dict(sd.properties({"memory": {"limit": 1000, "swap": 3000, "reservation": 10},
                                "cpu": {"shares": 1024, "quota": 12345, "period": 100000, "cpus": "0,2-3", "mems": "0"},
                                "pids": {"limit": -1}}, "v2"))
    assert props == {"MemoryMax": ("t", 1000), "MemoryLow": ("t", 10), "MemorySwapMax": ("t", 2000),
                     "CPUWeight": ("t", 39), "CPUQuotaPeriodUSec": ("t", 100000),
                     "CPUQuotaPerSecUSec": ("t", 130000),            # 123450 rounded up to 10ms
                     "TasksMax": ("t", U64), "AllowedCPUs": ("ay", bytes([0b1101])),
                     "AllowedMemoryNodes": ("ay", b"\x01")}


def test_properties_v1():
    props = dict(sd.properties({"memory": {"limit": -1}, "cpu": {"shares": 512, "quota": -1},
                                "blockIO": {"weight": 300}, "pids": {"limit": 0}}, "hybrid"))
    assert props == {"MemoryLimit": ("t", U64), "CPUShares": ("t", 512), "CPUQuotaPerSecUSec": ("t", U64),
                     "BlockIOWeight": ("t", 300)}


# ------------------------------------------------------------------ fake systemd


class FakeSystemd:
    """Answers the Manager calls the driver makes; records them."""

    def __init__(self, path: str, p2p: bool = False):
        self.path = path
        self.p2p = p2p          # systemd's private socket: no bus, so no Hello/AddMatch
        self.calls: list[tuple[str, tuple]] = []
        self.fail: dict[str, tuple[str, str]] = {}   # method -> (error name, message)
        self.job_result = "done"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        self.jobs = 0
        self.auth_uids: list[int] = []   # the uids clients authenticated as
        self.control_group = "/"         # the Manager's ControlGroup property

    def close(self):
        self.sock.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn):
        buf = b""
        try:
            # SASL: "\0AUTH EXTERNAL <hex uid>\r\n" ... "BEGIN\r\n"
            while b"BEGIN\r\n" not in buf:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buf += chunk
                while b"\r\n" in buf and b"BEGIN\r\n" not in buf.split(b"\r\n", 1)[0] + b"\r\n":
                    line, buf = buf.split(b"\r\n", 1)
                    line = line.lstrip(b"\0")
                    if line.startswith(b"AUTH"):
                        self.auth_uids.append(int(bytes.fromhex(line.split()[-1].decode()).decode()))
                        conn.sendall(b"OK " + b"0" * 32 + b"\r\n")
                    elif line.startswith(b"NEGOTIATE_UNIX_FD"):
                        conn.sendall(b"AGREE_UNIX_FD\r\n")
            rest = buf.split(b"BEGIN\r\n", 1)[1]
            parser = Parser()
            serial = [1000]
            pending = rest
            while True:
                for msg in parser.feed(pending) if pending else []:
                    self._handle(conn, msg, serial)
                pending = conn.recv(65536)
                if not pending:
                    return
        except OSError:
            return

    def _send(self, conn, msg, serial):
        serial[0] += 1
        conn.sendall(msg.serialise(serial=serial[0]))

    def _handle(self, conn, msg, serial):
        member = msg.header.fields.get(HeaderFields.member)
        if member in ("Hello", "AddMatch") and self.p2p:
            self.calls.append((member, msg.body))
            return self._send(conn, new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s", ("no bus",)),
                              serial)
        if member == "Hello":
            return self._send(conn, new_method_return(msg, "s", (":1.42",)), serial)
        if member in ("AddMatch", "Subscribe"):
            return self._send(conn, new_method_return(msg), serial)
        self.calls.append((member, msg.body))
        if member in self.fail:
            name, text = self.fail[member]
            return self._send(conn, new_error(msg, name, "s", (text,)), serial)
        if member == "Get" and msg.body == ("org.freedesktop.systemd1.Manager", "ControlGroup"):
            return self._send(conn, new_method_return(msg, "v", (("s", self.control_group),)), serial)
        if member in ("StartTransientUnit", "StopUnit"):
            self.jobs += 1
            job = f"/org/freedesktop/systemd1/job/{self.jobs}"
            self._send(conn, new_method_return(msg, "o", (job,)), serial)
            emitter = DBusAddress("/org/freedesktop/systemd1", interface="org.freedesktop.systemd1.Manager")
            # an unrelated job first: the driver must wait for its own
            self._send(conn, new_signal(emitter, "JobRemoved", "uoss", (999, "/other/job", "x.scope", "done")), serial)
            self._send(conn, new_signal(emitter, "JobRemoved", "uoss", (self.jobs, job, msg.body[0], self.job_result)),
                       serial)
            return
        return self._send(conn, new_method_return(msg), serial)


@pytest.fixture
def fake_systemd(tmp_path):
    peer = FakeSystemd(str(tmp_path / "bus.sock"))
    yield peer
    peer.close()


@pytest.fixture
def v2fs(tmp_path, monkeypatch):
    fs = FakeCgroupFS(tmp_path, "v2").install(monkeypatch)
    monkeypatch.setattr(V2Manager, "device_installer", staticmethod(lambda d, prog: None))
    return fs


def mk(fs, peer, path="machine.slice:libpod:abc", res=None):
    return new_manager("abc", path, res, systemd=True, root=fs.root, bus=f"unix:path={peer.path}")


def test_scope_is_started_with_the_pid_and_delegation(v2fs, fake_systemd):
    m = mk(v2fs, fake_systemd, res={"memory": {"limit": 1 << 26}, "pids": {"limit": 10}})
    rec = m.record()
    assert rec["driver"] == "systemd" and rec["unit"] == "libpod-abc.scope"
    assert rec["paths"] == {"": f"{v2fs.root}/machine.slice/libpod-abc.scope"}
    m.create()
    assert fake_systemd.calls == []           # a scope needs a pid: started by add()
    m.add(1234)
    (member, body), = fake_systemd.calls
    assert member == "StartTransientUnit"
    name, mode, props, aux = body
    assert (name, mode, aux) == ("libpod-abc.scope", "replace", [])
    props = dict(props)
    assert props["Slice"] == ("s", "machine.slice") and props["Delegate"] == ("b", True)
    assert props["PIDs"] == ("au", [1234]) and props["DefaultDependencies"] == ("b", False)
    assert props["MemoryMax"] == ("t", 1 << 26) and props["TasksMax"] == ("t", 10)
    assert props["IOAccounting"] == ("b", True)
    # the fs side wrote what systemd was also told, and placed the pid
    assert v2fs.read("machine.slice/libpod-abc.scope", "memory.max") == str(1 << 26)
    assert v2fs.read("machine.slice/libpod-abc.scope", "cgroup.procs") == "1234"


def test_destroy_stops_and_resets_failed(v2fs, fake_systemd, fake_rmdir):
    m = mk(v2fs, fake_systemd)
    m.create()
    m.add(1)
    fake_systemd.calls.clear()
    load_manager(json.loads(json.dumps(m.record()))).destroy()
    assert [c[0] for c in fake_systemd.calls] == ["StopUnit", "ResetFailedUnit"]
    assert fake_systemd.calls[0][1] == ("libpod-abc.scope", "replace")
    assert not os.path.exists(f"{v2fs.root}/machine.slice/libpod-abc.scope")


def test_destroy_of_a_gone_unit_is_fine(v2fs, fake_systemd):
    m = load_manager(mk(v2fs, fake_systemd).record())
    fake_systemd.fail["StopUnit"] = ("org.freedesktop.systemd1.NoSuchUnit", "Unit libpod-abc.scope not loaded.")
    m.destroy()
    m.destroy()
    assert [c[0] for c in fake_systemd.calls][:2] == ["StopUnit", "ResetFailedUnit"]


def test_update_sets_unit_properties_and_files(v2fs, fake_systemd):
    m = mk(v2fs, fake_systemd)
    m.create()
    m.add(1)
    fake_systemd.calls.clear()
    load_manager(m.record()).set({"memory": {"limit": 2 << 26}})
    (member, (unit, runtime, props)), = fake_systemd.calls
    assert (member, unit, runtime, dict(props)) == ("SetUnitProperties", "libpod-abc.scope", True,
                                                   {"MemoryMax": ("t", 2 << 26)})
    assert v2fs.read("machine.slice/libpod-abc.scope", "memory.max") == str(2 << 26)


def test_failed_job_is_an_error(v2fs, fake_systemd):
    fake_systemd.job_result = "failed"
    m = mk(v2fs, fake_systemd)
    m.create()
    with pytest.raises(CgroupError, match=r"^cgroup systemd: start libpod-abc.scope: job failed$"):
        m.add(1)


def test_error_reply_is_one_line(v2fs, fake_systemd):
    fake_systemd.fail["StartTransientUnit"] = ("org.freedesktop.systemd1.UnitExists", "Unit libpod-abc.scope already exists.")
    m = mk(v2fs, fake_systemd)
    with pytest.raises(CgroupError, match=r"StartTransientUnit: org.freedesktop.systemd1.UnitExists: Unit libpod"):
        m.add(1)


def test_slice_unit_is_started_at_create_without_pids(v2fs, fake_systemd):
    m = mk(v2fs, fake_systemd, path="machine.slice::pod1.slice")
    m.create()
    (member, (name, _, props, _)), = fake_systemd.calls
    props = dict(props)
    assert name == "pod1.slice" and "PIDs" not in props and props["Wants"] == ("as", ["machine.slice"])
    assert "Delegate" not in props


def test_default_unit_name_and_no_bus_needed_to_describe(v2fs):
    m = new_manager("abc", None, None, systemd=True, root=v2fs.root, bus="unix:path=/nonexistent")
    assert m.record()["unit"] == "pyrunc-abc.scope"
    assert m.record()["paths"][""] == f"{v2fs.root}/system.slice/pyrunc-abc.scope"


def test_unreachable_bus_is_a_clear_error(v2fs):
    m = new_manager("abc", None, None, systemd=True, root=v2fs.root, bus="unix:path=/nonexistent/bus")
    with pytest.raises(CgroupError, match="^cgroup systemd: connect to the D-Bus system bus"):
        m.add(1)


PROC_DEVICES = "Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n\nBlock devices:\n  8 sd\n254 virtblk\n"


def test_device_properties_like_runc():
    from pyrunc.cgroups.devices import from_spec
    rules = from_spec([{"allow": False, "access": "rwm"}, {"allow": True, "type": "b", "major": 8, "access": "r"}])
    props = sd.device_properties(rules, PROC_DEVICES, exists=lambda p: "10:200" not in p)
    assert props[:2] == [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))]
    allow = props[2][1][1]
    assert ("block-*", "m") in allow and ("char-*", "m") in allow
    assert ("block-sd", "r") in allow and ("char-pts", "rwm") in allow
    assert ("/dev/char/1:3", "rwm") in allow
    assert not any(p == "/dev/char/10:200" for p, _ in allow)     # absent device skipped


def test_device_properties_allow_all_and_deny_list():
    from pyrunc.cgroups.devices import Rule
    assert sd.device_properties([Rule("a", -1, -1, "rwm", True)], "") == [
        ("DevicePolicy", ("s", "auto")), ("DeviceAllow", ("a(ss)", []))]
    warnings = []
    props = sd.device_properties([Rule("a", -1, -1, "rwm", True), Rule("c", 1, 1, "r", False)], "",
                                 warn=warnings.append)
    assert props == [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))] and warnings


def test_unit_gets_device_properties(v2fs, fake_systemd):
    m = mk(v2fs, fake_systemd, res={"devices": [{"allow": False, "access": "rwm"}]})
    m.create()
    m.add(7)
    props = fake_systemd.calls[0][1][2]
    assert ("DevicePolicy", ("s", "strict")) in props
    assert [p for p in props if p[0] == "DeviceAllow"][-1][1][1]   # a non-empty allow list, over the wire


def test_falls_back_to_systemds_private_socket_as_root(v2fs, tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("the fallback is for root only")
    peer = FakeSystemd(str(tmp_path / "private.sock"), p2p=True)
    try:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus-here")
        monkeypatch.setattr(sd, "SYSTEMD_PRIVATE", f"unix:path={peer.path}")
        m = new_manager("abc", "machine.slice:libpod:abc", None, systemd=True, root=v2fs.root)
        m.create()
        m.add(99)
        assert [c[0] for c in peer.calls] == ["StartTransientUnit"]     # no Hello, no AddMatch
    finally:
        peer.close()


def test_candidates():
    assert sd.candidates("unix:path=/x") == ["unix:path=/x"]
    assert sd.candidates(sd.SYSTEM_BUS)[0] == sd.SYSTEM_BUS


@pytest.mark.parametrize("raw,want", [
    ("true", ("b", True)), ("'inactive-or-failed'", ("s", "inactive-or-failed")), ('"x y"', ("s", "x y")),
    ("uint64 123", ("t", 123)), ("42", ("i", 42)), ("1.5", ("d", 1.5)), ("['a', 'b']", ("as", ["a", "b"])),
    ("@as []", ("as", [])),
])
def test_gvariant_subset(raw, want):
    assert sd.parse_gvariant(raw) == want


def test_annotation_properties_like_runc():
    props = sd.annotation_properties({
        "org.systemd.property.CollectMode": "'inactive-or-failed'",
        "org.systemd.property.TimeoutStopSec": "uint64 7",
        "org.systemd.property.RuntimeMaxSec": "1.5",
        "io.kubernetes.other": "x"})
    assert props == [("CollectMode", ("s", "inactive-or-failed")), ("RuntimeMaxUSec", ("t", 1500000)),
                     ("TimeoutStopUSec", ("t", 7000000))]


@pytest.mark.parametrize("key,value,msg", [("org.systemd.property.Ab", "1", "invalid property name"),
                                           ("org.systemd.property.Foo-Bar", "1", "invalid property name"),
                                           ("org.systemd.property.TimeoutSec", "'x'", "not a number"),
                                           ("org.systemd.property.Foo", "{x}", "cannot parse")])
def test_annotation_properties_errors(key, value, msg):
    with pytest.raises(CgroupError, match=msg):
        sd.annotation_properties({key: value})


def test_annotations_reach_the_unit(v2fs, fake_systemd):
    m = new_manager("abc", "machine.slice:libpod:abc", None, systemd=True, root=v2fs.root,
                    bus=f"unix:path={fake_systemd.path}",
                    annotations={"org.systemd.property.CollectMode": "'inactive-or-failed'"})
    m.create()
    m.add(5)
    assert ("CollectMode", ("s", "inactive-or-failed")) in fake_systemd.calls[0][1][2]


def test_destroy_without_a_bus_still_removes_directories(v2fs, fake_rmdir):
    warnings = []
    m = new_manager("abc", None, None, systemd=True, root=v2fs.root, bus="unix:path=/nonexistent/bus",
                    warn=warnings.append)
    os.makedirs(m.paths[""])
    m = load_manager(m.record(), warn=warnings.append)     # as `delete` sees it: maybe started
    m.destroy()
    assert not os.path.exists(m.paths[""]) and "connect to the D-Bus" in warnings[0]


def test_rollback_of_a_never_started_unit_does_not_call_systemd(v2fs, fake_systemd):
    m = mk(v2fs, fake_systemd)
    m.create()
    m.destroy()
    assert fake_systemd.calls == []


def test_rootless_scope_is_the_user_managers(v2fs, fake_systemd, fake_rmdir):
    """runc's rootless systemd driver: the user's bus, authenticated as the
    user outside (not as root of podman's user namespace), the default slice
    user.slice below the manager's own cgroup, no device filter."""
    fake_systemd.control_group = "/user.slice/user-1000.slice/user@1000.service"
    m = new_manager("abc", None, {"pids": {"limit": 20}, "devices": [{"allow": False, "access": "rwm"}]},
                    systemd=True, root=v2fs.root, bus=f"unix:path={fake_systemd.path}", bus_uid=1000)
    assert fake_systemd.auth_uids == [1000]
    rec = m.record()
    assert rec["paths"][""] == f"{v2fs.root}/user.slice/user-1000.slice/user@1000.service/user.slice/pyrunc-abc.scope"
    assert rec["slice"] == "user.slice" and rec["bus_uid"] == 1000 and rec["rootless"]
    m.create()
    m.add(42)
    (member, (name, _, props, _)), = [c for c in fake_systemd.calls if c[0] == "StartTransientUnit"]
    props = dict(props)
    assert props["Slice"] == ("s", "user.slice") and props["TasksMax"] == ("t", 20)
    assert "DevicePolicy" not in props
    again = load_manager(rec)      # delete, later: the same bus, as the same uid
    again.destroy()
    assert fake_systemd.auth_uids == [1000, 1000]


def test_rootless_named_slice_is_kept(v2fs, fake_systemd):
    fake_systemd.control_group = "/user.slice/user-1000.slice/user@1000.service"
    m = new_manager("abc", "machine.slice:libpod:abc", None, systemd=True, root=v2fs.root,
                    bus=f"unix:path={fake_systemd.path}", bus_uid=1000)
    assert m.record()["path"] == "/user.slice/user-1000.slice/user@1000.service/machine.slice/libpod-abc.scope"


def test_rootless_unreachable_user_bus_is_one_line(v2fs):
    with pytest.raises(CgroupError, match="^cgroup systemd: connect to the user's D-Bus session bus "
                                          "unix:path=/nonexistent/bus: "):
        new_manager("abc", None, None, systemd=True, root=v2fs.root, bus="unix:path=/nonexistent/bus",
                    bus_uid=1000)
