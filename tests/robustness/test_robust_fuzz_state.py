"""Property: whatever a container's state.json holds, `state` and `list`
answer — exit 0 with valid JSON, or (state) one clear line and exit 1 —
never a traceback. They run constantly under shims and must never crash.

The record is mutated with tests/robustness/mutate.py starting from a real
pyrunc record. Only the read-only verbs are fuzzed: kill and delete act on the
record's pid and cgroup paths, which is why a record is trusted only in a
state dir we own (see test_robust_hostile.py), and a fuzzed one could name
pid 1 or the root cgroup.
"""
from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests import support
from tests.robustness import leftovers as lo
from tests.robustness import mutate

pytestmark = [
    pytest.mark.requires("root"),
    pytest.mark.skipif(support.is_runc(), reason="runc's record has another shape"),
]

EXAMPLES = int(os.environ.get("PYRUNC_FUZZ_STATE_EXAMPLES", "100"))
CID = "fuzzed-record"
STATUSES = {"creating", "created", "running", "stopped", "paused"}


@pytest.fixture(scope="module")
def real_record(tmp_path_factory):
    """The record of a real created container (then deleted)."""
    rt = support.Runtime(tmp_path_factory.mktemp("record-root") / "root")
    b = support.Bundle(tmp_path_factory.mktemp("record") / "bundle")
    cid = support.unique_id("record")
    marker = lo.new_marker()
    lo.tag_config(b.config, cid, marker, args=["sleep", "1000"])
    b.write()
    assert lo.run_to_files(rt, "create", "--bundle", b.path, cid, env=lo.env_with(marker)).returncode == 0
    record = json.loads((rt.root / cid / "state.json").read_text())
    assert rt.run("delete", "--force", cid).returncode == 0
    assert lo.leftovers(rt.root, cid, marker, b.path) == {}
    record["id"] = CID
    return record


@pytest.fixture(scope="module")
def fuzz_state_runtime(tmp_path_factory):
    rt = support.Runtime(tmp_path_factory.mktemp("fuzz-state") / "root")
    (rt.root / CID).mkdir(parents=True, mode=0o711)
    yield rt
    for name in os.listdir(rt.root / CID):
        os.unlink(rt.root / CID / name)
    os.rmdir(rt.root / CID)


def _record_template():
    # a stand-in with the record's shape, for building the strategy at import
    return {"id": CID, "status": "created", "pid": 1234, "pid_start": 5678, "bundle": "/b", "rootfs": "/b/r",
            "created": "2026-01-01T00:00:00.000000000Z", "annotations": {"a": "b"}, "owner": "root",
            "hooks": {"poststop": [{"path": "/bin/true"}]}, "namespaces": {},
            "cgroup": {"driver": "v1", "id": CID, "root": "/sys/fs/cgroup", "path": "/pyrunc-test/x",
                       "paths": {"freezer": "/sys/fs/cgroup/freezer/pyrunc-test/x"}}}


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large])
@given(mutations=mutate.mutations(_record_template()))
def test_state_and_list_answer_whatever_the_record(fuzz_state_runtime, real_record, mutations):
    record = mutate.apply(dict(real_record, **{k: v for k, v in _record_template().items()
                                               if k not in real_record}), mutations)
    (fuzz_state_runtime.root / CID / "state.json").write_text(json.dumps(record))
    what = f"mutations {mutations!r}"[:2000]
    state = fuzz_state_runtime.run("state", CID, timeout=20)
    if state.returncode == 0:
        out = json.loads(state.stdout)
        assert out["id"] == CID and out["status"] in STATUSES, f"{state.stdout!r} with {what}"
        assert state.stderr == "", what
    else:
        assert state.returncode == 1, f"{state.stderr!r} with {what}"
        assert state.stderr.startswith(f"container {CID}: corrupt state file "), f"{state.stderr!r} with {what}"
        assert state.stderr.count("\n") == 1, what
    listed = fuzz_state_runtime.run("list", "--format", "json", timeout=20)
    assert listed.returncode == 0, f"{listed.stderr!r} with {what}"
    items = json.loads(listed.stdout or "null") or []
    if state.returncode == 0:
        assert [i["status"] for i in items] == [out["status"]], what
        assert listed.stderr == ""
    else:
        assert items == [] and listed.stderr == f"pyrunc: warning: {state.stderr}", what
    for verb_out in (state.stdout, state.stderr, listed.stdout, listed.stderr):
        for bad in ("Traceback", "<class", "internal error", "object at 0x"):
            assert bad not in verb_out, f"{verb_out!r} with {what}"
