"""`pyrunc features` against what create does (issue 14, item 10).

features.md: each list holds names the runtime MUST recognize in config.json,
"irrelevant to the availability of the features in the host"; runc fills the
LSM and cgroup fields with what it supports, not what the host runs. Each
entry of the document is checked here against create's own pipeline
(create.prepare: every check, plan.build, the seccomp compile), never
against the tables the document is built from. Running containers with them
is tests/conformance/test_features.py.
"""
from __future__ import annotations

import json

import pytest

from pyrunc import features
from pyrunc.lifecycle import Options
from pyrunc.lifecycle import create
from pyrunc.config import ERROR, STRICT, check_bundle
from pyrunc.errors import ConfigError
from tests import support

DOC = features.document()
LINUX = DOC["linux"]


@pytest.fixture
def prepare(tmp_path):
    """Write a config, run create's pre-fork steps on it; returns the plan."""
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "src").mkdir()

    def run(cfg):
        (tmp_path / "config.json").write_text(json.dumps(cfg))
        return create.prepare(Options(root=str(tmp_path / "state")), "features", str(tmp_path))[1]
    run.src = str(tmp_path / "src")
    return run


def _cfg():
    cfg = support.base_config()
    cfg["root"] = {"path": "rootfs"}
    return cfg


def _with_namespace(cfg, kind):
    cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != kind] + [{"type": kind}]
    if kind == "user":
        cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    if kind == "time":
        cfg["linux"]["timeOffsets"] = {"boottime": {"secs": 1}}
    return cfg


def test_every_namespace_type_of_the_spec_is_listed():
    # "including namespaces that might not be supported by the host"
    assert set(LINUX["namespaces"]) == {"cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"}


@pytest.mark.parametrize("kind", LINUX["namespaces"])
def test_each_namespace_is_accepted_by_create(prepare, kind):
    plan = prepare(_with_namespace(_cfg(), kind))
    assert kind in plan.new_namespaces


def _mount_for(option, src):
    if option in ("bind", "rbind"):
        return {"destination": "/mnt/o", "type": "bind", "source": src, "options": [option]}
    return {"destination": "/mnt/o", "type": "tmpfs", "source": "tmpfs", "options": [option]}


@pytest.mark.parametrize("option", DOC["mountOptions"])
def test_each_mount_option_is_recognized_by_create(prepare, option):
    cfg = _cfg()
    cfg["mounts"].append(_mount_for(option, prepare.src))
    mount = prepare(cfg).mounts[-1]
    # recognized: turned into flags, propagation or an attribute, never handed
    # to the filesystem as an unknown data option
    assert option not in mount.data.split(","), mount
    assert (mount.flags, mount.propagation, mount.recursive_attrs, mount.copy_up) != (0, (), (), False) or option in (
        "defaults", "async", "atime", "dev", "exec", "nomand", "norelatime", "nostrictatime", "rw", "suid",
        "loud", "nolazytime", "symfollow", "iversion", "noiversion", "diratime", "noacl"), mount


def test_every_capability_name_is_accepted(prepare, tmp_path):
    cfg = _cfg()
    for name in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][name] = list(LINUX["capabilities"])
    plan = prepare(cfg)
    _doc, found = check_bundle(str(tmp_path), thorough=True)
    assert not [f for f in found if f.severity == ERROR]
    # none of them is "not a Linux capability": at most unknown to this kernel
    assert not [f.text() for f in found if "is not a Linux capability" in f.message]
    assert plan.capabilities is not None


def test_every_hook_is_accepted(prepare):
    cfg = _cfg()
    cfg["hooks"] = {name: [{"path": "/bin/true"}] for name in DOC["hooks"]}
    prepare(cfg)


@pytest.mark.parametrize("version", [DOC["ociVersionMin"], DOC["ociVersionMax"]])
def test_oci_versions_are_accepted(prepare, version):
    cfg = _cfg()
    cfg["ociVersion"] = version
    prepare(cfg)


def _seccomp(cfg, **profile):
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", **profile}
    return cfg


@pytest.mark.parametrize("action", LINUX["seccomp"]["actions"])
def test_each_seccomp_action_compiles(prepare, action):
    rule = {"names": ["mkdirat"], "action": action}
    cfg = _seccomp(_cfg(), syscalls=[rule], listenerPath="/run/agent.sock")
    if action == "SCMP_ACT_ALLOW":
        cfg["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_ERRNO"
    assert prepare(cfg).seccomp is not None


@pytest.mark.parametrize("op", LINUX["seccomp"]["operators"])
def test_each_seccomp_operator_compiles(prepare, op):
    rule = {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 8, "valueTwo": 8, "op": op}]}
    assert prepare(_seccomp(_cfg(), syscalls=[rule])).seccomp is not None


@pytest.mark.parametrize("flag", LINUX["seccomp"]["supportedFlags"])
def test_each_supported_seccomp_flag_compiles(prepare, flag):
    rule = {"names": ["mkdirat"], "action": "SCMP_ACT_NOTIFY"}
    assert prepare(_seccomp(_cfg(), flags=[flag], syscalls=[rule], listenerPath="/run/a.sock")).seccomp


@pytest.mark.parametrize("arch", LINUX["seccomp"]["archs"])
def test_each_seccomp_arch_is_recognized(prepare, arch):
    # one filter holds one byte order: an arch of the other one is refused by
    # libseccomp, but it is never an unknown name
    try:
        prepare(_seccomp(_cfg(), architectures=[arch], syscalls=[{"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]))
    except ConfigError as exc:
        assert "libseccomp cannot add it" in str(exc), exc


@pytest.mark.parametrize("lsm,field", [("apparmor", "apparmorProfile"), ("selinux", "selinuxLabel")])
def test_lsm_enabled_means_create_applies_the_field(prepare, tmp_path, lsm, field):
    """enabled = the runtime supports it (runc: always true), not that this host runs it."""
    assert LINUX[lsm]["enabled"] is True
    cfg = _cfg()
    cfg["process"][field] = "unconfined" if lsm == "apparmor" else "system_u:system_r:container_t:s0"
    try:
        plan = prepare(cfg)
    except ConfigError as exc:
        # only a host without the LSM refuses it, and says so
        assert "not enabled" in str(exc) or "disabled or not supported" in str(exc), exc
        assert lsm not in _host_lsms()
    else:
        assert getattr(plan, "apparmor_profile" if lsm == "apparmor" else "selinux_label") == cfg["process"][field]
    _doc, found = check_bundle(str(tmp_path), strict=True)
    assert not [f for f in found if f.severity == STRICT and f.path == f"process.{field}"]


def _host_lsms() -> list[str]:
    try:
        with open("/sys/kernel/security/lsm") as f:
            return f.read().strip().split(",")
    except OSError:
        return []


def test_idmap_mounts_are_not_advertised_and_refused(prepare):
    assert LINUX["mountExtensions"]["idmap"]["enabled"] is False
    cfg = _cfg()
    cfg["mounts"].append({"destination": "/m", "type": "bind", "source": prepare.src, "options": ["bind", "idmap"]})
    with pytest.raises(ConfigError, match="idmapped mounts are not supported"):
        prepare(cfg)
