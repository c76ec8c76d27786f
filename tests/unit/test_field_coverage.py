"""Every field of the runtime-spec schema pyrunc accepts is applied, refused,
or ignored with a --strict listing (issue 14, item 4).

Walks spec/config-schema.json. A field counts as applied when the code
outside the validation package (pyrunc/config/) names it: its key occurs as
a string in pyrunc's source, the way `linux.get("memoryPolicy")` does. That
is a name-level check (a generic key like `type` is found anywhere), so the
fields the code does not apply are in pyrunc.config.coverage's tables, and
for those this test checks the behaviour: a config holding one is refused
by the validation pipeline, or listed by `validate --strict`.
"""
from __future__ import annotations

import ast
import copy
import json
import re

import pytest

from pyrunc.config import check_bundle, coverage
from pyrunc.config.findings import ERROR, STRICT
from pyrunc.config.strict import OTHER_PLATFORMS
from tests import support
from tests.unit.test_config_messages import BASE

SCHEMA = json.loads((support.REPO / "spec" / "config-schema.json").read_text())
NOT_CONSUMERS = ("pyrunc/config/", "pyrunc/features.py", "pyrunc/default_spec.py")


def schema_paths() -> list[str]:
    defs = SCHEMA["definitions"]
    found: set[str] = set()

    def resolve(node):
        while "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        return node

    def walk(node, path, depth=0):
        node = resolve(node)
        if depth > 16:
            return
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(key, ()):
                walk(sub, path, depth + 1)
        for key, child in (node.get("properties") or {}).items():
            sub = f"{path}.{key}" if path else key
            found.add(sub)
            walk(child, sub, depth + 1)
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], path + ".*", depth + 1)
        for child in (node.get("patternProperties") or {}).values():
            walk(child, path + ".*", depth + 1)
        if isinstance(node.get("items"), dict):
            walk(node["items"], path + "[]", depth + 1)

    walk(SCHEMA, "")
    return sorted(p for p in found if p.split(".")[0] not in OTHER_PLATFORMS)


def consumed_names() -> set[str]:
    names = set()
    for f in (support.REPO / "pyrunc").rglob("*.py"):
        rel = f.relative_to(support.REPO).as_posix()
        if rel.startswith(NOT_CONSUMERS):
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    return names


def _key(path: str) -> str:
    return [p for p in re.split(r"[.\[\]*]+", path) if p][-1]


def _tabled(path: str):
    for field in coverage.REFUSED + coverage.IGNORED:
        if path == field.path or path.startswith((field.path + ".", field.path + "[")):
            return field
    return None


def test_the_schema_walk_sees_the_whole_schema():
    paths = schema_paths()
    # a walk that lost its way would make the next test pass vacuously
    assert len(paths) > 150
    for expected in ("process.args", "linux.memoryPolicy.nodes", "linux.netDevices.*.name",
                     "mounts[].options", "linux.resources.memory.limit"):
        assert expected in paths


def test_every_field_is_applied_refused_or_ignored():
    names = consumed_names()
    loose = [p for p in schema_paths() if _key(p) not in names and _tabled(p) is None]
    assert not loose, ("fields neither read by pyrunc's code nor listed in "
                       f"pyrunc.config.coverage: {loose}")


def test_every_table_entry_is_a_field_of_the_schema():
    paths = set(schema_paths())
    for field in coverage.REFUSED + coverage.IGNORED:
        assert field.path in paths, field.path


def _with(path: str, value) -> dict:
    """BASE with `value` placed at schema path `path` (one element for `[]`)."""
    cfg = copy.deepcopy(BASE)
    parts = coverage.split(path)
    node = cfg
    for i, part in enumerate(parts[:-1]):
        nxt = parts[i + 1]
        if part == "[]":
            continue
        if isinstance(node, list):
            node = node[0]
        if nxt == "[]":
            node = node.setdefault(part, [])
            if not node:
                node.append({"destination": "/x", "type": "tmpfs", "source": "tmpfs"} if part == "mounts" else {})
        else:
            node = node.setdefault(part, {})
    if isinstance(node, list):
        node = node[0]
    node[parts[-1]] = value
    return cfg


def _check(tmp_path, cfg, strict=False):
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return check_bundle(str(tmp_path), strict=strict)[1]


@pytest.mark.parametrize("field", coverage.REFUSED, ids=lambda f: f.path)
def test_refused_fields_are_refused(tmp_path, field):
    cfg = _with(field.path, field.example)
    found = _check(tmp_path, cfg)
    errors = [f for f in found if f.severity == ERROR]
    assert errors, f"{field.path} was accepted"
    # refused at the field itself, not because the example broke something else
    assert {f.path for f in errors} <= set(coverage.occurrences(cfg, field.path)), errors


@pytest.mark.parametrize("field", coverage.IGNORED, ids=lambda f: f.path)
def test_ignored_fields_are_listed_by_strict(tmp_path, field):
    cfg = _with(field.path, field.example)
    found = _check(tmp_path, cfg, strict=True)
    assert not [f for f in found if f.severity == ERROR], found
    if not coverage.ignored_here(field):
        # applied on this host (linux.mountLabel where SELinux runs): not listed
        assert not [f for f in found if "not applied by pyrunc" in f.message], found
        return
    listed = [f for f in found if f.severity == STRICT and "not applied by pyrunc" in f.message]
    assert [f.path for f in listed] == coverage.occurrences(cfg, field.path), found
    # and without --strict nothing is said: the spec lets a runtime ignore them
    assert not [f for f in _check(tmp_path, cfg) if f.severity != ERROR and "not applied" in f.message]
