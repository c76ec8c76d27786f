"""The compiled validator (pyrunc.config.fastcheck): jsonschema's verdict without jsonschema.

Agreement on generated configs is tested in test_schema_oracle (three-way,
with the official schema); here: its edges and its refusal of keywords it
does not implement.
"""
from __future__ import annotations

import pytest

from pyrunc.config import fastcheck, schema
from pyrunc.errors import SchemaUnsupported


def test_our_schemas_compile():
    for name in ("config", "state", "features"):
        fastcheck.compile_schema(schema.schema(name))


@pytest.mark.parametrize("keyword", [{"oneOf": []}, {"const": 1}, {"additionalProperties": False},
                                     {"$ref": "http://example.com/x.json"}, {"items": [{}]}])
def test_unknown_keywords_refuse_to_compile(keyword):
    with pytest.raises(SchemaUnsupported):
        fastcheck.compile_schema({"type": "object", **keyword})


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
