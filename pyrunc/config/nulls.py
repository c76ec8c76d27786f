"""JSON null in config.json, read the way runc's Go decoder reads it.

Place in the flow: pyrunc.config calls `drop(doc)` right after parsing, only
when the raw bytes hold "null" at all. Go's encoding/json leaves a field
untouched (absent: nil pointer, nil slice, zero value) when the JSON says
null, so runc runs `"timeOffsets": null`, `"seccomp": null`, ... as if the
field were not there; clients do send such nulls. The spec's schema does not
allow them, so `validate --strict` lists each one (the paths `drop` returns).

In a string map (annotations, linux.sysctl, linux.resources.unified) Go keeps
the key with the zero value, "". A null inside an array is left alone: the
schema refuses it. Import-light: nothing.
"""
from __future__ import annotations

from pyrunc.config.findings import jpath

# objects whose keys are data (Go map[string]string), by path
STRING_MAPS = (("annotations",), ("linux", "sysctl"), ("linux", "resources", "unified"))


def drop(doc) -> list[str]:
    """Remove null-valued object members in place (string maps: ""); their JSON paths."""
    found: list[str] = []
    _walk(doc, (), found)
    return found


def _walk(node, path: tuple, found: list[str]) -> None:
    if isinstance(node, dict):
        for key in [k for k, v in node.items() if v is None]:
            found.append(jpath(*path, key))
            if path in STRING_MAPS:
                node[key] = ""
            else:
                del node[key]
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                _walk(value, path + (key,), found)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, (dict, list)):
                _walk(value, path + (i,), found)
