"""pyrunc.jsonio must be json, byte for byte: the same values from loads, the
same text from dumps, and json's own exceptions on bad input."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from pyrunc import jsonio

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(), inner, max_size=4), max_leaves=20)
ARGS = [{}, {"indent": 2}, {"separators": (",", ":")}, {"ensure_ascii": False},
        {"sort_keys": True, "separators": (",", ":")}, {"indent": 4, "sort_keys": True}]


@settings(max_examples=200, deadline=None)
@given(values)
def test_dumps_and_loads_are_json(value):
    for kwargs in ARGS:
        text = json.dumps(value, **kwargs)
        assert jsonio.dumps(value, **kwargs) == text
        assert jsonio.loads(text) == json.loads(text)
        assert jsonio.loads(text.encode()) == json.loads(text.encode())


@pytest.mark.parametrize("bad", ["", " ", "{", "[1,]", "1 2", '{"a":1} x', '{"a" 1}', '"\\x"',
                                 b"\xff", b"{\"a\": \"\xc3\"}"])
def test_bad_input_raises_what_json_raises(bad):
    with pytest.raises(Exception) as ours:
        jsonio.loads(bad)
    with pytest.raises(Exception) as theirs:
        json.loads(bad)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


def test_parse_constant_is_honoured():
    def reject(name):
        raise ValueError(f"no {name}")
    assert jsonio.loads("[NaN]", parse_constant=lambda n: n) == ["NaN"]
    with pytest.raises(ValueError, match="no Infinity"):
        jsonio.loads('{"a": Infinity}', parse_constant=reject)


def test_unserializable_and_circular_values_fail_as_in_json():
    with pytest.raises(TypeError, match="not JSON serializable"):
        jsonio.dumps({"a": object()})
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        jsonio.dumps(loop)
    assert jsonio.dumps({1: None, True: 2}) == json.dumps({1: None, True: 2})  # noqa: F601 (on purpose: 1 == True)
    assert jsonio.dumps({1: [1]}, indent=2) == json.dumps({1: [1]}, indent=2)
