"""The project rule behind issue 14 item 1: no module reaches into another's
_private names. ruff's SLF001 (scripts/lint) catches `module._name`; this
catches the other spelling, `from pyrunc.x import _name`."""
from __future__ import annotations

import ast

from tests import support


def test_nothing_imports_a_private_name_of_pyrunc():
    found = []
    for top in ("pyrunc", "tests", "bench"):
        for path in sorted((support.REPO / top).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pyrunc"):
                    found += [f"{path.relative_to(support.REPO)}:{node.lineno}: {a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert not found, found
