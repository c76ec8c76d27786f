"""`pyrunc validate`, driven in-process through click's CliRunner on the command object."""
from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from pyrunc.cli.clickapp import cli
from tests.unit.test_config_messages import BASE

validate = cli.commands["validate"]


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()

    def write(change=None, text=None):
        cfg = copy.deepcopy(BASE)
        if change:
            change(cfg)
        (tmp_path / "config.json").write_text(text if text is not None else json.dumps(cfg, indent=2))
        return str(tmp_path)
    return write


def run(*args):
    result = CliRunner().invoke(validate, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def test_valid_bundle_text(bundle):
    d = bundle()
    result = run("-b", d)
    assert result.exit_code == 0
    assert result.output == f"{d}: valid\n"


def test_default_bundle_is_cwd(bundle, monkeypatch):
    d = bundle()
    monkeypatch.chdir(d)
    assert run().output == f"{d}: valid\n"


def test_errors_text(bundle):
    d = bundle(lambda c: (c["linux"]["namespaces"][2].update(type="pidd"), c["process"].update(args=[])))
    result = run("--bundle", d)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        'error: config.json: linux.namespaces[2].type: "pidd" is not one of pid, network, mount, ipc, uts, user, cgroup, time',
        "error: config.json: process.args: must be a non-empty array",
        f"{d}: invalid (2 errors)",
    ]


def test_warnings_do_not_fail(bundle):
    d = bundle(lambda c: c["mounts"].append({"destination": "data"}))
    result = run("-b", d)
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        'warning: config.json: mounts[1].destination: "data" is relative (deprecated); taken as relative to /',
        f"{d}: valid (1 warning)",
    ]


def test_strict_lists_and_fails_on_unknown(bundle):
    d = bundle(lambda c: c.update(proccess={}))
    assert run("-b", d).exit_code == 0            # the spec: unknown fields MUST NOT fail
    result = run("-b", d, "--strict")
    assert result.exit_code == 1
    assert result.output.splitlines() == ["strict: config.json: proccess: unknown field; ignored",
                                          f"{d}: invalid (1 strict)"]


def test_json_shape_valid(bundle):
    d = bundle(lambda c: c["mounts"].append({"destination": "data"}))
    result = run("-b", d, "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output) == {
        "format": 1, "bundle": d, "valid": True, "strict": False,
        "counts": {"error": 0, "warning": 1, "strict": 0},
        "findings": [{"severity": "warning", "path": "mounts[1].destination",
                      "message": '"data" is relative (deprecated); taken as relative to /'}],
    }


def test_json_shape_invalid_json(bundle):
    d = bundle(text='{\n  "ociVersion": "1.3.0"\n  "root": {}\n}')
    result = run("-b", d, "--format", "json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["valid"] is False
    assert out["findings"] == [{"severity": "error", "path": "", "message": "invalid JSON: expecting ','",
                                "line": 3, "column": 3}]


def test_json_strict(bundle):
    d = bundle(lambda c: c["annotations"].update({"com.example.k": "v"}))
    out = json.loads(run("-b", d, "--format", "json", "--strict").output)
    assert out["valid"] is False and out["strict"] is True
    assert out["findings"] == [{"severity": "strict", "path": 'annotations["com.example.k"]',
                                "message": "annotation key not used by pyrunc"}]


def test_missing_bundle(tmp_path):
    result = run("-b", str(tmp_path / "nope"))
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "error: config.json: cannot read: no such file or directory"


def test_bad_format_is_a_usage_error(bundle):
    assert run("-b", bundle(), "--format", "yaml").exit_code == 2


def test_official_fixtures_through_the_cli(tmp_path):
    """Every good fixture of the official repo passes the schema; pyrunc adds Linux create rules."""
    from tests import support
    good = support.SHARED / "runtime-spec" / "test" / "config" / "good"
    if not good.is_dir():
        pytest.skip("../shared/runtime-spec is absent")
    (tmp_path / "rootfs").mkdir()
    for fixture in sorted(good.glob("*.json")):
        (tmp_path / "config.json").write_bytes(fixture.read_bytes())
        out = json.loads(run("-b", str(tmp_path), "--format", "json").output)
        schema_errors = [f for f in out["findings"] if f["severity"] == "error" and
                         ("is required" == f["message"] or f["message"].startswith("must be"))]
        assert schema_errors == [], (fixture.name, out)


def test_text_output_is_capped(bundle):
    d = bundle(lambda c: c["process"].update(env=list(range(60))))
    lines = run("-b", d).output.splitlines()
    assert len(lines) == 52
    assert lines[-2] == "... 10 more not shown (--format json lists all)"
    assert lines[-1] == f"{d}: invalid (60 errors)"
    assert len(json.loads(run("-b", d, "--format", "json").output)["findings"]) == 60


def test_registered_in_the_real_cli(bundle):
    """Through `python -m pyrunc`: the group registers the command and exits with its code."""
    import subprocess
    import sys
    d = bundle(lambda c: c["process"].update(args=[]))
    proc = subprocess.run([sys.executable, "-m", "pyrunc", "validate", "-b", d], capture_output=True, text=True)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines()[0] == "error: config.json: process.args: must be a non-empty array"
    assert "Traceback" not in proc.stderr
