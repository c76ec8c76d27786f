"""Every broken config gets one exact, human message (issue 3, acceptance 2).

Each row: a name, an edit of a small valid Linux config (or raw file text),
and the exact first line of the ConfigError a user would see from create.
No message may contain a Python repr or a traceback.
"""
from __future__ import annotations

import copy
import json
import re

import pytest

from pyrunc.config import load_bundle
from pyrunc.errors import ConfigError

BASE = {
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0},
                "capabilities": {"bounding": ["CAP_KILL"]},
                "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}]},
    "hostname": "box",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
    "hooks": {"createRuntime": [{"path": "/bin/true"}]},
    "annotations": {"org.opencontainers.image.title": "t"},
    "linux": {
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "mount"}, {"type": "uts"}],
        "resources": {"memory": {"limit": 1048576}, "pids": {"limit": 10}},
        "seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                    "syscalls": [{"names": ["reboot"], "action": "SCMP_ACT_ERRNO"}]},
        "devices": [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229}],
        "maskedPaths": ["/proc/kcore"],
        "sysctl": {"net.ipv4.ip_forward": "1"},
    },
}


def edit(fn):
    def apply(cfg):
        fn(cfg)
        return cfg
    return apply


def setp(path, value):
    """An edit setting cfg[a][b][...] = value (path 'a.b.0.c')."""
    def fn(cfg):
        node = cfg
        parts = [int(p) if p.isdigit() else p for p in path.split(".")]
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    return fn


def delp(path):
    def fn(cfg):
        node = cfg
        parts = [int(p) if p.isdigit() else p for p in path.split(".")]
        for part in parts[:-1]:
            node = node[part]
        del node[parts[-1]]
    return fn


def both(*fns):
    def fn(cfg):
        for f in fns:
            f(cfg)
    return fn


NS_ENUM = "pid, network, mount, ipc, uts, user, cgroup, time"
ACTIONS = ("SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_ERRNO, "
           "SCMP_ACT_TRACE, SCMP_ACT_ALLOW, SCMP_ACT_LOG, SCMP_ACT_NOTIFY")
U32 = "for uint32 (0 to 4294967295)"
I64 = "for int64 (-9223372036854775808 to 9223372036854775807)"
U64 = "for uint64 (0 to 18446744073709551615)"

# (name, edit, exact message)
CASES = [
    # --- document level
    ("top-level array", lambda c: [c], "config.json: must be an object, not an array"),
    ("no ociVersion", delp("ociVersion"), "config.json: ociVersion: is required"),
    ("ociVersion number", setp("ociVersion", 1), "config.json: ociVersion: must be a string, not an integer"),
    ("ociVersion not semver", setp("ociVersion", "1.0"), 'config.json: ociVersion: "1.0" is not a SemVer version like 1.3.0'),
    ("ociVersion major 2", setp("ociVersion", "2.0.0"), 'config.json: ociVersion: "2.0.0" is not supported: pyrunc implements runtime-spec 1.x'),
    ("ociVersion major 0", setp("ociVersion", "0.5.0"), 'config.json: ociVersion: "0.5.0" is not supported: pyrunc implements runtime-spec 1.x'),
    # --- root
    ("no root", delp("root"), "config.json: root: is required on Linux"),
    ("root not object", setp("root", "rootfs"), "config.json: root: must be an object, not a string"),
    ("no root.path", delp("root.path"), "config.json: root.path: is required"),
    ("root.path empty", setp("root.path", ""), "config.json: root.path: must not be empty"),
    ("root.readonly string", setp("root.readonly", "yes"), "config.json: root.readonly: must be a boolean, not a string"),
    ("rootfs missing", setp("root.path", "nope"), "config.json: root.path: {bundle}/nope: no such file or directory"),
    ("rootfs is a file", setp("root.path", "afile"), "config.json: root.path: {bundle}/afile: not a directory"),
    # --- process
    ("no process", delp("process"), "config.json: process: is required to create a container"),
    ("process.args empty", setp("process.args", []), "config.json: process.args: must be a non-empty array"),
    ("process.args missing", delp("process.args"), "config.json: process.args: must be a non-empty array"),
    ("process.args string", setp("process.args", "sh -c true"), "config.json: process.args: must be an array, not a string"),
    ("process.args item number", setp("process.args", ["sh", 1]), "config.json: process.args[1]: must be a string, not an integer"),
    ("process.cwd missing", delp("process.cwd"), "config.json: process.cwd: is required"),
    ("process.cwd relative", setp("process.cwd", "tmp"), 'config.json: process.cwd: "tmp" must be an absolute path'),
    ("process.env not strings", setp("process.env", [{"A": "1"}]), "config.json: process.env[0]: must be a string, not an object"),
    ("process.terminal string", setp("process.terminal", "false"), "config.json: process.terminal: must be a boolean, not a string"),
    ("uid negative", setp("process.user.uid", -1), f"config.json: process.user.uid: -1 is out of range {U32}"),
    ("gid too big", setp("process.user.gid", 4294967296), f"config.json: process.user.gid: 4294967296 is out of range {U32}"),
    ("uid float", setp("process.user.uid", 1.0), "config.json: process.user.uid: must be an integer, not a decimal number"),
    ("uid null in args", setp("process.args", ["sh", None]), "config.json: process.args[1]: must be a string, not null"),
    ("additionalGids item", setp("process.user.additionalGids", [1, "2"]), "config.json: process.user.additionalGids[1]: must be an integer, not a string"),
    ("umask negative", setp("process.user.umask", -2), f"config.json: process.user.umask: -2 is out of range {U32}"),
    ("consoleSize missing width", setp("process.consoleSize", {"height": 10}), "config.json: process.consoleSize.width: is required"),
    ("rlimit bad name", setp("process.rlimits.0.type", "NOFILE"), 'config.json: process.rlimits[0].type: "NOFILE" is not a resource limit name like RLIMIT_NOFILE'),
    ("rlimit unknown", setp("process.rlimits.0.type", "RLIMIT_FOO"), 'config.json: process.rlimits[0].type: "RLIMIT_FOO" is not a Linux resource limit'),
    ("rlimit missing soft", delp("process.rlimits.0.soft"), "config.json: process.rlimits[0].soft: is required"),
    ("rlimit soft above hard", setp("process.rlimits.0.soft", 2048), "config.json: process.rlimits[0].soft: 2048 is above the hard limit 1024"),
    ("rlimit twice", setp("process.rlimits", [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}] * 2), 'config.json: process.rlimits[1].type: "RLIMIT_NOFILE" is set twice (first at process.rlimits[0])'),
    ("rlimit hard too big", setp("process.rlimits.0.hard", 2**64), f"config.json: process.rlimits[0].hard: 18446744073709551616 is out of range {U64}"),
    ("capabilities not array", setp("process.capabilities.bounding", "CAP_KILL"), "config.json: process.capabilities.bounding: must be an array, not a string"),
    ("ioPriority bad class", setp("process.ioPriority", {"class": "IOPRIO_CLASS_X"}), 'config.json: process.ioPriority.class: "IOPRIO_CLASS_X" is not one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE'),
    ("ioPriority no class", setp("process.ioPriority", {"priority": 1}), "config.json: process.ioPriority.class: is required"),
    ("scheduler bad policy", setp("process.scheduler", {"policy": "SCHED_FAST"}), 'config.json: process.scheduler.policy: "SCHED_FAST" is not one of SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_ISO, SCHED_IDLE, SCHED_DEADLINE'),
    ("scheduler nice range", setp("process.scheduler", {"policy": "SCHED_OTHER", "nice": 40}), "config.json: process.scheduler.nice: 40 is out of range (-20 to 19)"),
    ("oomScoreAdj range", setp("process.oomScoreAdj", 1001), "config.json: process.oomScoreAdj: 1001 is out of range (-1000 to 1000)"),
    ("execCPUAffinity pattern", setp("process.execCPUAffinity", {"initial": "a-b"}), 'config.json: process.execCPUAffinity.initial: "a-b" is not a CPU list like 0-3,7'),
    # --- hostname / mounts / hooks / annotations
    ("hostname number", setp("hostname", 5), "config.json: hostname: must be a string, not an integer"),
    ("hostname without uts", both(setp("linux.namespaces", [{"type": "mount"}]), delp("linux.sysctl")), 'config.json: hostname: needs a UTS namespace: add {"type": "uts"} to linux.namespaces'),
    ("mounts not array", setp("mounts", {"destination": "/x"}), "config.json: mounts: must be an array, not an object"),
    ("mount no destination", setp("mounts.0", {"type": "proc"}), "config.json: mounts[0].destination: is required"),
    ("mount destination empty", setp("mounts.0.destination", ""), "config.json: mounts[0].destination: must not be empty"),
    ("mount options not strings", setp("mounts.0.options", ["ro", 1]), "config.json: mounts[0].options[1]: must be a string, not an integer"),
    ("mount idmap size", setp("mounts.0.uidMappings", [{"containerID": 0, "hostID": 0, "size": -5}]), f"config.json: mounts[0].uidMappings[0].size: -5 is out of range {U32}"),  # (the refusal of idmapped mounts is at the same place: said once)
    ("hook no path", setp("hooks.createRuntime.0", {"args": ["x"]}), "config.json: hooks.createRuntime[0].path: is required"),
    ("hook relative path", setp("hooks.createRuntime.0.path", "bin/true"), 'config.json: hooks.createRuntime[0].path: "bin/true" must be an absolute path'),
    ("hook timeout zero", setp("hooks.createRuntime.0.timeout", 0), "config.json: hooks.createRuntime[0].timeout: must be at least 1, not 0"),
    ("hooks not object", setp("hooks", []), "config.json: hooks: must be an object, not an array"),
    ("annotation value number", setp("annotations", {"a.b": 1}), 'config.json: annotations["a.b"]: must be a string, not an integer'),
    ("annotation empty key", setp("annotations", {"": "x"}), "config.json: annotations: a key must not be empty"),
    # --- linux: namespaces, mappings, sysctl
    ("namespace typo", setp("linux.namespaces.2.type", "pidd"), f'config.json: linux.namespaces[2].type: "pidd" is not one of {NS_ENUM}'),
    ("namespace no type", setp("linux.namespaces.0", {"path": "/proc/1/ns/pid"}), "config.json: linux.namespaces[0].type: is required"),
    ("namespace twice", setp("linux.namespaces.2.type", "pid"), 'config.json: linux.namespaces[2].type: "pid" appears twice (first at linux.namespaces[0]) (and 2 more problems)'),
    ("namespace relative path", setp("linux.namespaces.1.path", "proc/1/ns/net"), 'config.json: linux.namespaces[1].path: "proc/1/ns/net" must be an absolute path'),
    ("namespace path missing", setp("linux.namespaces.1.path", "/nonexistent/ns/net"), "config.json: linux.namespaces[1].path: /nonexistent/ns/net: no such file or directory"),
    ("namespace path not nsfs", setp("linux.namespaces.1.path", "/proc/self/status"), "config.json: linux.namespaces[1].path: /proc/self/status: not a namespace file"),
    ("namespace path wrong type", setp("linux.namespaces.1.path", "/proc/self/ns/ipc"), "config.json: linux.namespaces[1].path: /proc/self/ns/ipc: is a ipc namespace, not network"),
    ("namespaces not array", setp("linux.namespaces", {"pid": {}}), "config.json: linux.namespaces: must be an array, not an object"),
    ("uidMappings without userns", setp("linux.uidMappings", [{"containerID": 0, "hostID": 1000, "size": 1}]), 'config.json: linux.uidMappings: needs a user namespace: add {"type": "user"} to linux.namespaces'),
    ("gidMapping missing size", setp("linux.gidMappings", [{"containerID": 0, "hostID": 1000}]), "config.json: linux.gidMappings[0].size: is required"),
    ("timeOffsets without timens", setp("linux.timeOffsets", {"monotonic": {"secs": 1}}), 'config.json: linux.timeOffsets: needs a new time namespace: add {"type": "time"} to linux.namespaces'),
    ("timeOffsets nanosecs", setp("linux.timeOffsets", {"boottime": {"nanosecs": -1}}), f"config.json: linux.timeOffsets.boottime.nanosecs: -1 is out of range {U32}"),
    ("net sysctl without netns", setp("linux.namespaces", [{"type": "uts"}]), 'config.json: linux.sysctl["net.ipv4.ip_forward"]: needs a network namespace: add {"type": "network"} to linux.namespaces (and 2 more problems)'),
    ("net sysctl in host netns", setp("linux.namespaces.1.path", "/proc/self/ns/net"), 'config.json: linux.sysctl["net.ipv4.ip_forward"]: would change the host: linux.namespaces joins the host\'s network namespace'),
    ("ipc sysctl without ipcns", setp("linux.sysctl", {"kernel.shmmax": "1"}), 'config.json: linux.sysctl["kernel.shmmax"]: needs a ipc namespace: add {"type": "ipc"} to linux.namespaces'),
    ("host-wide sysctl", setp("linux.sysctl", {"vm.swappiness": "1"}), 'config.json: linux.sysctl["vm.swappiness"]: is not isolated by any namespace: setting it would change the host'),
    ("sysctl value number", setp("linux.sysctl", {"net.core.somaxconn": 1024}), 'config.json: linux.sysctl["net.core.somaxconn"]: must be a string, not an integer'),
    # --- linux: devices, resources, seccomp, misc
    ("device bad type", setp("linux.devices.0.type", "x"), 'config.json: linux.devices[0].type: "x" is not one of c, b, u, p'),
    ("device no path", delp("linux.devices.0.path"), "config.json: linux.devices[0].path: is required"),
    ("device relative path", setp("linux.devices.0.path", "dev/fuse"), 'config.json: linux.devices[0].path: "dev/fuse" must be an absolute path'),
    ("device no major", delp("linux.devices.0.major"), "config.json: linux.devices[0].major: is required for a type c device"),
    ("device fileMode", setp("linux.devices.0.fileMode", 2**32), "config.json: linux.devices[0].fileMode: 4294967296 is out of range for file mode (decimal) (0 to 4294967295)"),
    ("memory limit string", setp("linux.resources.memory.limit", "1G"), "config.json: linux.resources.memory.limit: must be an integer, not a string"),
    ("memory limit too big", setp("linux.resources.memory.limit", 2**63), f"config.json: linux.resources.memory.limit: 9223372036854775808 is out of range {I64}"),
    ("pids no limit", setp("linux.resources.pids", {}), "config.json: linux.resources.pids.limit: is required"),
    ("cpu shares negative", setp("linux.resources.cpu", {"shares": -1}), f"config.json: linux.resources.cpu.shares: -1 is out of range {U64}"),
    ("blkio weight range", setp("linux.resources.blockIO", {"weight": 70000}), "config.json: linux.resources.blockIO.weight: 70000 is out of range for uint16 (0 to 65535)"),
    ("throttle no minor", setp("linux.resources.blockIO", {"throttleReadBpsDevice": [{"major": 8, "rate": 1}]}), "config.json: linux.resources.blockIO.throttleReadBpsDevice[0].minor: is required"),
    ("hugepage size", setp("linux.resources.hugepageLimits", [{"pageSize": "64kB", "limit": 1}]), 'config.json: linux.resources.hugepageLimits[0].pageSize: "64kB" is not a page size like 2MB or 1GB'),
    ("device cgroup no allow", setp("linux.resources.devices", [{"access": "rwm"}]), "config.json: linux.resources.devices[0].allow: is required"),
    ("rdma not uint32", setp("linux.resources.rdma", {"mlx5_1": {"hcaHandles": "many"}}), "config.json: linux.resources.rdma.mlx5_1.hcaHandles: must be an integer, not a string"),
    ("unified value", setp("linux.resources.unified", {"memory.max": 5}), 'config.json: linux.resources.unified["memory.max"]: must be a string, not an integer'),
    ("seccomp no defaultAction", setp("linux.seccomp", {}), "config.json: linux.seccomp.defaultAction: is required"),
    ("seccomp bad action", setp("linux.seccomp.defaultAction", "SCMP_ACT_DENY"), f'config.json: linux.seccomp.defaultAction: "SCMP_ACT_DENY" is not one of {ACTIONS}'),
    ("seccomp bad arch", setp("linux.seccomp.architectures", ["SCMP_ARCH_Z80"]), 'config.json: linux.seccomp.architectures[0]: "SCMP_ARCH_Z80" is not one of SCMP_ARCH_X86, SCMP_ARCH_X86_64, SCMP_ARCH_X32, SCMP_ARCH_ARM, SCMP_ARCH_AARCH64, SCMP_ARCH_LOONGARCH64, SCMP_ARCH_M68K, SCMP_ARCH_MIPS, SCMP_ARCH_MIPS64, SCMP_ARCH_MIPS64N32, SCMP_ARCH_MIPSEL, SCMP_ARCH_MIPSEL64, SCMP_ARCH_MIPSEL64N32, SCMP_ARCH_PPC, SCMP_ARCH_PPC64, SCMP_ARCH_PPC64LE, SCMP_ARCH_S390, SCMP_ARCH_S390X, SCMP_ARCH_SH, SCMP_ARCH_SHEB, SCMP_ARCH_PARISC, SCMP_ARCH_PARISC64, SCMP_ARCH_RISCV64'),
    ("seccomp empty names", setp("linux.seccomp.syscalls.0.names", []), "config.json: linux.seccomp.syscalls[0].names: must not be empty"),
    ("seccomp empty name", setp("linux.seccomp.syscalls.0.names", [""]), "config.json: linux.seccomp.syscalls[0].names: empty syscall name"),
    ("seccomp arg no op", setp("linux.seccomp.syscalls.0.args", [{"index": 0, "value": 1}]), "config.json: linux.seccomp.syscalls[0].args[0].op: is required"),
    ("seccomp notify default", setp("linux.seccomp.defaultAction", "SCMP_ACT_NOTIFY"), "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"),
    ("seccomp notify no listener", setp("linux.seccomp.syscalls.0.action", "SCMP_ACT_NOTIFY"), "config.json: linux.seccomp.listenerPath: must be set when a rule uses SCMP_ACT_NOTIFY"),
    ("seccomp flag", setp("linux.seccomp.flags", ["SECCOMP_FILTER_FLAG_FAST"]), 'config.json: linux.seccomp.flags[0]: "SECCOMP_FILTER_FLAG_FAST" is not one of SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'),
    ("rootfsPropagation", setp("linux.rootfsPropagation", "rsideways"), 'config.json: linux.rootfsPropagation: "rsideways" is not one of private, shared, slave, unbindable, rprivate, rshared, rslave, runbindable'),
    ("maskedPaths relative", setp("linux.maskedPaths", ["proc/kcore"]), 'config.json: linux.maskedPaths[0]: "proc/kcore" must be an absolute path'),
    ("readonlyPaths not array", setp("linux.readonlyPaths", "/proc"), "config.json: linux.readonlyPaths: must be an array, not a string"),
    ("personality domain", setp("linux.personality", {"domain": "LINUX64"}), 'config.json: linux.personality.domain: "LINUX64" is not one of LINUX, LINUX32'),
    # (and intelRdt itself is refused: pyrunc.config.checks.linux)
    ("memBwSchema", setp("linux.intelRdt", {"memBwSchema": "L3:0=ff"}), 'config.json: linux.intelRdt.memBwSchema: "L3:0=ff" is not a memory bandwidth schema starting with MB:'),
    ("memoryPolicy mode", setp("linux.memoryPolicy", {"mode": "MPOL_FAST"}), 'config.json: linux.memoryPolicy.mode: "MPOL_FAST" is not one of MPOL_DEFAULT, MPOL_BIND, MPOL_INTERLEAVE, MPOL_WEIGHTED_INTERLEAVE, MPOL_PREFERRED, MPOL_PREFERRED_MANY, MPOL_LOCAL'),
    ("netDevices name", setp("linux.netDevices", {"eth0": {"name": 23}}), "config.json: linux.netDevices.eth0.name: must be a string, not an integer"),
    ("linux not object", setp("linux", []), "config.json: linux: must be an object, not an array"),
    # --- several problems at once: the first, and a count
    ("two problems", both(setp("process.user.uid", -1), setp("linux.namespaces.2.type", "pidd")),
     f"config.json: process.user.uid: -1 is out of range {U32} (and 1 more problem)"),
    ("schema and semantic problems", both(setp("linux.namespaces.2.type", "pidd"), setp("process.args", []), setp("process.cwd", "x")),
     f'config.json: linux.namespaces[2].type: "pidd" is not one of {NS_ENUM} (and 2 more problems)'),
]

# raw file contents (not JSON-serialised from a dict)
RAW_CASES = [
    ("missing comma", '{\n  "ociVersion": "1.3.0"\n  "root": {}\n}', "config.json:3:3: invalid JSON: expecting ','"),
    ("trailing comma", '{"ociVersion": "1.3.0",}', "config.json:1:24: invalid JSON: expecting a property name in double quotes"),
    ("single quotes", "{'ociVersion': '1.3.0'}", "config.json:1:2: invalid JSON: expecting a property name in double quotes"),
    ("unterminated string", '{"ociVersion": "1.3.0}', "config.json:1:16: invalid JSON: unterminated string"),
    ("missing colon", '{"ociVersion" "1.3.0"}', "config.json:1:15: invalid JSON: expecting ':'"),
    ("extra data", '{"ociVersion": "1.3.0"} {}', "config.json:1:25: invalid JSON: extra data after the JSON document"),
    ("truncated", '{"ociVersion": ', "config.json:1:16: invalid JSON: expecting a value"),
    ("empty file", "", "config.json: file is empty"),
    ("NaN", '{"ociVersion": "1.3.0", "process": {"oomScoreAdj": NaN}}', "config.json: invalid JSON: NaN is not a JSON value"),
    ("control char", '{"ociVersion": "1.3\n.0"}', "config.json:1:20: invalid JSON: control character in a string (escape it)"),
]

REPR_SIGNS = re.compile(r"Traceback|'[^']*'\s*(is|:)|\bNone\b|\bTrue\b|\bFalse\b|<class|\{'|\['")


def _bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "afile").write_text("")
    return tmp_path


def _message(bundle, text: str) -> str:
    (bundle / "config.json").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_bundle(str(bundle), warn=lambda line: None)
    return info.value.message


def test_the_table_is_big_enough():
    assert len(CASES) + len(RAW_CASES) >= 60
    assert len({name for name, *_ in CASES + RAW_CASES}) == len(CASES) + len(RAW_CASES)


def test_base_config_is_valid(tmp_path):
    bundle = _bundle(tmp_path)
    (bundle / "config.json").write_text(json.dumps(BASE))
    assert load_bundle(str(bundle), warn=lambda line: None) == BASE


@pytest.mark.parametrize("name,change,expected", CASES, ids=[c[0] for c in CASES])
def test_broken_config_message(tmp_path, name, change, expected):
    bundle = _bundle(tmp_path)
    cfg = copy.deepcopy(BASE)
    cfg = change(cfg) or cfg
    message = _message(bundle, json.dumps(cfg, indent=2))
    assert message == expected.replace("{bundle}", str(bundle))
    assert "\n" not in message
    assert not REPR_SIGNS.search(message.replace("host's", "hosts")), message


@pytest.mark.parametrize("name,text,expected", RAW_CASES, ids=[c[0] for c in RAW_CASES])
def test_broken_json_message(tmp_path, name, text, expected):
    message = _message(_bundle(tmp_path), text)
    assert message == expected
    assert not REPR_SIGNS.search(message), message


def test_error_carries_every_finding(tmp_path):
    cfg = copy.deepcopy(BASE)
    cfg["process"]["user"]["uid"] = -1
    cfg["linux"]["namespaces"][2]["type"] = "pidd"
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError) as info:
        load_bundle(str(tmp_path))
    assert [(f.path, f.severity) for f in info.value.findings] == [
        ("process.user.uid", "error"), ("linux.namespaces[2].type", "error")]


def test_missing_config_json(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_bundle(str(tmp_path))
    assert info.value.message == f"{tmp_path}/config.json: no such file or directory"
