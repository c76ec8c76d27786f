"""JSON null in config.json is read as runc's Go decoder reads it (issue 21, item 14)."""
from __future__ import annotations

import json

from pyrunc.config import STRICT, check_bundle, load_bundle
from pyrunc.config import nulls
from tests import support


def test_null_members_are_absent_and_string_map_values_empty():
    doc = {"linux": {"timeOffsets": None, "seccomp": None, "sysctl": {"kernel.shmmax": None}},
           "annotations": {"a": None}, "process": {"args": ["sh", None], "rlimits": None}}
    found = nulls.drop(doc)
    assert doc == {"linux": {"sysctl": {"kernel.shmmax": ""}}, "annotations": {"a": ""},
                   "process": {"args": ["sh", None]}}   # an array's null is the schema's to refuse
    assert sorted(found) == sorted(['linux.timeOffsets', 'linux.seccomp', 'linux.sysctl["kernel.shmmax"]',
                                    "annotations.a", "process.rlimits"])


def test_a_config_with_nulls_runs_and_strict_lists_them(tmp_path):
    (tmp_path / "rootfs").mkdir()
    cfg = support.base_config()
    cfg["root"] = {"path": "rootfs"}
    cfg["linux"].update(timeOffsets=None, intelRdt=None, seccomp=None)
    cfg["process"]["rlimits"] = None
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    loaded = load_bundle(str(tmp_path), warn=lambda line: None)
    assert "timeOffsets" not in loaded["linux"] and "rlimits" not in loaded["process"]
    _doc, found = check_bundle(str(tmp_path), strict=True)
    listed = {f.path for f in found if f.severity == STRICT and "is null" in f.message}
    assert listed == {"linux.timeOffsets", "linux.intelRdt", "linux.seccomp", "process.rlimits"}
