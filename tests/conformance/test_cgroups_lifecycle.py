"""Conformance: the cgroup at the edges of a container's life: a target cgroup
that is already frozen, `delete --force` and `kill --all` of a container whose
cgroup still holds processes after its init is gone, and a realtime cpu budget
under the default parent. Runs against runc too (PYRUNC_TEST_RUNTIME=runc)."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

from tests import support
from tests.conformance import probe

pytestmark = [pytest.mark.requires("root")]
CG = "/sys/fs/cgroup"


def _create_in_frozen(runtime, bundle, cid, freeze_dir, freeze_file, frozen_value, thawed_value):
    """`run -d` into a cgroup frozen beforehand: it must fail at once."""
    os.makedirs(freeze_dir)
    with open(os.path.join(freeze_dir, freeze_file), "w") as f:
        f.write(frozen_value)
    cfg = probe.prepare(bundle, cid, ["true"])
    bundle.write()
    out = bundle.path / "out"
    try:
        with open(out, "w") as f:
            proc = runtime.run("run", "-d", "-b", bundle.path, cid, capture_output=False, stdout=f,
                               stderr=subprocess.STDOUT, timeout=20)
        err = out.read_text()
        support.assert_no_traceback(err)
        assert proc.returncode != 0, err
        assert "frozen" in err
        if not support.is_runc():
            assert probe.error_lines(err) == [
                f"cgroup freezer: {freeze_dir} is frozen: a container cannot be created in a frozen cgroup"]
    finally:
        with open(os.path.join(freeze_dir, freeze_file), "w") as f:
            f.write(thawed_value)
    os.rmdir(freeze_dir)
    probe.assert_no_leftovers(runtime, cid, bundle.path)
    assert cfg["linux"]["cgroupsPath"] == support.cgroup_path_for(cid)


@pytest.mark.requires("cgroup_v1")
def test_run_into_a_frozen_v1_cgroup_fails_at_once(runtime, bundle):
    cid = support.unique_id("frz")
    _create_in_frozen(runtime, bundle, cid, f"{CG}/freezer/{support.TEST_CGROUP_PARENT}/{cid}",
                      "freezer.state", "FROZEN", "THAWED")


@pytest.mark.requires("cgroup_v2")
def test_run_into_a_frozen_v2_cgroup_fails_at_once(runtime, bundle):
    cid = support.unique_id("frz")
    _create_in_frozen(runtime, bundle, cid, f"{CG}/{support.TEST_CGROUP_PARENT}/{cid}",
                      "cgroup.freeze", "1", "0")
