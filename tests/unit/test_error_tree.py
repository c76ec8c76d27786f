"""Issue 15: every exception class of pyrunc is in pyrunc.errors, the one
error tree, and errors.py stays import-light (the child imports it)."""
from __future__ import annotations

import ast
import builtins
import subprocess
import sys

from pyrunc import errors
from tests import support

EXCEPTIONS = {name for name in dir(builtins)
              if isinstance(getattr(builtins, name), type) and issubclass(getattr(builtins, name), BaseException)}
OURS = {name for name in dir(errors)
        if isinstance(getattr(errors, name), type) and issubclass(getattr(errors, name), BaseException)}

# records mirrors dataclasses, whose FrozenInstanceError is part of that API;
# pyrunc.cli's _Fallback is a private control-flow signal, never an error
STAY = {("pyrunc/records.py", "FrozenInstanceError"), ("pyrunc/cli/__init__.py", "_Fallback")}


def _base_name(node):
    return node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", None)


def test_every_exception_class_is_in_errors_py():
    found = [f"{rel}:{node.lineno}: {node.name}" for rel, node in support.pyrunc_nodes(but="pyrunc/errors.py")
             if isinstance(node, ast.ClassDef) and (rel, node.name) not in STAY
             and any(_base_name(b) in EXCEPTIONS | OURS for b in node.bases)]
    assert not found, found


def test_errors_py_imports_only_os():
    probe = """
import sys
before = set(sys.modules)
import pyrunc.errors
print(" ".join(sorted(set(sys.modules) - before - {"pyrunc", "pyrunc.errors"})))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []
