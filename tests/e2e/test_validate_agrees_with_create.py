"""`pyrunc validate` and `pyrunc create`, the real binary, agree (issue 14, item 5).

For every mutation of tests/unit/test_config_pipeline.py: `validate` exits 0
exactly when `create` gets past validation (it creates the container, or fails
later with a `container <id>: ...` line, never with a `config.json: ...` one),
and when both refuse, create's line is validate's first error. pyrunc only:
runc has no `validate`.
"""
from __future__ import annotations

import json

import pytest

from tests import support
from tests.conformance import probe
from tests.unit.test_config_pipeline import MUTATIONS, _base

pytestmark = [pytest.mark.requires("root"),
              pytest.mark.skipif(support.is_runc(), reason="`validate` is pyrunc's own verb")]


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_validate_agrees_with_create(runtime, bundle, name):
    cid = support.unique_id("agree")
    cfg = _base()
    cfg["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    (bundle.rootfs / "mnt").mkdir(exist_ok=True)
    MUTATIONS[name][0](cfg)
    bundle.config = cfg
    bundle.write()
    checked = runtime.run("validate", "--format", "json", "-b", bundle.path)
    report = json.loads(checked.stdout)
    errors = [f for f in report["findings"] if f["severity"] == "error"]
    created = probe.call(runtime, "create", "-b", bundle.path, cid)
    try:
        lines = probe.error_lines(created.stderr)
        refused = created.returncode != 0 and bool(lines) and lines[0].startswith("config.json: ")
        assert (checked.returncode == 0) == (not refused), (name, report, created.stderr)
        if refused:
            first = errors[0]
            assert lines[0].startswith(f"config.json: {first['path']}: {first['message']}"), (lines, first)
    finally:
        runtime.run("delete", "--force", cid)
    probe.assert_no_leftovers(runtime, cid, bundle.path)
