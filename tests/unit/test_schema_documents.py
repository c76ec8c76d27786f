"""pyrunc's own output documents validate against spec/ (state and features schemas).

`pyrunc features` (runtime-spec features.md) and `pyrunc state` (runtime.md,
runc's shape, a superset) are read by containerd and podman; our schemas say
what those documents must hold. Also: the schemas ship inside the package.
"""
from __future__ import annotations

import json
import os

import pytest

from pyrunc.config import schema


def _errors(name: str, doc) -> list[str]:
    return [f"{f.path}: {f.message}" for f in schema.check(doc, name)]


def test_schemas_ship_in_the_package():
    import pyrunc.spec
    here = os.path.dirname(pyrunc.spec.__file__)
    for name in ("config", "state", "features"):
        with open(os.path.join(here, f"{name}-schema.json")) as f:
            doc = json.load(f)
        assert doc["$schema"].startswith("http://json-schema.org/draft-07")
        assert "1.3.0" in doc["$id"]


def test_features_document_is_valid():
    from pyrunc import features
    doc = features.document()
    assert _errors("features", doc) == []


def test_state_document_is_valid():
    from pyrunc.lifecycle import state as state_verb
    record = {"id": "c1", "pid": 42, "bundle": "/b", "rootfs": "/b/rootfs", "created": "2026-01-01T00:00:00Z",
              "owner": "", "annotations": {"k": "v"}}
    for status in ("creating", "created", "running", "stopped"):
        assert _errors("state", state_verb.state_json(record, status)) == []


@pytest.mark.parametrize("doc,message", [
    ({"ociVersion": "1.3.0", "id": "c", "status": "paused", "bundle": "/b"},
     'status: "paused" is not one of creating, created, running, stopped'),
    ({"ociVersion": "1.3.0", "id": "c", "status": "running"}, "bundle: is required"),
    ({"ociVersion": "1.3.0", "id": "c", "status": "running", "bundle": "/b", "pid": -1},
     "pid: must be at least 0, not -1"),
])
def test_state_schema_rejects(doc, message):
    assert _errors("state", doc) == [message]


def test_features_schema_rejects():
    assert _errors("features", {"ociVersionMin": "1.0.0"}) == ["ociVersionMax: is required"]
    assert _errors("features", {"ociVersionMin": "1.0.0", "ociVersionMax": "1.3.0",
                                "linux": {"capabilities": ["cap_kill"]}}) == [
        'linux.capabilities[0]: "cap_kill" is not a capability name like CAP_CHOWN']
