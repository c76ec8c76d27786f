"""Conformance: linux.netDevices (runtime-spec 1.3) moves a host interface
into the container's network namespace, renamed as asked, with its
addresses, and pyrunc moves it back on delete.

Never a real host interface: each test runs the runtime inside a network
namespace of its own (util-linux `unshare --net`, test setup only), where a
veth pair is made with iproute2 (veth is built into more kernels than dummy). "The host" is then that namespace:
the runtime moves devices between its own namespace and the container's.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tests import support
from tests.conformance import probe

pytestmark = [pytest.mark.requires("root"),
              pytest.mark.skipif(not (shutil.which("unshare") and shutil.which("ip")),
                                 reason="needs util-linux unshare and iproute2 for the test's own namespace")]

RUNC_115 = pytest.mark.skipif(support.is_runc(), reason="runc 1.1.5 predates linux.netDevices (runc 1.4)")


def _in_own_netns(runtime, script: str, cid: str) -> subprocess.CompletedProcess:
    """`script` in a fresh network namespace, with $RT the runtime's command line."""
    rt = " ".join(runtime.argv())
    proc = subprocess.run(["unshare", "--net", "sh", "-ec", f"RT='{rt}'\n{script}"], capture_output=True,
                          text=True, timeout=120, env=probe.runtime_env(("run", cid)))
    support.assert_no_traceback(proc.stderr)
    return proc


def _sections(proc):
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return probe.sections(proc.stdout)


@RUNC_115
def test_net_device_moves_in_renamed_and_back_on_delete(runtime, bundle):
    cid = support.unique_id("nd")
    cfg = probe.prepare(bundle, cid, ["sleep", "60"])
    probe.set_namespace(cfg, "network")
    cfg["linux"]["netDevices"] = {"pyrtest0": {"name": "ctr0"}}
    bundle.write()
    mark = "echo '@@probe@@ {}'"
    proc = _in_own_netns(runtime, f"""
ip link add pyrtest0 type veth peer name pyrpeer0
ip addr add 10.77.0.5/24 dev pyrtest0
ip link set pyrtest0 up
$RT run -d -b {bundle.path} {cid} </dev/null >/dev/null
{mark.format('inside')}
$RT exec {cid} ip -o addr show dev ctr0
{mark.format('inside_state')}
$RT exec {cid} ip -o link show dev ctr0
{mark.format('host_during')}
ip -o link show pyrtest0 2>&1 || echo gone
$RT delete -f {cid}
{mark.format('host_after')}
ip -o addr show dev pyrtest0
""", cid)
    got = _sections(proc)
    assert "10.77.0.5/24" in got["inside"], got      # renamed, address kept
    assert ",UP" in got["inside_state"].split(">")[0], got  # set up inside, as runc
    assert got["host_during"].endswith("gone"), got
    assert "10.77.0.5/24" in got["host_after"], got  # back, under its own name
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@RUNC_115
def test_missing_net_device_fails_create_cleanly(runtime, bundle):
    cid = support.unique_id("nd")
    cfg = probe.prepare(bundle, cid, ["true"])
    probe.set_namespace(cfg, "network")
    cfg["linux"]["netDevices"] = {"pyrtest0": {}, "pyrnothere": {}}
    bundle.write()
    proc = _in_own_netns(runtime, f"""
ip link add pyrtest0 type veth peer name pyrpeer0
$RT create -b {bundle.path} {cid} </dev/null >/dev/null && echo created || true
echo '@@probe@@ host'
ip -o link show pyrtest0
""", cid)
    assert "created" not in proc.stdout
    assert "linux.netDevices: move pyrnothere into the container: no such device" in proc.stderr, proc.stderr
    lines = probe.error_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    # the one moved before the failure is back
    assert "pyrtest0" in probe.sections(proc.stdout)["host"]
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.parametrize("change, line", [
    (lambda cfg: probe.drop_namespace(cfg, "network"),
     "config.json: linux.netDevices: needs a network namespace"),
    (lambda cfg: cfg["linux"]["netDevices"].update({"eth/0": {}}),
     "config.json: linux.netDevices[\"eth/0\"]: \"eth/0\" is not a valid network device name"),
    (lambda cfg: cfg["linux"]["netDevices"].update({"a": {"name": "x" * 16}}),
     "config.json: linux.netDevices.a.name: \"" + "x" * 16 + "\" is not a valid network device name"),
    (lambda cfg: cfg["linux"]["netDevices"].update({"a": {"name": "ctr0"}}),
     "config.json: linux.netDevices.a.name: \"ctr0\" is also the name of pyrtest0 in the container"),
])
@RUNC_115
def test_net_devices_refused_up_front(runtime, bundle, change, line):
    cid = support.unique_id("nd")
    cfg = probe.prepare(bundle, cid, ["true"])
    probe.set_namespace(cfg, "network")
    cfg["linux"]["netDevices"] = {"pyrtest0": {"name": "ctr0"}}
    change(cfg)
    proc = probe.run(runtime, bundle, cid, ["true"])
    probe.stderr_says(proc, line)
    assert len(probe.error_lines(proc.stderr)) == 1, proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)
