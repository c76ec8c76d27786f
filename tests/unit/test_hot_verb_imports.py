"""The hot verbs as shims call them: the `pyrunc` command that
scripts/write-launcher writes (`python -I -S`, the launcher's own sys.path),
under `-X importtime`, for `state`, `start`, `kill` and `delete` on a missing
and on a real container. None of them may load click (~20 ms), jsonschema
(50-70 ms), pyseccomp or pyrunc.config: they read a state dir, nothing else.

The other import tests come at it from other sides: test_fastcli.py calls
the fast parser in-process (a wider list of heavy modules, no container),
test_config_cache.py runs `python -m pyrunc` (the module entry),
test_import_contracts.py reads the import statements. This one is the only
one that runs the installed entry against a container that exists, which is
where state/kill/delete take their longer paths (liveness, signals, cgroup
removal). bench/importtime prints the same measurement for people.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests import support
from tests.conformance import probe

HOT_VERBS = ("state", "start", "kill", "delete")
HEAVY = ("click", "jsonschema", "pyseccomp", "pyrunc.config")
# `os` (with posixpath, stat and _collections_abc: ~1.2 ms) is not heavy, but
# these verbs do without it: pyrunc/kernel/posixos.py (issue 19)
OS_FREE = ("state", "start", "kill", "delete")
if support.SYSTEMD_CGROUP:  # kill and delete then talk D-Bus (jeepney, socket, os)
    OS_FREE = ("state", "start")


@pytest.fixture(scope="module")
def launcher(tmp_path_factory) -> list[str]:
    """argv prefix of a launcher written for this interpreter, as install.sh does."""
    path = tmp_path_factory.mktemp("launcher") / "pyrunc"
    subprocess.run([sys.executable, str(support.REPO / "scripts" / "write-launcher"), str(path)], check=True)
    shebang = path.read_text().splitlines()[0]
    assert shebang.startswith("#!") and "-IS" in shebang.split(), shebang
    return shebang[2:].split() + [str(path)]


def imported(launcher: list[str], root, *args) -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run one command through the launcher; every module it imported."""
    interp, script = launcher[:-1], launcher[-1]
    argv = [*interp, "-X", "importtime", script, "--root", str(root), *map(str, args)]
    # pipes are safe: none of these verbs leaves a process behind (start
    # releases an init that holds create's stdio, not start's)
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    names = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
             if line.startswith("import time:") and "self [us]" not in line}
    support.assert_no_traceback(proc.stderr)
    return proc, names


def heavy_in(names: set[str]) -> list[str]:
    return sorted(n for n in names for h in HEAVY if n == h or n.startswith(h + "."))


@pytest.mark.parametrize("verb", HOT_VERBS)
def test_hot_verb_on_a_missing_container_loads_nothing_heavy(launcher, tmp_path, verb):
    args = [verb, "nosuch"] + (["KILL"] if verb == "kill" else [])
    proc, names = imported(launcher, tmp_path / "root", *args)
    assert proc.returncode == 1 and "container does not exist" in proc.stderr, proc.stderr[-2000:]
    assert f"pyrunc.lifecycle.{verb}" in names, proc.stderr[-2000:]  # the verb ran, on the fast path
    assert not heavy_in(names), f"{verb} loaded {heavy_in(names)}"
    assert "os" not in names, f"{verb} of a missing container loaded os"


@pytest.mark.requires("root")
def test_hot_verbs_on_a_real_container_load_nothing_heavy(launcher, tmp_path):
    root = tmp_path / "root"
    runtime = support.Runtime(root, binary=launcher[-1])
    bundle = support.Bundle(tmp_path / "bundle")
    cid = support.unique_id("hot")
    probe.prepare(bundle, cid, ["sleep", "1000"])
    bundle.write()
    probe.call(runtime, "create", "--bundle", bundle.path, cid, check=True)
    try:
        loaded = {}
        for verb, args in (("state", ()), ("start", ()), ("kill", ("KILL",))):
            proc, loaded[verb] = imported(launcher, root, verb, cid, *args)
            assert proc.returncode == 0, proc.stderr[-2000:]
        probe.wait_status(runtime, cid, "stopped")
        proc, loaded["delete"] = imported(launcher, root, "delete", cid)
        assert proc.returncode == 0, proc.stderr[-2000:]
    finally:
        runtime.run("delete", "--force", cid)
    for verb, names in loaded.items():
        assert f"pyrunc.lifecycle.{verb}" in names, verb
        assert not heavy_in(names), f"{verb} on a real container loaded {heavy_in(names)}"
        assert verb not in OS_FREE or "os" not in names, f"{verb} on a real container loaded os"
    probe.assert_no_leftovers(runtime, cid, bundle.path)
