"""Unit tests (no root, no kernel) for the drop-in pieces: exec's process
object from runc's flags, what it inherits from the container, socket
activation, the NOTIFY_SOCKET plan changes and the features document."""
from __future__ import annotations

import json
import os

import pytest

from pyrunc import features, plan as planner
from pyrunc.lifecycle import activation
from pyrunc.lifecycle import exec as ex
from pyrunc.lifecycle import notify as notify_socket
from pyrunc.errors import ConfigError, UsageError
from tests import support

BASE = {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin", "TERM=xterm"], "terminal": True,
        "user": {"uid": 0, "gid": 0, "additionalGids": [3]},
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}],
        "noNewPrivileges": True}


def test_flags_override_the_container_process():
    p = ex.process_from_flags(BASE, ex.Flags(args=["ls", "-l"], cwd="/tmp", env=["A=1"],
                                             user="1000:1001", additional_gids=[7],
                                             caps=["CAP_CHOWN"]))
    assert p["args"] == ["ls", "-l"]
    assert p["cwd"] == "/tmp"
    assert p["env"] == ["PATH=/bin", "TERM=xterm", "A=1"]
    assert p["user"] == {"uid": 1000, "gid": 1001, "additionalGids": [3, 7]}
    assert p["capabilities"]["bounding"] == ["CAP_KILL", "CAP_CHOWN"]
    assert p["terminal"] is False  # runc: only -t gives exec a terminal
    assert p["noNewPrivileges"] is True
    assert BASE["args"] == ["sh"]  # the container's own process is untouched


def test_user_flag_uid_only_keeps_gid():
    p = ex.process_from_flags(BASE, ex.Flags(args=["id"], user="5"))
    assert (p["user"]["uid"], p["user"]["gid"]) == (5, 0)
    with pytest.raises(UsageError):
        ex.process_from_flags(BASE, ex.Flags(args=["id"], user="root"))


@pytest.mark.parametrize("process, message", [
    ({"args": [], "cwd": "/"}, "args must not be empty"),
    ({"args": ["x"], "cwd": ""}, "cwd property must not be empty"),
    ({"args": ["x"], "cwd": "tmp"}, "cwd must be an absolute path"),
])
def test_validate_process(process, message):
    with pytest.raises(UsageError, match=message):
        ex.validate_process(process)


def test_validate_process_rlimits():
    """A --process file skips the config pipeline: its rlimit types are checked
    here, in the words plan.build used before it assumed a validated config."""
    with pytest.raises(ConfigError) as exc:
        ex.validate_process({"args": ["x"], "cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE"},
                                                                    {"type": "RLIMIT_BOGUS"}]})
    assert str(exc.value) == "config.json: process.rlimits[1].type: unknown rlimit 'RLIMIT_BOGUS'"
    ex.validate_process({"args": ["x"], "cwd": "/", "rlimits": [{"type": "RLIMIT_LOCKS"}]})


def test_missing_fields_come_from_the_container():
    p = {"args": ["true"], "cwd": "/"}
    ex.inherit_from_container(p, BASE)
    assert p["capabilities"] == BASE["capabilities"]
    assert p["rlimits"] == BASE["rlimits"]
    assert "noNewPrivileges" not in p  # runc: the exec'd process's own value (false)
    own = {"args": ["true"], "cwd": "/", "rlimits": [{"type": "RLIMIT_NPROC", "soft": 1, "hard": 1}]}
    ex.inherit_from_container(own, BASE)
    assert own["rlimits"] == [{"type": "RLIMIT_NPROC", "soft": 1, "hard": 1}]


def test_process_file_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        ex.load_process_file(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(UsageError, match="invalid JSON"):
        ex.load_process_file(str(bad))


@pytest.mark.parametrize("env, n", [
    ({}, 0),
    ({"LISTEN_FDS": "2", "LISTEN_PID": "42"}, 2),
    ({"LISTEN_FDS": "2", "LISTEN_PID": "43"}, 0),   # someone else's fds
    ({"LISTEN_FDS": "x", "LISTEN_PID": "42"}, 0),
])
def test_listen_fds(env, n):
    assert activation.listen_fds(env, pid=42) == n


def test_activation_adds_env_and_keeps_fds():
    n, env = activation.passed({"LISTEN_FDS": "2", "LISTEN_PID": "42"}, pid=42)
    assert n == 2
    assert activation.passed({}, pid=42) == (0, ())
    cfg = {"process": {"args": ["sh"], "env": ["PATH=/bin", "LISTEN_FDS=9"]}, "root": {"path": "/b/rootfs"}}
    plan = planner.build(cfg, "c", "/b", preserve_fds=n + 1, extra_env=env)
    assert plan.env == ("PATH=/bin", "LISTEN_FDS=2", "LISTEN_PID=1")
    assert plan.preserve_fds == 3  # the activation fds first, then --preserve-fds


def test_activation_counts_into_the_plans_preserve_fds(tmp_path, monkeypatch):
    from pyrunc.lifecycle import create
    monkeypatch.setenv("LISTEN_FDS", "2")
    monkeypatch.setenv("LISTEN_PID", str(os.getpid()))
    checked = create.Checked({"process": {"args": ["sh"], "env": ["PATH=/bin"]}, "root": {"path": "rootfs"}})
    plan = create.build_plan(checked, "c", str(tmp_path), preserve_fds=1)
    assert plan.preserve_fds == 3
    assert plan.env == ("PATH=/bin", "LISTEN_FDS=2", "LISTEN_PID=1")


def test_notify_socket_plan(tmp_path):
    assert notify_socket.prepare(str(tmp_path), environ={}) == ((), ())
    assert not (tmp_path / "notify").exists()
    mounts, env = notify_socket.prepare(str(tmp_path), environ={"NOTIFY_SOCKET": "/run/x.sock"})
    cfg = {"process": {"args": ["sh"], "env": ["PATH=/bin"]}, "root": {"path": "/b/rootfs"}}
    plan = planner.build(cfg, "c", "/b", extra_mounts=mounts, extra_env=env)
    mount = plan.mounts[-1]
    assert (mount.destination, mount.source, mount.bind) == ("/run/notify", str(tmp_path / "notify"), True)
    assert plan.env[-1] == "NOTIFY_SOCKET=/run/notify/notify.sock"
    assert (tmp_path / "notify").is_dir()


def test_create_builds_the_notify_socket_into_the_plan(tmp_path):
    from pyrunc.lifecycle import create
    checked = create.Checked({"process": {"args": ["sh"], "env": ["NOTIFY_SOCKET=/old"]}, "root": {"path": "rootfs"}})
    plan = create.build_plan(checked, "c", str(tmp_path), state_dir=str(tmp_path / "state"),
                             environ={"NOTIFY_SOCKET": "/run/x.sock"})
    assert plan.env == ("NOTIFY_SOCKET=/run/notify/notify.sock",)
    assert plan.mounts[-1].source == str(tmp_path / "state" / "notify")


def test_features_document_is_valid_and_honest():
    import jsonschema
    doc = features.document()
    schema = json.loads((support.REPO / "spec" / "features-schema.json").read_text())
    jsonschema.validate(doc, schema)
    # every advertised mount option is one plan.py really handles
    handled = set(planner.MOUNT_FLAGS) | set(planner.PROPAGATION_FLAGS) | set(planner.EXTENSION_OPTIONS)
    if features.recursive_attrs_applied():
        handled |= set(planner.RECURSIVE_ATTRS)
    assert set(doc["mountOptions"]) <= handled
    assert "tmpcopyup" in doc["mountOptions"]  # init/copyup.py does the copy-up
    assert "idmap" not in doc["mountOptions"]
    assert doc["linux"]["mountExtensions"]["idmap"]["enabled"] is False
    assert doc["linux"]["netDevices"]["enabled"] is True  # pyrunc.lifecycle.netdevices
    assert set(doc["linux"]["namespaces"]) <= set(planner.NAMESPACE_ORDER)
    sc = doc["linux"]["seccomp"]
    assert set(sc["supportedFlags"]) <= set(sc["knownFlags"])
