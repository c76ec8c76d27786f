"""`validate` accepts a config exactly when create gets past validation (issue 14, item 5).

Both run pyrunc.config's one pipeline of checks (checks.pipeline.CHECKS); this test
holds them to it from the outside: each config goes through check_bundle (what
`pyrunc validate` runs) and through create.prepare (everything create does
before it makes anything: the checks, plan.build, seccomp, capabilities). The
configs are the runc example config with mutations from a table: each single
mutation (with the verdict runc gives it), then random combinations of them.
No root needed: nothing is created.
"""
from __future__ import annotations

import copy
import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrunc.lifecycle import Options
from pyrunc.lifecycle import create
from pyrunc.config import ERROR, check_bundle
from pyrunc.errors import ConfigError
from tests import support


def _ns(cfg, *drop, add=()):
    nss = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] not in drop]
    cfg["linux"]["namespaces"] = nss + [{"type": t} for t in add]


def _mount(cfg, **m):
    cfg["mounts"].append(m)


def _linux(**fields):
    return lambda cfg: cfg["linux"].update(fields)


def _process(**fields):
    return lambda cfg: cfg["process"].update(fields)


def _bind_missing_outside(cfg):
    _mount(cfg, destination="/mnt", type="bind", source="/nonexistent-pyrunc-src", options=["rbind"])


def _bind_missing_inside(cfg):
    # runc's mount-order case: an earlier bind makes rootfs/mnt/x exist in the container
    _mount(cfg, destination="/mnt", type="bind", source="/etc", options=["rbind"])
    _mount(cfg, destination="/final", type="bind", source="rootfs/mnt/pyrunc-later", options=["rbind"])


def _host_cgroup_v2() -> bool:
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


# name -> (mutation, accepted by runc's rules on this host; None: not asserted)
MUTATIONS = {
    "maskedPaths without mount ns": (lambda c: _ns(c, "mount"), False),
    # (runc takes it and mounts the mounts in the caller's namespace; pyrunc refuses)
    "no masked paths, no mount ns": (lambda c: (_ns(c, "mount"), c["linux"].pop("maskedPaths"),
                                                c["linux"].pop("readonlyPaths")), False),
    "no mounts at all, no mount ns": (lambda c: (_ns(c, "mount"), c["linux"].pop("maskedPaths"),
                                                 c["linux"].pop("readonlyPaths"), c.pop("mounts")), True),
    "tmpfs on /proc": (lambda c: c["mounts"].__setitem__(0, {"destination": "/proc", "type": "tmpfs",
                                                             "source": "tmpfs"}), False),
    "bind over a /proc file": (lambda c: _mount(c, destination="/proc/sys/kernel/domainname", type="bind",
                                                source="/etc/hostname", options=["bind"]), False),
    "lxcfs bind over /proc/meminfo": (lambda c: _mount(c, destination="/proc/meminfo", type="bind",
                                                       source="/proc/meminfo", options=["bind"]), True),
    "bind source missing outside rootfs": (_bind_missing_outside, False),
    "bind source made by an earlier mount": (_bind_missing_inside, True),
    "idmap mount": (lambda c: _mount(c, destination="/m", type="bind", source="/etc", options=["bind", "idmap"]), False),
    "relative destination": (lambda c: _mount(c, destination="tmp", type="tmpfs", source="tmpfs"), True),
    "duplicate namespace": (lambda c: _ns(c, add=("pid",)), False),
    "hostname without uts": (lambda c: (_ns(c, "uts"), c.update(hostname="h")), False),
    "sysctl kernel.hostname": (_linux(sysctl={"kernel.hostname": "x"}), False),
    "sysctl kernel.domainname": (_linux(sysctl={"kernel.domainname": "x"}), True),
    "sysctl kernel.domainname without uts": (lambda c: (_ns(c, "uts"), c.pop("hostname", None),
                                                        c["linux"].update(sysctl={"kernel.domainname": "x"})), False),
    "sysctl net without netns": (lambda c: (_ns(c, "network"), c["linux"].update(sysctl={"net.ipv4.ip_forward": "1"})), False),
    "sysctl ipc": (_linux(sysctl={"kernel.shmmax": "1000000"}), True),
    "sysctl host-wide": (_linux(sysctl={"vm.swappiness": "1"}), False),
    "userns without mappings": (lambda c: _ns(c, add=("user",)), False),
    "userns with mappings": (lambda c: (_ns(c, add=("user",)), c["linux"].update(
        uidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}],
        gidMappings=[{"containerID": 0, "hostID": 100000, "size": 65536}])), True),
    "uidMappings without userns": (_linux(uidMappings=[{"containerID": 0, "hostID": 1, "size": 1}]), False),
    "timeOffsets null": (_linux(timeOffsets=None), True),
    "seccomp null": (_linux(seccomp=None), True),
    "timeOffsets without timens": (_linux(timeOffsets={"boottime": {"secs": 1}}), False),
    "rootfsPropagation rslave": (_linux(rootfsPropagation="rslave"), True),
    "rootfsPropagation runbindable": (_linux(rootfsPropagation="runbindable"), True),
    "podman device fileMode": (_linux(devices=[{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                                "fileMode": 8630}]), True),
    "ioPriority out of range": (_process(ioPriority={"class": "IOPRIO_CLASS_BE", "priority": 9}), False),
    "scheduler priority for SCHED_OTHER": (_process(scheduler={"policy": "SCHED_OTHER", "priority": 3}), False),
    "personality without domain": (_linux(personality={}), False),
    "personality flags": (_linux(personality={"domain": "LINUX", "flags": ["X"]}), True),
    "execCPUAffinity backwards": (_process(execCPUAffinity={"initial": "3-1"}), False),
    "unknown capability": (lambda c: c["process"]["capabilities"]["bounding"].append("CAP_TELEPORT"), True),
    "rlimit twice": (lambda c: c["process"]["rlimits"].append(dict(c["process"]["rlimits"][0])), False),
    "seccomp notify without listener": (_linux(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}), False),
    "seccomp notify on write": (_linux(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/x.sock",
                                                "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}), False),
    "seccomp errnoRet too big": (_linux(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]}), False),
    "seccomp unknown syscall": (_linux(seccomp={"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]}), True),
    "process.args empty": (_process(args=[]), False),
    "resources.unified": (lambda c: c["linux"]["resources"].update(unified={"pids.max": "10"}),
                          _host_cgroup_v2()),
    "throttle without a rate": (lambda c: c["linux"]["resources"].update(blockIO={
        "throttleReadBpsDevice": [{"major": 8, "minor": 0}]}), True),   # Go: rate 0
    "device rule for a fifo": (lambda c: c["linux"]["resources"].setdefault("devices", []).append(
        {"allow": True, "type": "p", "access": "rwm"}), False),
    "swap without a memory limit": (lambda c: c["linux"]["resources"].update(memory={"swap": 1 << 30}),
                                    None if _host_cgroup_v2() else True),
    "lsm label on a host without it": (_process(selinuxLabel="system_u:system_r:container_t:s0"), None),
}


def _base() -> dict:
    cfg = support.base_config()
    cfg["process"].setdefault("rlimits", [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}])
    return cfg


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipeline")
    (path / "rootfs" / "mnt").mkdir(parents=True)
    return path


def _verdicts(bundle, cfg) -> tuple[bool, bool, list[str]]:
    """(validate accepts, create gets past validation, validate's error lines)."""
    (bundle / "config.json").write_text(json.dumps(cfg))
    _doc, found = check_bundle(str(bundle), thorough=True)
    errors = [f.text() for f in found if f.severity == ERROR]
    opts = Options(root=str(bundle / "state"))
    try:
        create.prepare(opts, "pipeline-test", str(bundle))
        created = True
    except ConfigError as exc:
        created = False
        assert errors and str(exc).startswith(errors[0]), (str(exc), errors)
    return not errors, created, errors


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_each_mutation(bundle, name):
    mutate, runc_accepts = MUTATIONS[name]
    cfg = _base()
    mutate(cfg)
    validated, created, errors = _verdicts(bundle, cfg)
    assert validated == created, (name, errors)
    if runc_accepts is not None:
        assert validated == runc_accepts, (name, errors)


def test_base_config_passes(bundle):
    assert _verdicts(bundle, _base())[:2] == (True, True)


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=2, max_size=4, unique=True))
def test_combinations(bundle, names):
    cfg = _base()
    for name in names:
        try:
            MUTATIONS[name][0](cfg)
        except (KeyError, ValueError):
            pass   # an earlier mutation removed what this one edits
    cfg = copy.deepcopy(cfg)
    validated, created, errors = _verdicts(bundle, cfg)
    assert validated == created, (names, errors)
