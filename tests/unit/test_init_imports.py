"""The container's side imports nothing heavy, and everything it needs up
front: after pivot_root the host's sys.path is gone, so the child must never
import lazily (ARCHITECTURE.md, principle 3). Like click's tests/test_imports.py,
import pyrunc.init in a fresh interpreter and look at sys.modules."""
from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("click", "jsonschema", "pyseccomp", "jeepney", "pyrunc.cli", "pyrunc.config",
             "pyrunc.lifecycle", "pyrunc.cgroups", "pyrunc.store", "pyrunc.security.seccomp.compile")

# only `sys` before the snapshot, so anything else the import pulls in shows
PROBE = """
import sys
before = set(sys.modules)
import {module}
sys.stdout.write("\\n".join(sorted(set(sys.modules) - before)))
"""


def _loaded_by(module: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(module=module)],
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def _forbidden(loaded):
    return sorted(m for m in loaded for bad in FORBIDDEN if m == bad or m.startswith(bad + "."))


def test_init_imports_nothing_heavy():
    loaded = _loaded_by("pyrunc.init")
    assert not _forbidden(loaded), _forbidden(loaded)


def test_kernel_imports_nothing_heavy():
    loaded = _loaded_by("pyrunc.kernel.syscalls")
    assert not _forbidden(loaded), _forbidden(loaded)


def test_init_loads_every_child_module_eagerly():
    loaded = set(_loaded_by("pyrunc.init"))
    for needed in ("pyrunc.init.stage1", "pyrunc.init.stage2", "pyrunc.init.rootfs",
                   "pyrunc.init.console", "pyrunc.init.paths", "pyrunc.init.preload", "pyrunc.init.copyup",
                   "pyrunc.process.sync", "pyrunc.kernel.syscalls"):
        assert needed in loaded, f"{needed} is not imported by pyrunc.init"


def test_init_leaves_the_heavy_rare_modules_to_preload():
    """Every waiting init carries what pyrunc.init imports: subprocess (for
    hooks), json, re, enum and socket.py stay out unless a plan needs them."""
    loaded = set(_loaded_by("pyrunc.init"))
    for heavy in ("subprocess", "json", "re", "enum", "socket", "contextlib", "pyrunc.process.hooks"):
        assert heavy not in loaded, f"pyrunc.init imports {heavy}"


def test_preload_loads_hooks_for_a_plan_with_container_side_hooks():
    probe = """
import sys, types
from pyrunc.init import preload
preload.for_plan(types.SimpleNamespace(hooks_create_container=(), hooks_start_container=()))
assert preload.hooks is None and "subprocess" not in sys.modules
preload.for_plan(types.SimpleNamespace(hooks_create_container=({"path": "/bin/true"},)))
assert preload.hooks is sys.modules["pyrunc.process.hooks"] and "subprocess" in sys.modules
"""
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_child_modules_have_no_function_level_imports():
    """A lazy `import` inside a function of a child-side module would run
    after pivot_root; the only import statements are at module level (and in
    preload.for_plan, which the parent runs before the fork)."""
    import ast
    import pathlib
    import pyrunc.init

    root = pathlib.Path(pyrunc.init.__file__).parent
    offenders = []
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if path.name == "preload.py" and getattr(node, "name", "") == "for_plan":
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        offenders.append(f"{path.name}:{inner.lineno}")
    assert not offenders, offenders


def test_create_parent_leaves_ctypes_and_prctl_to_the_child():
    """Everything create's parent runs before the fork: none of it needs
    ctypes or python-prctl (~4.5 ms); stage-1 imports pyrunc.init itself
    while the parent moves it into its cgroup (process/spawn.py)."""
    loaded = set()
    for module in ("pyrunc.cli", "pyrunc.lifecycle.create", "pyrunc.config",
                   "pyrunc.config.checks.pipeline", "pyrunc.plan",
                   "pyrunc.config.checks.process", "pyrunc.security.capabilities", "pyrunc.process.spawn",
                   "pyrunc.cgroups", "pyrunc.cgroups.v1", "pyrunc.lifecycle.activation"):
        loaded |= set(_loaded_by(module))
    assert not {"ctypes", "prctl", "_prctl", "pyrunc.init", "pyrunc.kernel.syscalls"} & loaded


def test_the_child_loads_neither_ctypes_nor_prctl_py():
    """The child's imports are on the container's critical path once the
    cgroup write no longer hides them (kernel/cgroup_prepay.py): libc through
    _ctypes (kernel/libc.py, ~0.6 ms) instead of the ctypes package
    (~2.8 ms), python-prctl's C module instead of its prctl.py (~0.7 ms)."""
    loaded = set(_loaded_by("pyrunc.init"))
    assert "_ctypes" in loaded and "_prctl" in loaded
    assert not {"ctypes", "prctl"} & loaded
