"""Issue 14 item 8: a broken pyrunc fails the suite, never skips it.

Each test breaks one thing the way a regression would and checks that the
suite (or the CLI it drives) says so loudly."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

import pytest

from tests import support


def _python(code: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, cwd=support.REPO, **kw)


@pytest.mark.parametrize("argv", [["exec", "--help"], ["features"], ["state", "--help"]])
def test_a_verb_module_that_fails_to_import_fails_the_cli(argv):
    """Once, a verb whose module failed to import just vanished: `exec`
    answered click's `No such command` and the e2e suite took that for a
    runtime without exec, and skipped."""
    proc = _python(f"""
        import sys
        sys.modules["pyrunc.cli.exec_cmd"] = None   # importing it raises ImportError
        from pyrunc import cli
        cli.main({argv!r})
    """)
    assert proc.returncode == 1, proc.stderr
    assert "internal error" in proc.stderr and "pyrunc.cli.exec_cmd" in proc.stderr, proc.stderr
    assert "No such command" not in proc.stderr and "Traceback" not in proc.stderr


def test_an_unknown_marker_is_an_error(tmp_path):
    """--strict-markers: a misspelt `requires` must not quietly mean nothing."""
    (tmp_path / "test_marked.py").write_text(
        "import pytest\n\n@pytest.mark.requiers('root')\ndef test_x():\n    pass\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-c", str(support.REPO / "pyproject.toml"), "--rootdir", str(tmp_path),
                           str(tmp_path / "test_marked.py")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, proc.stdout
    assert "requiers" in proc.stdout + proc.stderr


def test_no_test_skips_on_a_missing_import():
    """pyrunc's modules and its declared dependencies (pyproject.toml) are
    there or the install is broken: importorskip would turn that into skips."""
    found = []
    for path in sorted((support.REPO / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "importorskip":
                found.append(f"{path.relative_to(support.REPO)}:{node.lineno}")
    assert not found, found


@pytest.mark.requires("root")
def test_e2e_fails_when_the_runtime_lost_a_verb(tmp_path):
    """A runtime whose `VERB --help` fails (here: every verb) fails the e2e
    tests that need it; it once skipped them."""
    fake = tmp_path / "pyrunc"
    fake.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo 'pyrunc version 0' && exit 0\nexit 1\n")
    fake.chmod(0o755)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                           "tests/e2e/test_runtime_exec.py::test_features_document"],
                          capture_output=True, text=True, timeout=300, cwd=support.REPO,
                          env=dict(os.environ, PYRUNC_TEST_RUNTIME=str(fake)))
    assert proc.returncode == 1, proc.stdout
    assert "has no 'create' command" in proc.stdout, proc.stdout
    assert "skipped" not in proc.stdout.splitlines()[-1], proc.stdout
