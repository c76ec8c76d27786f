"""The `pyrunc` command a wheel installer writes (pip, pipx, anything that
installs the wheel): the fast path, checked by what it loads and how it is
made, not by a timing (issue 19).

pip's [project.scripts] wrapper imports `re` (~7 ms with what it pulls in)
and returns into interpreter teardown (~3 ms) on every call; the wheel
therefore carries bin/pyrunc as a script (`#!python`, which the installer
rewrites to the environment's interpreter) that calls pyrunc.cli.program
(os._exit after flushing) with the launcher's GC threshold. What it cannot
have is `-I -S`: installers drop the flags of a `#!python` line, so `site`
still runs; scripts/write-launcher's command (install.sh) stays the faster
one (bench/README.md, session 7, has both measured).
"""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

from tests import support

HEAVY = ("re", "click", "jsonschema", "pyrunc.config")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `pip install .` builds from this checkout."""
    out = tmp_path_factory.mktemp("wheel")
    # with build isolation, as `pip install .` builds (setuptools from the
    # index pip is configured with: this venv's own may lack bdist_wheel)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
                    "-w", str(out), str(support.REPO)],
                   check=True, capture_output=True, timeout=300)
    (path,) = out.glob("pyrunc-*.whl")
    return path


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """A fresh venv with the wheel installed by pip, as `pip install .` does."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # this venv's pip installs into the new one (--python: pip >= 22.3)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--disable-pip-version-check", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return venv


def test_the_wheel_ships_the_script_not_an_entry_point(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        script = [n for n in names if n.endswith(".data/scripts/pyrunc")]
        assert script, names
        assert z.read(script[0]).startswith(b"#!python\n")
        eps = [n for n in names if n.endswith("entry_points.txt")]
        assert not eps or b"pyrunc" not in z.read(eps[0]), "a console-script wrapper would shadow bin/pyrunc"


def test_the_installed_command_runs_the_environments_interpreter(installed):
    first = (installed / "bin" / "pyrunc").read_text().splitlines()[0]
    assert first.startswith("#!") and os.path.samefile(first[2:].split()[0], installed / "bin" / "python"), first
    assert os.access(installed / "bin" / "pyrunc", os.X_OK)


@pytest.mark.parametrize("verb", ["state", "delete"])
def test_the_installed_command_loads_no_re_nor_click(installed, tmp_path, verb):
    """Run through its own #! line; PYTHONPROFILEIMPORTTIME lists every import
    (the script has no -I, so the variable is honoured: that is the point)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.run([str(installed / "bin" / "pyrunc"), "--root", str(tmp_path / "root"), verb, "nosuch"],
                          capture_output=True, text=True, env=env, timeout=60)
    support.assert_no_traceback(proc.stderr)
    assert proc.returncode == 1 and "container does not exist" in proc.stderr, proc.stderr[-2000:]
    names = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "self [us]" not in line}
    assert "pyrunc.cli" in names, sorted(names)
    heavy = sorted(n for n in names for h in HEAVY if n == h or n.startswith(h + "."))
    assert not heavy, heavy



def test_pyproject_lists_every_package_of_the_tree():
    """pyproject.toml lists the packages by hand: a subpackage left out
    installs (`pip install .`, not -e) a pyrunc whose create fails with
    ModuleNotFoundError (pyrunc.config.checks was). Read from the file, not
    the wheel: setuptools reuses an in-tree build/ that may hold it anyway."""
    import tomllib
    listed = set(tomllib.loads((support.REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    tree = {".".join(p.parent.relative_to(support.REPO).parts)
            for p in (support.REPO / "pyrunc").rglob("__init__.py")}
    assert not tree - listed, sorted(tree - listed)


def test_write_launcher_turns_a_pip_install_into_the_fast_command(installed, tmp_path):
    """The fast path for a pip (or pipx) install, as README "Install" says:
    scripts/write-launcher run with the install's own interpreter over its
    bin/pyrunc. The command then runs `-I -S` (no site: no os, no .pth files)
    from the install's site-packages, with the bundle beside it."""
    python, command = installed / "bin" / "python", installed / "bin" / "pyrunc"
    subprocess.run([str(python), str(support.REPO / "scripts" / "write-launcher"), str(command)],
                   check=True, capture_output=True, timeout=120)
    first = command.read_text().splitlines()[0]
    assert first.split()[1:] == ["-IS"] and os.path.samefile(first[2:].split()[0], python), first
    assert (installed / "bin" / "pyrunc.bundle").is_file()
    proc = subprocess.run([*first[2:].split(), "-X", "importtime", str(command), "--root", str(tmp_path / "root"),
                           "state", "nosuch"], capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1 and "container does not exist" in proc.stderr, proc.stderr[-2000:]
    names = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "self [us]" not in line}
    assert "pyrunc.cli" in names and not names & {"site", "os", "re"}, sorted(names)
    # served from the install, not from this checkout
    assert str(support.REPO / "pyrunc") not in command.read_text()
