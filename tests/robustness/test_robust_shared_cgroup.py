"""delete --force kills what is left in a container's cgroup only when the
container made that cgroup: a cgroupsPath naming a shared, pre-existing
cgroup must never cost other processes their lives."""
from __future__ import annotations


import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


def _detached(runtime, bundle, cid, cgroup_path):
    cfg = probe.prepare(bundle, cid, ["sleep", "1000"])
    cfg["linux"]["cgroupsPath"] = cgroup_path
    bundle.write()
    probe.call(runtime, "run", "-d", "-b", bundle.path, cid, check=True)
    return runtime.state(cid)["pid"]


def test_delete_force_spares_a_shared_cgroup(runtime, tmp_path):
    if support.is_runc():
        pytest.skip("runc kills every process in the cgroup only without a pid namespace")
    owner, guest = support.unique_id("own"), support.unique_id("guest")
    path = support.cgroup_path_for(owner)
    a = support.Bundle(tmp_path / "a")
    b = support.Bundle(tmp_path / "b")
    pid_a = _detached(runtime, a, owner, path)
    try:
        _detached(runtime, b, guest, path)  # the same, already existing cgroup
        runtime.run("delete", "--force", guest, check=True)
        assert runtime.state(owner)["status"] == "running"
        assert pid_a in probe.cgroup_procs(owner)
    finally:
        runtime.run("delete", "--force", owner)
        runtime.run("delete", "--force", guest)
    probe.assert_no_leftovers(runtime, owner, a.path)
