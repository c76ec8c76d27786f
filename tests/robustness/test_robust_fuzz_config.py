"""Property: whatever config.json a bundle holds, `run` succeeds or fails with
ONE clear stderr line — no traceback, no Python repr, no hang, no leftover.

Hypothesis mutates a valid busybox config (running `true`, with hooks
running /bin/true) with tests/robustness/mutate.py: removed keys, wrong
types, extreme numbers, odd strings, unknown keys, huge arrays and strings.
Every example is a real `pyrunc run`. Derandomized, so CI sees the same 300.

What is never mutated, because it is what keeps the host safe and the test
able to find leftovers: `linux` itself, its namespaces (without a mount
namespace the container would mount on the host), cgroupsPath (under the
test parent), and `root`/`root.path` (the container must not get /).
"""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests import support
from tests.robustness import leftovers as lo
from tests.robustness import mutate

pytestmark = [
    pytest.mark.requires("root"),
    pytest.mark.skipif(support.is_runc(), reason="a property of pyrunc's own error output"),
]

EXAMPLES = int(os.environ.get("PYRUNC_FUZZ_EXAMPLES", "300"))
# seconds: longer is a hang. Calibrated on the host; an emulated guest
# (tests/vm) runs fork/exec 20-70x slower and says so in PYRUNC_TEST_TIME_SCALE
HANG = 20 * float(os.environ.get("PYRUNC_TEST_TIME_SCALE", "1"))
# a bare OSError's str(): "No such file or directory: sys"
UNWORDED = re.compile(r": (No such|Permission denied|Read-only|File exists|Not a directory|Invalid argument)")
PROTECTED = {("linux",), ("linux", "namespaces"), ("linux", "cgroupsPath"), ("root",), ("root", "path")}


def base_config() -> dict:
    cfg = support.base_config()
    cfg["linux"]["resources"]["pids"] = {"limit": 64}
    cfg["linux"]["resources"]["cpu"] = {"shares": 512}
    cfg["process"]["user"]["additionalGids"] = [1, 2]
    cfg["process"]["cwd"] = "/tmp"
    cfg["annotations"] = {"org.example.key": "value"}
    # host-side programs: only /bin/true, or an odd string no one can exec
    cfg["hooks"] = {"createRuntime": [{"path": "/bin/true", "args": ["true", "x"], "timeout": 5}],
                    "poststop": [{"path": "/bin/true", "env": ["A=b"]}]}
    return cfg


def _is_protected(path) -> bool:
    return tuple(path) in PROTECTED or tuple(path[:2]) == ("linux", "namespaces")


BASE = base_config()


@pytest.fixture(scope="module")
def fuzz_bundle(tmp_path_factory):
    return support.Bundle(tmp_path_factory.mktemp("fuzz") / "bundle")


@pytest.fixture(scope="module")
def fuzz_runtime(tmp_path_factory):
    rt = support.Runtime(tmp_path_factory.mktemp("fuzz-root") / "root")
    yield rt
    if rt.root.exists():
        left = [p.name for p in rt.root.iterdir() if not p.name.startswith(".")]
        for cid in left:
            rt.run("delete", "--force", cid)
        assert not left, f"state dirs left behind: {left}"


def _error_lines(stderr: str):
    return [line for line in stderr.splitlines() if line and not line.startswith("pyrunc: warning: ")]


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],  # no shrinking: the example is printed as is
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(mutations=mutate.mutations(BASE, _is_protected))
def test_mutated_config_runs_or_fails_cleanly(fuzz_runtime, fuzz_bundle, mutations):
    cid = support.unique_id("fuzz")
    marker = lo.new_marker()
    cfg = mutate.apply(BASE, mutations)
    cfg["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    env = cfg.get("process", {}).get("env") if isinstance(cfg.get("process"), dict) else None
    if isinstance(env, list):
        env.append(f"{lo.MARK_VAR}={marker}")
    (fuzz_bundle.path / "config.json").write_text(json.dumps(cfg))
    what = f"mutations {mutations!r}"[:2000]
    try:
        proc = lo.run_to_files(fuzz_runtime, "run", "--bundle", fuzz_bundle.path, cid,
                               env=lo.env_with(marker), timeout=HANG)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"run hung for {HANG}s with {what}; processes then:\n{exc.output}")
    finally:
        left = lo.leftovers(fuzz_runtime.root, cid, marker, fuzz_bundle.path)
        if left:
            lo.kill_marked(marker)
            fuzz_runtime.run("delete", "--force", cid)
    errors = _error_lines(proc.stderr)
    for bad in ("Traceback", "<class", "internal error", "object at 0x", "[Errno"):
        assert bad not in proc.stderr, f"{proc.stderr!r} with {what}"
    if proc.returncode != 0:
        assert len(errors) == 1, f"exit {proc.returncode}, stderr {proc.stderr!r} with {what}"
        # `<where>: <what>[: <cause>]`, the cause in runc's lower case
        assert ": " in errors[0] and not UNWORDED.search(errors[0]), f"{errors[0]!r} with {what}"
    else:
        assert errors == [], f"exit 0 but stderr {proc.stderr!r} with {what}"
    assert left == {}, f"left behind {left} with {what}"
