"""Issue 15: CPython's private C modules (_json, _signal, _socket, _sha2, ...)
are imported in pyrunc.kernel.cpython and nowhere else, and the hot verbs
still load only the cheap ones."""
from __future__ import annotations

import ast
import subprocess
import sys

from tests import support

# python-prctl's C module is a dependency's, not CPython's: its importers say why
THIRD_PARTY = {"_prctl"}


def test_only_kernel_cpython_imports_private_c_modules():
    found = []
    for rel, node in support.pyrunc_nodes(but="pyrunc/kernel/cpython.py"):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module or ""]
        else:
            continue
        found += [f"{rel}:{node.lineno}: {n}" for n in names
                  if n.startswith("_") and not n.startswith("__") and n not in THIRD_PARTY]
    assert not found, found


def test_the_lazy_ones_are_the_c_modules():
    probe = """
import sys
from pyrunc.kernel import cpython
assert "_socket" not in sys.modules and "_sha256" not in sys.modules and "_sha2" not in sys.modules
from pyrunc.kernel.cpython import socket, sha256
assert socket is sys.modules["_socket"]
assert sha256(b"abc").hexdigest().startswith("ba7816bf")
assert "hashlib" not in sys.modules
"""
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_hot_verbs_load_no_extension_they_do_not_use():
    """state/start/kill/delete (pyrunc.cli -> pyrunc.lifecycle.<verb>) must not
    pay for _socket, _ctypes or sha256 (~0.3 ms each) through cpython.py."""
    probe = """
import sys
import pyrunc.cli, pyrunc.lifecycle.state, pyrunc.lifecycle.start, pyrunc.lifecycle.kill, pyrunc.lifecycle.delete, pyrunc.kernel.signals
print(" ".join(sorted(m for m in ("_socket", "_ctypes", "_sha256", "_sha2", "hashlib") if m in sys.modules)))
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
