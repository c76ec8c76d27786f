"""Property: whatever config.json a bundle holds, `run` succeeds or fails with
ONE clear stderr line — no traceback, no Python repr, no hang, no leftover.

Hypothesis mutates a valid busybox config (running `true`): removes keys or
array elements, puts wrong types, extreme numbers and odd strings (empty,
NUL, lone surrogates, RTL marks, 4 KiB, shell and format metacharacters) in
place of values, adds unknown keys, and blows arrays and strings up. Every
example is a real `pyrunc run`. Derandomized, so CI sees the same 300.

What is never mutated, because it is what keeps the host safe and the test
able to find leftovers: `linux` itself, its namespaces (without a mount
namespace the container would mount on the host), cgroupsPath (under the
test parent), and `root`/`root.path` (the container must not get /).
"""
from __future__ import annotations

import copy
import json
import os
import re
import subprocess

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests import support
from tests.robustness import leftovers as lo

pytestmark = [
    pytest.mark.requires("root"),
    pytest.mark.skipif(support.is_runc(), reason="a property of pyrunc's own error output"),
]

EXAMPLES = int(os.environ.get("PYRUNC_FUZZ_EXAMPLES", "300"))
HANG = 20  # seconds: longer is a hang
MAX_CONFIG = 4 << 20  # bytes of config.json
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


def _paths(node, prefix=()):
    if prefix and not _is_protected(prefix):
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


BASE = base_config()
PATHS = sorted(_paths(BASE), key=lambda p: tuple(map(str, p)))

EXTREME = [0, -1, 1, 2**31 - 1, 2**31, 2**32, 2**32 + 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -2**63 - 1,
           10**40, 1e308, -1e308, 0.5, -0.0, float("inf"), float("-inf"), float("nan")]
ODD = ["", " ", "\x00", "a\x00b", "/\x00/", "ü☃容器", "\u202e\u200b", "\ud800", "\U0001F600",
       "../../../../etc", "/", "//..//", "x" * 4096, "\n\r\t", "%s%n%x", "$(touch /tmp/pwn)", "-",
       "--help", "=", "a=b=c", "\\", "CAP_SYS_ADMIN", "RLIMIT_NOFILE", "proc", "bind", "rw"]

values = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EXTREME), st.integers(), st.floats(),
    st.sampled_from(ODD), st.text(max_size=20),
    st.lists(st.sampled_from(ODD + [0, None, -1]), max_size=4),
    st.dictionaries(st.sampled_from(ODD[:6] + ["type", "path", "source"]), st.sampled_from(EXTREME[:5] + ODD[:6]),
                    max_size=3),
)
paths = st.sampled_from(PATHS)
mutation = st.one_of(
    st.tuples(st.just("remove"), paths),
    st.tuples(st.just("set"), paths, values),
    st.tuples(st.just("huge"), paths, st.sampled_from([100, 1000, 10000])),
    st.tuples(st.just("add"), paths, st.sampled_from(["x-unknown", "", "\x00", "type"]), values),
)


def _get(node, path):
    for key in path:
        node = node[key]
    return node


def apply(cfg: dict, mutations) -> dict:
    cfg = copy.deepcopy(cfg)
    for m in mutations:
        op, path = m[0], m[1]
        try:
            parent = _get(cfg, path[:-1])
            key = path[-1]
            current = parent[key]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped the way there
        if op == "remove":
            del parent[key]
        elif op == "set":
            parent[key] = copy.deepcopy(m[2])
        elif op == "huge":  # n elements, or n characters
            n = m[2]
            if isinstance(current, list) and current:
                parent[key] = (current * (n // len(current) + 1))[:n]
            elif isinstance(current, str):
                parent[key] = ((current or "x") * (n // max(1, len(current)) + 1))[:n]
            else:
                parent[key] = [current] * n
            if len(json.dumps(cfg)) > MAX_CONFIG:  # big, not absurd: keep it a runtime test
                parent[key] = current
        elif op == "add" and isinstance(current, dict):
            current[m[2]] = copy.deepcopy(m[3])
    return cfg


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
@given(mutations=st.lists(mutation, min_size=1, max_size=3))
def test_mutated_config_runs_or_fails_cleanly(fuzz_runtime, fuzz_bundle, mutations):
    cid = support.unique_id("fuzz")
    marker = lo.new_marker()
    cfg = apply(BASE, mutations)
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
