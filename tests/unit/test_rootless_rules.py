"""runc's rootless decisions as pyrunc takes them (pyrunc.rootless, the
default root in pyrunc.store, the limits a skipped cgroup cannot have):
the cases a test run as one user on one host cannot reach, by input."""
from __future__ import annotations

import pytest

from pyrunc import rootless, store
from pyrunc.cgroups import resources
from pyrunc.errors import PyruncError


@pytest.mark.parametrize("mode, euid, userns, owner, systemd, expected", [
    (True, 0, False, 0, False, True),       # --rootless true: as asked, even for root
    (False, 1000, False, 1000, False, False),  # --rootless false: as asked
    (None, 1000, False, 1000, False, True),   # auto: a user
    (None, 0, False, 0, False, False),      # auto: the host's root
    (None, 0, True, 1000, False, True),     # auto: root in a user namespace (cgroupfs)
    (None, 0, True, 0, True, False),        # ... with --systemd-cgroup, root outside: root's manager
    (None, 0, True, 1000, True, True),      # ... a user outside (rootless podman): the user's manager
])
def test_rootless_cgroups_follows_runc(monkeypatch, mode, euid, userns, owner, systemd, expected):
    monkeypatch.setattr(rootless.os, "geteuid", lambda: euid)
    monkeypatch.setattr(rootless, "in_user_namespace", lambda: userns)
    monkeypatch.setattr(rootless, "outer_uid", lambda: owner)
    assert rootless.rootless_cgroups(mode, systemd) is expected


@pytest.mark.parametrize("uid_map, uid, outer", [
    ("0 1000 1\n1 100000 65536\n", 0, 1000),   # rootless podman's root: the user
    ("0 1000 1\n1 100000 65536\n", 5, 100004),
    ("0 0 4294967295\n", 0, 0),                # the initial namespace
    ("0 1000 1\n", 7, 65534),                  # not mapped: the overflow uid
])
def test_outer_uid_reads_the_uid_map(tmp_path, uid_map, uid, outer):
    f = tmp_path / "uid_map"
    f.write_text(uid_map)
    assert rootless.outer_uid(uid, str(f)) == outer


def test_user_bus_address(monkeypatch, tmp_path):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/x/bus")
    assert rootless.user_bus_address() == "unix:path=/x/bus"
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert rootless.user_bus_address() is None       # no bus socket there
    (tmp_path / "bus").touch()
    assert rootless.user_bus_address() == f"unix:path={tmp_path}/bus"


def test_subid_ranges_by_name_or_uid(tmp_path):
    f = tmp_path / "subuid"
    f.write_text("alice:100000:65536\n1000:300000:10\nbob:200000:65536\nalice:bad:1\nalice:5:0\n")
    assert rootless.subid_ranges(str(f), 1000, "alice") == [(100000, 65536), (300000, 10)]
    assert rootless.subid_ranges(str(f), 1001, "carol") == []
    assert rootless.subid_ranges(str(tmp_path / "absent"), 1000, "alice") == []


@pytest.mark.parametrize("host, size, ok", [
    (1000, 1, True),            # the user's own id
    (1000, 2, False),           # ... and one more it does not own
    (100000, 65536, True),      # a whole range
    (100010, 10, True),         # inside it
    (165530, 10, False),        # across its end
    (99999, 2, False),          # across its start
])
def test_a_mapping_must_lie_in_the_users_ids(host, size, ok):
    assert rootless.covered(host, size, 1000, [(100000, 65536)]) is ok


def test_own_only():
    assert rootless.own_only([{"containerID": 0, "hostID": 1000, "size": 1}], 1000)
    assert not rootless.own_only([{"containerID": 0, "hostID": 1000, "size": 2}], 1000)
    assert not rootless.own_only([{"containerID": 0, "hostID": 0, "size": 1}], 1000)


@pytest.mark.parametrize("euid, env, userns, expected", [
    (0, {}, False, "/run/pyrunc"),
    (0, {"XDG_RUNTIME_DIR": "{xdg}", "USER": "alice"}, False, "/run/pyrunc"),   # the host's root
    (0, {"XDG_RUNTIME_DIR": "{xdg}", "USER": "root"}, True, "/run/pyrunc"),     # runc: $USER root
    (0, {"XDG_RUNTIME_DIR": "{xdg}", "USER": "alice"}, True, "{xdg}/pyrunc"),   # root of a user's userns
    (1000, {"XDG_RUNTIME_DIR": "{xdg}"}, False, "{xdg}/pyrunc"),
])
def test_default_root(monkeypatch, tmp_path, euid, env, userns, expected):
    monkeypatch.setattr(store.posix, "geteuid", lambda: euid)
    monkeypatch.setattr(rootless, "in_user_namespace", lambda: userns)
    for key in ("XDG_RUNTIME_DIR", "USER"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value.format(xdg=tmp_path))
    assert store.default_root() == expected.format(xdg=tmp_path)


@pytest.mark.parametrize("xdg, says", [
    (None, "XDG_RUNTIME_DIR is not set: a non-root user's containers live in $XDG_RUNTIME_DIR/pyrunc"),
    ("relative/dir", "XDG_RUNTIME_DIR relative/dir: not a directory this user can write"),
    ("/nonexistent-xdg", "XDG_RUNTIME_DIR /nonexistent-xdg: not a directory this user can write"),
])
def test_no_usable_xdg_runtime_dir_is_one_line(monkeypatch, xdg, says):
    monkeypatch.setattr(store.posix, "geteuid", lambda: 1000)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    if xdg:
        monkeypatch.setenv("XDG_RUNTIME_DIR", xdg)
    with pytest.raises(PyruncError) as err:
        store.default_root()
    assert str(err.value).startswith(says) and "\n" not in str(err.value)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_device_rules_are_not_limits(version):
    assert resources.demanded({"devices": [{"allow": False, "access": "rwm"}]}, version) == []
    assert resources.demanded(None, version) == []
    assert resources.demanded({"pids": {"limit": 10}}, version) == ["pids.max"]
