"""The layers of pyrunc/ (README "How it works") as import contracts, checked
statically: every `import` and `from ... import` of every module, at module
level and inside functions (a lazy import is still a dependency; in the child
it would even run after pivot_root), against one table of rules.

Complementary to the dynamic tests, which look at what a fresh interpreter
actually loads: tests/unit/test_init_imports.py (the child's side),
test_fastcli.py and test_config_cache.py (the hot verbs), test_hot_verb_imports.py
(the hot verbs as the launcher runs them). A static edge that never runs
today is still caught here, before someone calls it.
"""
from __future__ import annotations

import ast
import pathlib
from dataclasses import dataclass

import pyrunc

PACKAGE = pathlib.Path(pyrunc.__file__).parent


@dataclass(frozen=True)
class Rule:
    layer: str                     # the modules it binds: this module and everything below it
    forbidden: tuple[str, ...]     # what they must not import (a module and everything below it)
    why: str
    allowed: tuple[str, ...] = ()  # carved out of `forbidden`
    owners: tuple[str, ...] = ()   # carved out of `layer`: the one place that may


_ABOVE_THE_CHILD = ("pyrunc.lifecycle", "pyrunc.cli", "pyrunc.config", "pyrunc.store", "pyrunc.cgroups", "pyrunc.api")

# One row per contract. A row names the layer, what it must not import, and why.
RULES = (
    Rule("pyrunc.init", _ABOVE_THE_CHILD + ("click", "jsonschema", "pyseccomp", "jeepney"),
         "init/ runs in the child between fork and exec: after pivot_root the host's sys.path is gone, and every "
         "waiting init carries what it imported; it gets a frozen plan and the sync pipe, nothing of the parent's"),
    Rule("pyrunc.kernel", ("pyrunc",), allowed=("pyrunc.kernel", "pyrunc.errors"),
         why="kernel/ is the bottom layer (syscalls, flags, /proc): everything may use it, so it uses nothing above it"),
    Rule("pyrunc", ("click",), owners=("pyrunc.cli",),
         why="click costs ~20 ms per call: only the CLI's slow path (help, rare verbs) may load it"),
    Rule("pyrunc", ("jsonschema",), owners=("pyrunc.config",),
         why="jsonschema costs 50-70 ms: only config/ words schema errors with it, and only on a failure"),
    Rule("pyrunc.store", ("pyrunc.lifecycle", "pyrunc.cli", "pyrunc.config"),
         "store/ is the on-disk record every verb reads (state, kill, delete on every shim call): it knows no verb, "
         "no parser and no config validation"),
    Rule("pyrunc.lifecycle", ("pyrunc.cli", "pyrunc.api"),
         "lifecycle/ is what the CLI and the Python API both call: it must not call back into either"),
    Rule("pyrunc.plan", ("pyrunc.lifecycle", "pyrunc.cli", "pyrunc.store"),
         "the plan is built once from a checked config and read by the child: it knows nothing of verbs or state dirs"),
    Rule("pyrunc.cgroups", ("pyrunc.lifecycle", "pyrunc.cli", "pyrunc.config", "pyrunc.store"),
         "cgroups/ turns resources into cgroupfs writes for any caller: it knows no verb, no config checks, no state dir"),
)

# (importing module, imported module) -> why it is tolerated for now and who
# removes it. An entry that no longer matches an import fails the test: delete it.
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def modules(package: pathlib.Path = PACKAGE) -> dict[str, pathlib.Path]:
    """Dotted name -> file, for every module of the package."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(name: str, path: pathlib.Path, known: dict[str, pathlib.Path]) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement of the module, at
    any depth, and every importlib.import_module/__import__ of a literal."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                # `from pyrunc import config` imports the module pyrunc.config
                sub = f"{source}.{alias.name}"
                out.append((node.lineno, sub if sub in known else source))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                out.append((node.lineno, node.args[0].value))
    return out


def broken(rule: Rule, importer: str, imported: str) -> bool:
    return (_under(importer, rule.layer) and not any(_under(importer, o) for o in rule.owners)
            and any(_under(imported, f) for f in rule.forbidden)
            and not any(_under(imported, a) for a in rule.allowed))


def violations(package: pathlib.Path = PACKAGE) -> list[tuple[str, int, str, Rule]]:
    known = modules(package)
    out = []
    for name, path in known.items():
        for line, imported in imports(name, path, known):
            out += [(name, line, imported, rule) for rule in RULES if broken(rule, name, imported)]
    return out


def _describe(v: tuple[str, int, str, Rule]) -> str:
    name, line, imported, rule = v
    layer = rule.layer + (f" (except {', '.join(rule.owners)})" if rule.owners else "")
    forbidden = ", ".join(rule.forbidden) + (f" (except {', '.join(rule.allowed)})" if rule.allowed else "")
    return f"{name}:{line} imports {imported} (rule: {layer} must not import {forbidden}: {rule.why})"


def test_every_layer_keeps_its_import_contract():
    found = [v for v in violations() if (v[0], v[2]) not in KNOWN_EXCEPTIONS]
    assert not found, "import contracts broken:\n" + "\n".join(_describe(v) for v in found)


def test_known_exceptions_are_still_needed():
    edges = {(v[0], v[2]) for v in violations()}
    stale = [f"{a} -> {b}" for a, b in KNOWN_EXCEPTIONS if (a, b) not in edges]
    assert not stale, "fixed, remove from KNOWN_EXCEPTIONS: " + ", ".join(stale)


def test_every_rule_names_modules_that_exist():
    """A renamed package must not switch its rule off silently."""
    known = modules()
    for rule in RULES:
        for name in (rule.layer, *rule.owners, *(p for p in rule.forbidden + rule.allowed if p.startswith("pyrunc."))):
            if name == "pyrunc.api":  # the public API module: its rule holds before it lands
                continue
            assert any(_under(m, name) for m in known), f"{name} (in the rule for {rule.layer}) is not a module"


def test_the_checker_sees_every_kind_of_import(tmp_path):
    """Lazy (in a function), `from pkg import module`, relative, and
    import_module of a literal: each is an edge."""
    pkg = tmp_path / "pyrunc"
    for sub in ("kernel", "config", "init"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "errors.py").write_text("")
    (pkg / "config" / "schema.py").write_text("")
    (pkg / "kernel" / "ok.py").write_text("from pyrunc import errors\nfrom . import ok\nimport os\n")
    (pkg / "kernel" / "lazy.py").write_text("def f():\n    from pyrunc import config\n")
    (pkg / "init" / "rel.py").write_text("x = 1\nfrom ..config import schema\n")
    (pkg / "init" / "dyn.py").write_text("import importlib\nimportlib.import_module('click')\n")
    found = {f"{n}:{line} imports {imp}" for n, line, imp, _ in violations(pkg)}
    assert found == {"pyrunc.kernel.lazy:2 imports pyrunc.config", "pyrunc.init.rel:2 imports pyrunc.config.schema",
                     "pyrunc.init.dyn:2 imports click"}, found
