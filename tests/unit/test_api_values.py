"""The API's value types and log adapter, without a container: State is the
state JSON with attributes; Validation words `pyrunc validate`'s verdict; the
log a Runtime is given decides where warnings go, and none is printed."""
from __future__ import annotations

import warnings

import pytest

from pyrunc import Runtime, State, Validation
from pyrunc import errors
from pyrunc.config.findings import Finding
from pyrunc.log import Log

DOC = {"ociVersion": "1.3.0", "id": "c1", "pid": 42, "status": "running", "bundle": "/b",
       "rootfs": "/b/rootfs", "created": "2026-01-01T00:00:00.000000000Z", "owner": "root",
       "annotations": {"k": "v"}}


def test_state_is_the_state_json_with_attributes():
    s = State(dict(DOC))
    assert (s.id, s.pid, s.status, s.bundle, s.rootfs, s.owner) == ("c1", 42, "running", "/b", "/b/rootfs", "root")
    assert s.oci_version == "1.3.0" and s.annotations == {"k": "v"}
    assert s.as_dict() == DOC
    s.as_dict()["annotations"]["k"] = "changed"   # a copy: the snapshot stays as read
    assert s.annotations == {"k": "v"} and s == State(dict(DOC))
    assert "running" in repr(s)


def test_validation_verdict_is_validates():
    err, warn, strict = Finding("process.args", "error", "bad"), Finding("", "warning", "w"), \
        Finding("x", "strict", "unknown field")
    assert not Validation("/b", False, [err, warn]).valid
    assert Validation("/b", False, [warn, strict]).valid
    assert not Validation("/b", True, [warn, strict]).valid
    v = Validation("/b", False, [err, warn])
    assert v.errors == [err] and v.warnings == [warn] and list(v) == [err, warn] and len(v) == 2
    assert v.as_dict() == {"format": 1, "bundle": "/b", "valid": False, "strict": False,
                           "counts": {"error": 1, "warning": 1, "strict": 0},
                           "findings": [err.to_json(), warn.to_json()]}


def test_default_log_is_python_warnings(tmp_path, capfd):
    rt = Runtime(root=str(tmp_path))
    with pytest.warns(errors.PyruncWarning, match="something ignored"):
        rt.options.log.warn("something ignored")
    rt.options.log.debug("not shown")
    assert capfd.readouterr() == ("", "")


def test_a_callable_log_gets_each_line(tmp_path, capfd):
    seen = []
    rt = Runtime(root=str(tmp_path), log=seen.append)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rt.options.log.warn("one")
        rt.options.log.debug("dropped")
    assert seen == ["one"] and capfd.readouterr() == ("", "")


def test_a_pyrunc_log_is_used_as_is(tmp_path):
    log = Log(path=str(tmp_path / "log.json"), fmt="json")
    assert Runtime(root=str(tmp_path), log=log).options.log is log


def test_a_bad_log_is_a_usage_error(tmp_path):
    with pytest.raises(errors.UsageError, match="log: must be"):
        Runtime(root=str(tmp_path), log=42)


def test_root_defaults_to_the_clis_and_is_made_absolute(tmp_path, monkeypatch):
    from pyrunc.store import default_root
    assert Runtime().root == default_root()
    monkeypatch.chdir(tmp_path)
    assert Runtime(root="state").root == str(tmp_path / "state")


def test_bad_ids_are_usage_errors_before_anything_is_read(tmp_path):
    rt = Runtime(root=str(tmp_path))
    for bad in ("", "a/b", "..", 7):
        with pytest.raises(errors.UsageError):
            rt.create(bad, bundle=str(tmp_path / "absent"))
    assert list(tmp_path.iterdir()) == []
