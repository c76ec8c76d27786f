"""The compiled validator (pyrunc.config.fastcheck): jsonschema's verdict without jsonschema.

Agreement on generated configs is tested in test_schema_oracle (three-way,
with the official schema); here: its edges and its refusal of keywords it
does not implement.
"""
from __future__ import annotations

import builtins
import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrunc.config import fastcheck, schema
from pyrunc.errors import SchemaUnsupported


def test_our_schemas_compile():
    for name in ("config", "state", "features"):
        fastcheck.scan(schema.schema(name))   # every node, not only those a config reaches
        fastcheck.compile_schema(schema.schema(name))


@pytest.mark.parametrize("keyword", [{"oneOf": []}, {"const": 1}, {"additionalProperties": False},
                                     {"$ref": "http://example.com/x.json"}, {"items": [{}]}])
def test_unknown_keywords_refuse_to_compile(keyword):
    with pytest.raises(SchemaUnsupported):
        fastcheck.compile_schema({"type": "object", **keyword})


@pytest.mark.parametrize("keyword", [{"oneOf": []}, {"additionalProperties": False}, {"items": [{}]}])
def test_unknown_keywords_are_refused_where_a_config_reaches_them(monkeypatch, keyword):
    """Vetted lazily: a config that never reaches the node gets a verdict;
    one that does gets None (jsonschema decides), never a wrong verdict."""
    monkeypatch.setattr(fastcheck, "VALIDATORS", {})
    nested = {"type": "object", "properties": {"ok": {"type": "string"}, "odd": {"type": "object", **keyword}}}
    monkeypatch.setattr(schema, "schema", lambda name="config": nested)
    assert fastcheck.is_valid({"ok": "x"}) is True
    assert fastcheck.is_valid({"ok": 1}) is False
    assert fastcheck.is_valid({"ok": "x", "odd": {}}) is None
    with pytest.raises(SchemaUnsupported):
        fastcheck.scan(nested)


def test_uncompilable_schema_means_no_verdict(monkeypatch):
    monkeypatch.setattr(fastcheck, "VALIDATORS", {})
    monkeypatch.setattr(schema, "schema", lambda name="config": {"anyOf": [{"type": "object"}]})
    assert fastcheck.is_valid({}) is None


S = {"definitions": {"u8": {"type": "integer", "minimum": 0, "maximum": 255}},
     "type": "object", "required": ["a"],
     "properties": {"a": {"$ref": "#/definitions/u8"}, "e": {"type": "string", "enum": ["x", "y"]},
                    "l": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "m": {"type": "object", "patternProperties": {".": {"type": "string"}}},
                    "r": {"type": "object", "additionalProperties": {"type": "boolean"}},
                    "p": {"type": "string", "pattern": "^[cb]$"}}}


@pytest.mark.parametrize("doc,ok", [
    ({"a": 1}, True), ({}, False), ({"a": 256}, False), ({"a": -1}, False), ({"a": 1.0}, False),
    ({"a": True}, False), ({"a": 1, "e": "x"}, True), ({"a": 1, "e": "z"}, False), ({"a": 1, "e": 1}, False),
    ({"a": 1, "l": []}, False), ({"a": 1, "l": ["s"]}, True), ({"a": 1, "l": [1]}, False),
    ({"a": 1, "m": {"k": "v"}}, True), ({"a": 1, "m": {"k": 1}}, False), ({"a": 1, "m": {"": 1}}, True),
    ({"a": 1, "r": {"any": True}}, True), ({"a": 1, "r": {"any": "no"}}, False),
    ({"a": 1, "p": "c"}, True), ({"a": 1, "p": "x"}, False), ({"a": 1, "unknown": object}, True),
    ([], False), (None, False),
])
def test_edges_match_jsonschema(doc, ok):
    from jsonschema import Draft4Validator, Draft7Validator, validators
    cls = validators.extend(Draft7Validator, type_checker=Draft4Validator.TYPE_CHECKER)
    if doc is not None and isinstance(doc, dict) and doc.get("unknown") is object:
        doc = {"a": 1, "unknown": [1, {"x": None}]}
    assert cls(S).is_valid(doc) is ok
    assert fastcheck.compile_schema(S)(doc) is ok


def _schema_patterns():
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            found.update(node.get("patternProperties") or {})
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    for name in ("config", "state", "features"):
        walk(schema.schema(name))
    return sorted(found)


SCHEMA_PATTERNS = _schema_patterns()
# beyond ours: the shapes `simple` claims (classes with ^, ], -; escapes; ?, *, +; no anchors)
MORE_PATTERNS = ["a", "^$", "b+c?$", "[]a]+", "[^]x]*$", "^[-a]x?", "^[a-]\\.+$", "\\\\n", "^\\[[^\\]]*\\]$",
                 "^a*a*a$", "x.y", "^[0-9]+(a)?$"]
TEXT = st.text(alphabet="RLIMT_NOFbc019, -MB:KGxay\n\\[]^$.", max_size=16)


def test_every_schema_pattern_is_simple():
    # so that a config the verdict cache has not seen never imports `re`
    assert SCHEMA_PATTERNS and all(fastcheck.simple(p) is not None for p in SCHEMA_PATTERNS)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(SCHEMA_PATTERNS + MORE_PATTERNS), TEXT)
def test_simple_agrees_with_re(pattern, text):
    simple = fastcheck.simple(pattern)
    if simple is None:  # a shape it leaves to re: the validator then uses re
        assert pattern == "^[0-9]+(a)?$"
        return
    assert simple(text) == (re.search(pattern, text) is not None), (pattern, text)


@pytest.mark.parametrize("text", ["RLIMIT_NOFILE", "RLIMIT_NOFILE\n", "RLIMIT_nofile", "RLIMIT_", "xRLIMIT_A",
                                  "RLIMIT_A\n\n", ""])
def test_rlimit_pattern_edges(text):
    pattern = "^RLIMIT_[A-Z]+$"
    assert fastcheck.simple(pattern)(text) == (re.search(pattern, text) is not None)


def test_a_config_never_seen_needs_no_re(monkeypatch):
    """The miss path of a config with rlimits and cpuset cpus (podman's shape):
    every pattern it reaches is answered without importing `re`."""
    cfg = json.loads((Path(__file__).resolve().parents[2] / "bundles" / "busybox" / "config.json").read_text())
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    cfg.setdefault("linux", {}).setdefault("resources", {})["cpu"] = {"cpus": "0-1"}
    cfg.setdefault("annotations", {})["a"] = "b"
    real = builtins.__import__

    def no_re(name, *args, **kw):
        if name == "re":
            raise AssertionError("the validator imported re")
        return real(name, *args, **kw)
    monkeypatch.setattr(fastcheck, "VALIDATORS", {})  # compiled afresh, as in a new process
    monkeypatch.setattr(builtins, "__import__", no_re)
    assert fastcheck.is_valid(cfg) is True
    cfg["process"]["rlimits"][0]["type"] = "RLIMIT_nofile"
    assert fastcheck.is_valid(cfg) is False
