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


@pytest.mark.parametrize("module", ["pyrunc.cli.cgroup_cmds", "pyrunc.cli.validate_cmd"])
@pytest.mark.parametrize("argv", [["exec", "--help"], ["features"], ["state", "--help"]])
def test_a_verb_module_that_fails_to_import_fails_the_cli(argv, module):
    """Once, a verb whose module failed to import just vanished: `exec`
    answered click's `No such command` and the e2e suite took that for a
    runtime without exec, and skipped. (The modules holding verb bodies
    besides pyrunc/cli/verbs.py; exec's body moved into verbs.py.)"""
    proc = _python(f"""
        import sys
        sys.modules[{module!r}] = None   # importing it raises ImportError
        from pyrunc.cli import clickapp as cli
        cli.main({argv!r})
    """)
    assert proc.returncode == 1, proc.stderr
    assert "internal error" in proc.stderr and module in proc.stderr, proc.stderr
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


def _cgroup_for(process: subprocess.Popen, parent: str, name: str) -> str:
    """A cgroup <hierarchy>/<parent>/<name> holding `process` (ours), in the
    first hierarchy of this host that takes it (cpuset, for one, needs cpus
    and mems first): the unified root on cgroup v2, a v1 one otherwise."""
    base = "/sys/fs/cgroup"
    unified = os.path.exists(f"{base}/cgroup.controllers")
    for root in [base] if unified else [f"{base}/{h}" for h in sorted(os.listdir(base))]:
        path = os.path.join(root, parent, name)
        try:
            os.makedirs(path, exist_ok=True)
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(process.pid))
            return path
        except OSError:
            _rmdirs(root, parent, name)
    pytest.fail("no cgroup hierarchy here takes a process")


def _rmdirs(root: str, parent: str, name: str) -> None:
    for d in (os.path.join(root, parent, name), os.path.join(root, parent)):
        try:
            os.rmdir(d)
        except OSError:
            pass


@pytest.mark.requires("root")
def test_a_process_left_in_a_session_cgroup_is_killed_and_reported():
    """The end-of-run check (tests/conftest.py) once only removed empty cgroups:
    a leaked container process passed unnoticed. Ours is killed and reported;
    one in a cgroup this session did not make (another session's) is left."""
    from tests import cgroup_leaks
    parent = f"{support.TEST_CGROUP_PARENT}/{support.unique_id('leakcheck')}"
    ours, theirs = support.unique_id("leak"), "not-issued-here"
    procs = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
    cgroups = []
    try:
        cgroups = [_cgroup_for(procs[0], parent, ours), _cgroup_for(procs[1], parent, theirs)]
        leaks = cgroup_leaks.kill_leaked({ours}, parent=parent)
        assert len(leaks) == 1 and cgroups[0] in leaks[0] and str(procs[0].pid) in leaks[0], leaks
        assert procs[0].wait(timeout=10) == -9
        assert procs[1].poll() is None, "a process of a cgroup this session did not make was killed"
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for path in cgroups:
            root = path[:path.index("/" + parent + "/")]
            _rmdirs(root, parent, os.path.basename(path))
