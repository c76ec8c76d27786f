"""Conformance: process.capabilities and process.noNewPrivileges, read back
from /proc/self/status inside the container and compared with the config
(and with what the kernel's execve rules make of it)."""
from __future__ import annotations

import pytest

from pyrunc.security.capabilities import CAPABILITY_NUMBERS as CAP
from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")

STATUS = {"status": "cat /proc/self/status"}


def capset(field: str) -> set[str]:
    value = int(field, 16)
    names = {nr: name for name, nr in CAP.items()}
    return {names.get(n, f"CAP_{n}") for n in range(64) if value >> n & 1}


def sets_inside(runtime, bundle) -> dict[str, set[str]]:
    st = probe.parse_status(probe.probe(runtime, bundle, STATUS)["status"])
    return {k: capset(st[k]) for k in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb")}


@pytest.mark.parametrize("nnp", [False, True])
def test_root_after_exec(runtime, bundle, nnp):
    # uid 0: execve makes permitted = bounding | inheritable and effective =
    # permitted; with no_new_privs execve may not gain anything, so
    # permitted is cut back to what the runtime left in it
    b = {"CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETUID"}
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["process"]["capabilities"] = {
        "bounding": sorted(b), "effective": ["CAP_KILL"], "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "inheritable": ["CAP_KILL"]}
    got = sets_inside(runtime, bundle)
    assert got["CapBnd"] == b
    assert got["CapInh"] == {"CAP_KILL"}
    assert got["CapPrm"] == got["CapEff"] == ({"CAP_KILL", "CAP_CHOWN"} if nnp else b)
    assert got["CapAmb"] == set()


def test_inheritable_is_empty_unless_asked(runtime, bundle):
    # CVE-2022-29162: the runtime must not fill the inheritable set on its own
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]
    bundle.config["process"]["capabilities"] = {s: caps for s in ("bounding", "effective", "permitted")}
    got = sets_inside(runtime, bundle)
    assert got["CapInh"] == set() and got["CapAmb"] == set()
    assert got["CapBnd"] == got["CapEff"] == got["CapPrm"] == set(caps)


def test_non_root_user_gets_ambient_caps(runtime, bundle):
    cfg = bundle.config
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    cfg["process"]["capabilities"] = {
        "bounding": ["CAP_NET_BIND_SERVICE", "CAP_KILL", "CAP_CHOWN"],
        "effective": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        "permitted": ["CAP_NET_BIND_SERVICE", "CAP_KILL"],
        "inheritable": ["CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]}
    got = sets_inside(runtime, bundle)
    # non-root: only the ambient set survives execve into effective/permitted
    assert got["CapAmb"] == got["CapEff"] == got["CapPrm"] == {"CAP_NET_BIND_SERVICE"}
    assert got["CapInh"] == {"CAP_NET_BIND_SERVICE"}
    assert got["CapBnd"] == {"CAP_NET_BIND_SERVICE", "CAP_KILL", "CAP_CHOWN"}


def test_non_root_user_without_ambient_has_nothing_effective(runtime, bundle):
    cfg = bundle.config
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000}
    cfg["process"]["capabilities"] = {s: ["CAP_KILL"] for s in ("bounding", "effective", "permitted")}
    got = sets_inside(runtime, bundle)
    assert got["CapEff"] == got["CapPrm"] == got["CapInh"] == got["CapAmb"] == set()
    assert got["CapBnd"] == {"CAP_KILL"}


def test_empty_capabilities_drop_everything(runtime, bundle):
    bundle.config["process"]["capabilities"] = {}
    got = sets_inside(runtime, bundle)
    assert all(v == set() for v in got.values()), got


def test_unknown_capability_is_skipped_with_a_warning(runtime, bundle):
    bundle.config["process"]["capabilities"] = {
        s: ["CAP_KILL", "CAP_NOT_A_THING"] for s in ("bounding", "effective", "permitted")}
    proc = probe.run(runtime, bundle, args=["sh", "-c", "grep CapBnd /proc/self/status"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[-1] == f"{1 << CAP['CAP_KILL']:016x}"
    # runc's one summary line (config validation may add its own per-field notes)
    summary = [line for line in proc.stderr.splitlines()
               if "ignoring unknown or unavailable capabilities" in line]
    assert len(summary) == 1 and "CAP_NOT_A_THING" in summary[0]


@pytest.mark.parametrize("nnp,expected", [(True, "1"), (False, "0")])
def test_no_new_privileges(runtime, bundle, nnp, expected):
    bundle.config["process"]["noNewPrivileges"] = nnp
    st = probe.parse_status(probe.probe(runtime, bundle, STATUS)["status"])
    assert st["NoNewPrivs"] == expected


def _cpuset_resets_affinity_on_join() -> bool:
    # cgroup v2 with the cpuset controller, which the runtime enables down to
    # the container's cgroup (as runc does): attaching a task sets its
    # affinity to the cpuset's CPUs, so an `initial` mask does not outlive
    # the join (runtime-spec: `initial` is for the time before it)
    try:
        with open("/sys/fs/cgroup/cgroup.controllers") as f:
            return "cpuset" in f.read().split()
    except OSError:
        return False


@pytest.mark.parametrize("affinity,expected", [
    ({"final": "1"}, "1"),
    ({"initial": "0"}, "0-1" if _cpuset_resets_affinity_on_join() else "0"),
    ({"initial": "0", "final": "0-1"}, "0-1"),
    (None, "0-1"),
])
def test_exec_cpu_affinity(runtime, bundle, tmp_path, affinity, expected):
    import json
    import os
    import subprocess
    if support.is_runc():
        pytest.skip("runc 1.1.5 has no execCPUAffinity (runc 1.2)")
    if (os.cpu_count() or 1) < 2 or sorted(os.sched_getaffinity(0))[:2] != [0, 1]:
        pytest.skip("needs CPUs 0 and 1")
    cid = support.unique_id("aff")
    probe.prepare(bundle, cid, ["sleep", "60"])
    bundle.write()
    assert runtime.run("run", "-d", "-b", bundle.path, cid, capture_output=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    try:
        process = {"args": ["grep", "Cpus_allowed_list", "/proc/self/status"], "cwd": "/",
                   "env": ["PATH=/bin:/usr/bin"], "user": {"uid": 0, "gid": 0}}
        if affinity:
            process["execCPUAffinity"] = affinity
        pfile = tmp_path / "process.json"
        pfile.write_text(json.dumps(process))
        # start the runtime itself pinned to CPU 1: "no affinity" must not inherit it
        proc = runtime.run("exec", "--process", pfile, cid, check=True,
                           preexec_fn=lambda: os.sched_setaffinity(0, {1}) if affinity is None else None)
    finally:
        runtime.run("delete", "--force", cid)
    assert proc.stdout.split()[-1] == expected


@pytest.mark.requires("userns")
def test_capabilities_and_seccomp_in_a_user_namespace(runtime, bundle):
    probe.user_namespace(runtime, bundle)
    cfg = bundle.config
    cfg["process"]["noNewPrivileges"] = False  # seccomp then loads with CAP_SYS_ADMIN of the userns
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"]
    cfg["process"]["capabilities"] = {s: caps for s in ("bounding", "effective", "permitted")}
    cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_ERRNO"}]}
    st = probe.parse_status(probe.probe(runtime, bundle, STATUS)["status"])
    assert capset(st["CapBnd"]) == capset(st["CapEff"]) == capset(st["CapPrm"]) == set(caps)
    assert capset(st["CapInh"]) == set()
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "0"
