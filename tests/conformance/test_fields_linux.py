"""Conformance: linux.* fields that used to be accepted and dropped (issue 14,
item 4): memoryPolicy is applied (seen from inside through
/proc/self/numa_maps, which shows the task's policy) or refused up front as
runc refuses it; intelRdt is refused with runc's line where the host has no
resctrl. Expectations come from /sys/devices/system/node and
/proc/self/mountinfo, never from this machine's layout."""
from __future__ import annotations

from pathlib import Path

import pytest

from pyrunc.config.checks.linux import resctrl_mounted
from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")

RUNC_115 = pytest.mark.skipif(support.is_runc(), reason="runc 1.1.5 predates linux.memoryPolicy "
                              "(runtime-spec 1.3, runc 1.4) and ignores it")
NODE_DIR = Path("/sys/devices/system/node")


def _memory_nodes() -> list[int]:
    from pyrunc.kernel.procfs import parse_cpu_list
    try:
        return sorted(parse_cpu_list((NODE_DIR / "has_memory").read_text().strip()))
    except (OSError, ValueError):
        return []


def _task_policy(got: str) -> str:
    """The policy column of the first numa_maps line (the task's policy for
    a mapping without its own): `bind:0`, `interleave:0-1`, `local`, ..."""
    return got.splitlines()[0].split()[1]


@RUNC_115
@pytest.mark.parametrize("mode, shown", [("MPOL_BIND", "bind"), ("MPOL_INTERLEAVE", "interleave"),
                                         ("MPOL_PREFERRED", "prefer")])
def test_memory_policy_is_applied(runtime, bundle, mode, shown):
    nodes = _memory_nodes()
    if not nodes or not Path("/proc/self/numa_maps").exists():
        pytest.skip("kernel without NUMA (no /sys/devices/system/node or numa_maps)")
    node = nodes[0]
    bundle.config["linux"]["memoryPolicy"] = {"mode": mode, "nodes": str(node)}
    got = probe.probe(runtime, bundle, {"maps": "cat /proc/self/numa_maps"})
    assert _task_policy(got["maps"]) == f"{shown}:{node}", got["maps"]


@RUNC_115
def test_memory_policy_local_and_flags(runtime, bundle):
    nodes = _memory_nodes()
    if not nodes or not Path("/proc/self/numa_maps").exists():
        pytest.skip("kernel without NUMA")
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_LOCAL"}
    got = probe.probe(runtime, bundle, {"maps": "cat /proc/self/numa_maps"})
    assert _task_policy(got["maps"]) == "local"
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": str(nodes[0]),
                                              "flags": ["MPOL_F_STATIC_NODES"]}
    got = probe.probe(runtime, bundle, {"maps": "cat /proc/self/numa_maps"})
    assert _task_policy(got["maps"]) == f"bind=static:{nodes[0]}"


@RUNC_115
@pytest.mark.parametrize("policy, line", [
    ({}, "config.json: linux.memoryPolicy.mode: is required"),
    ({"mode": "MPOL_BIND"}, "config.json: linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"),
    ({"mode": "MPOL_INTERLEAVE", "nodes": ""}, "linux.memoryPolicy.nodes: MPOL_INTERLEAVE needs at least one node"),
    ({"mode": "MPOL_BIND", "nodes": "bad"}, "config.json: linux.memoryPolicy.nodes: 'bad' is not a node list"),
    ({"mode": "MPOL_BIND", "nodes": "3-1"}, "linux.memoryPolicy.nodes: '3-1' is not a node list"),
    ({"mode": "MPOL_LOCAL", "nodes": "0"}, "config.json: linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes"),
])
def test_memory_policy_refused_up_front(runtime, bundle, policy, line):
    bundle.config["linux"]["memoryPolicy"] = policy
    cid = support.unique_id("mp")
    proc = probe.run(runtime, bundle, cid, ["true"])
    probe.stderr_says(proc, line)
    assert len(probe.error_lines(proc.stderr)) == 1, proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)
    # `validate` says the same
    if not support.is_runc():
        checked = runtime.run("validate", "--bundle", str(bundle.path))
        assert checked.returncode != 0 and line in checked.stdout + checked.stderr


def test_intel_rdt_refused_without_resctrl(runtime, bundle):
    if resctrl_mounted():
        pytest.skip("this host has resctrl mounted: the refusal is for hosts without it")
    bundle.config["linux"]["intelRdt"] = {"closID": "guaranteed_group", "l3CacheSchema": "L3:0=ff"}
    cid = support.unique_id("rdt")
    proc = probe.run(runtime, bundle, cid, ["true"])
    # runc 1.1.5 names the sub-field ("intelRdt.l3CacheSchema is specified ... Intel RDT/CAT ...")
    probe.stderr_says(proc, "is specified in config, but Intel RDT")
    assert len(probe.error_lines(proc.stderr)) == 1, proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@RUNC_115
def test_memory_policy_reaches_exec(runtime, bundle):
    nodes = _memory_nodes()
    if not nodes or not Path("/proc/self/numa_maps").exists():
        pytest.skip("kernel without NUMA")
    cid = support.unique_id("mpx")
    probe.prepare(bundle, cid, ["sleep", "60"])
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_INTERLEAVE", "nodes": str(nodes[0])}
    bundle.write()
    try:
        probe.call(runtime, "run", "-d", "-b", bundle.path, cid, check=True)
        proc = probe.call(runtime, "exec", cid, "head", "-1", "/proc/self/numa_maps", check=True)
        assert _task_policy(proc.stdout) == f"interleave:{nodes[0]}"
    finally:
        runtime.run("delete", "--force", cid)


def test_rootless_modes_as_root(runtime, bundle):
    """As root every --rootless mode runs: rootless cgroups only spare a
    cgroup the runtime may not write, and root may (tests/conformance/
    test_rootless.py runs them as a user); a value that is none of them fails."""
    for value in ("true", "auto", "false"):
        cid = support.unique_id("rl")
        proc = probe.run(runtime, bundle, cid, ["true"], global_args=("--rootless", value))
        assert proc.returncode == 0, proc.stderr
        probe.assert_no_leftovers(runtime, cid, bundle.path)
    cid = support.unique_id("rl")
    proc = probe.run(runtime, bundle, cid, ["true"], global_args=("--rootless", "maybe"))
    probe.stderr_says(proc, 'parsing "maybe": invalid syntax' if support.is_runc()
                      else "--rootless 'maybe': must be true, false or auto")
    assert len(probe.error_lines(proc.stderr)) == 1, proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)
