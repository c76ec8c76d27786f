"""`import pyrunc` stays free: the public API (pyrunc.api) loads only when a
caller names `pyrunc.Runtime` (the package's module __getattr__), so the CLI's
hot verbs, which import pyrunc first, never pay for it; and the API itself
loads neither click nor jsonschema until a call needs them. Checked in a
fresh interpreter, as tests/unit/test_init_imports.py does."""
from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
before = set(sys.modules)
{code}
sys.stdout.write("\\n".join(sorted(set(sys.modules) - before)))
"""


def _loaded_by(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(code=code)],
                         capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def _under(loaded, *packages):
    return sorted(m for m in loaded for p in packages if m == p or m.startswith(p + "."))


def test_import_pyrunc_loads_nothing_but_itself():
    loaded = _loaded_by("import pyrunc")
    assert _under(loaded, "pyrunc") == ["pyrunc"], _under(loaded, "pyrunc")
    assert not _under(loaded, "click", "jsonschema"), loaded


def test_the_api_loads_on_first_use_without_click_or_jsonschema():
    loaded = _loaded_by("from pyrunc import Runtime, Container\nRuntime(root='/nonexistent-root')")
    assert "pyrunc.api" in loaded
    assert not _under(loaded, "click", "jsonschema", "pyrunc.cli", "pyrunc.config"), \
        _under(loaded, "click", "jsonschema", "pyrunc.cli", "pyrunc.config")


def test_the_hot_cli_path_does_not_load_the_api():
    loaded = _loaded_by("from pyrunc.cli import main")
    assert "pyrunc.api" not in loaded


def test_unknown_names_are_still_attribute_errors():
    import pyrunc
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        pyrunc.Nope  # noqa: B018
    assert {"Runtime", "Container", "State", "Validation"} <= set(dir(pyrunc))
    from pyrunc import api
    assert pyrunc.Runtime is api.Runtime
