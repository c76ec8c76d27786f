"""plan.build raises nothing (issue 15): every rule a user can break is
pyrunc.config's, so `pyrunc validate` reports it too; plan.build only
translates a config the pipeline accepted. No root needed: nothing is created.
"""
from __future__ import annotations

import ast
import copy
import json
import subprocess
from pathlib import Path

import pytest

from pyrunc import plan as planner
from pyrunc.config import ERROR, check_bundle
from tests import support

PYRUNC = Path(__file__).resolve().parents[2] / "pyrunc"
GOOD_FIXTURES = support.SHARED / "runtime-spec" / "test" / "config" / "good"
# every type the spec lists, which config/checks/process.py accepts
SPEC_RLIMITS = ("RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
                "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
                "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK")


def _variants():
    """Configs from the official fixtures and our base config, with what
    plan.build translates field by field."""
    for fixture in sorted(GOOD_FIXTURES.glob("*.json")) if GOOD_FIXTURES.is_dir() else ():
        cfg = json.loads(fixture.read_text())
        if cfg.get("ociVersion", "").startswith("0."):
            cfg["ociVersion"] = "1.0.0"  # the examples predate 1.0; pyrunc takes 1.x only
        for key in ("selinuxLabel", "apparmorProfile"):  # refused where the host has no such LSM
            (cfg.get("process") or {}).pop(key, None)
        yield fixture.name, cfg
    base = support.base_config()
    yield "base", base
    cfg = copy.deepcopy(base)
    cfg["process"]["rlimits"] = [{"type": t, "soft": 1, "hard": 1} for t in SPEC_RLIMITS]
    yield "every rlimit", cfg
    cfg = copy.deepcopy(base)
    cfg["linux"]["memoryPolicy"] = {"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}
    yield "memory policy", cfg


@pytest.mark.parametrize("name, cfg", list(_variants()), ids=lambda v: v if isinstance(v, str) else "")
def test_build_never_raises_for_a_config_validate_accepts(tmp_path, name, cfg):
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    doc, found = check_bundle(str(tmp_path), thorough=True)
    errors = [f.text() for f in found if f.severity == ERROR]
    if errors:
        assert name not in ("base", "every rlimit", "memory policy"), errors
        # a spec example that is not a Linux container to create (no process,
        # or a field without the namespace it needs): refused for that, not a skip
        assert all("process: is required" in e or "namespace: add" in e for e in errors), errors
        return
    plan = planner.build(doc, "cid", str(tmp_path))
    assert plan.container_id == "cid"
    if name == "every rlimit":
        assert [r[0] for r in plan.rlimits] == list(SPEC_RLIMITS)
        assert dict((r[0], r[1]) for r in plan.rlimits)["RLIMIT_LOCKS"] == 10  # asm-generic/resource.h


def test_plan_py_has_no_raise():
    """A user-fixable rule in plan.py would be missed by `validate`: it has none."""
    tree = ast.parse((PYRUNC / "plan.py").read_text())
    assert not [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Raise)]
    assert "pyrunc.errors" not in (PYRUNC / "plan.py").read_text()


@pytest.mark.parametrize("edit, line", [
    # the rules plan.build used to apply at create
    (lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]),
     'config.json: process.rlimits[0].type: "RLIMIT_BOGUS" is not a Linux resource limit'),
    (lambda c: c["linux"].update(memoryPolicy={"mode": "MPOL_BIND", "nodes": "x-y"}),
     "config.json: linux.memoryPolicy.nodes: 'x-y' is not a node list like \"0-3,7\""),
    (lambda c: c["linux"].update(memoryPolicy={"mode": "MPOL_BIND"}),
     "config.json: linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"),
    (lambda c: c["linux"].update(memoryPolicy={"mode": "MPOL_LOCAL", "nodes": "0"}),
     "config.json: linux.memoryPolicy.nodes: MPOL_LOCAL takes no nodes"),
])
def test_validate_reports_each_rule_plan_build_had(tmp_path, edit, line):
    cfg = support.base_config()
    edit(cfg)
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    venv = support.REPO / ".venv" / "bin" / "pyrunc"
    binary = str(venv) if venv.exists() else "pyrunc"
    out = subprocess.run([binary, "validate", "-b", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out
    assert f"error: {line}" in (out.stdout + out.stderr).splitlines(), out
