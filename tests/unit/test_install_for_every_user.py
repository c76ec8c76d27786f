"""An install other users can run (issue 18): scripts/shared-python finds an
interpreter every user may run and says why one is not; install.sh makes the
venv from it; write-launcher warns when the command it writes is root's alone.
Its verdict on this checkout's own install must match what the kernel does
when another user runs `pyrunc --version`."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests import support

SHARED = support.REPO / "scripts" / "shared-python"
LAUNCHER = support.REPO / ".venv" / "bin" / "pyrunc"
NOBODY = 65534


def _shared(*args):
    return subprocess.run([sys.executable, str(SHARED), *map(str, args)], capture_output=True, text=True)


def _as_nobody(argv):
    def drop():
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    try:
        return subprocess.run(argv, preexec_fn=drop, capture_output=True, text=True, cwd="/",
                              env={"PATH": "/usr/bin:/bin"})
    except PermissionError as exc:  # execve refused: the interpreter is out of reach (a shell's 126)
        return subprocess.CompletedProcess(argv, 126, "", str(exc))


@pytest.fixture
def private_python():
    """A working interpreter in a directory only its owner may enter (as
    pyenv's in /root), below one every user may (pytest's tmp_path is not)."""
    if not os.path.exists("/usr/bin/python3"):
        pytest.skip("no /usr/bin/python3 to copy (Debian's python3 package)")
    # a copy of a system interpreter still finds its standard library by its compiled-in prefix
    real = os.path.realpath("/usr/bin/python3")
    base = Path(tempfile.mkdtemp(prefix="pyrunc-install-", dir="/tmp"))
    try:
        base.chmod(0o755)
        home = base / "home"
        home.mkdir(mode=0o700)
        copy = home / "python3"
        shutil.copy2(real, copy)
        yield home, copy
    finally:
        shutil.rmtree(base)


def test_an_interpreter_in_a_private_directory_is_named_with_the_reason(private_python):
    home, python = private_python
    proc = _shared("--check", python)
    assert proc.returncode == 1
    assert proc.stderr.strip().endswith(f"{home} is mode 0700: other users may not enter it"), proc.stderr


@pytest.mark.requires("root")
def test_the_shared_interpreter_runs_for_another_user():
    proc = _shared()
    assert proc.returncode == 0, proc.stderr
    python = proc.stdout.strip()
    run = _as_nobody([python, "-c", "import sys; print(sys.version_info >= (3, 11))"])
    assert run.stdout.strip() == "True", run.stderr


def test_write_launcher_warns_when_only_root_can_run_the_command(private_python, tmp_path):
    _home, python = private_python
    target = tmp_path / "pyrunc"
    # the copy finds no venv: the launcher's own site-packages and pyrunc are this checkout's
    proc = subprocess.run([python, str(support.REPO / "scripts" / "write-launcher"), str(target)],
                          capture_output=True, text=True, env={"PYTHONPATH": str(support.REPO)})
    assert proc.returncode == 0, proc.stderr
    assert f"write-launcher: warning: only root can run {target}" in proc.stderr, proc.stderr


@pytest.mark.requires("root")
def test_the_check_agrees_with_the_kernel_on_this_install():
    """`--check` on this checkout's venv says what happens when `nobody` runs
    `pyrunc --version`: it works, or the check named why it cannot."""
    if not LAUNCHER.exists():
        pytest.skip("this checkout has no .venv/bin/pyrunc (scripts/install.sh makes it)")
    check = _shared("--check", support.REPO / ".venv" / "bin" / "python")
    run = _as_nobody([str(LAUNCHER), "--version"])
    if check.returncode == 0:
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("pyrunc version"), run.stdout
    else:
        assert run.returncode != 0
        assert "only its owner can run it" in check.stderr
