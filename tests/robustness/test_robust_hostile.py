"""Hostile inputs from outside: each is one clear line and exit 1 (or, for
odd-but-valid input, plain success), never a traceback, nothing left behind.

- a truncated or corrupt state.json: state/kill/delete/delete --force refuse
  with the same line and act on nothing; list warns and lists the rest;
- a state dir made by another user (a planted record could name any pid);
- --root on a read-only filesystem (a ro tmpfs in a private mount namespace
  made by tests/robustness/rofs_exec.py; host mounts are never touched);
- a pid file in a missing dir, a console socket that is not a socket,
  --preserve-fds beyond the open fds;
- a bundle path with spaces and unicode (must simply work).

Messages are pyrunc's; against runc (PYRUNC_TEST_RUNTIME=runc) the same
checks run with runc's wording, or skip with the reason where runc differs.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests import support
from tests.robustness import leftovers as lo

pytestmark = pytest.mark.requires("root")


def _created(runtime, bundle, cid=None, args=("sleep", "1000"), extra=()):
    """A `created` container; returns (cid, marker, init pid)."""
    cid = cid or support.unique_id("hostile")
    marker = lo.new_marker()
    lo.tag_config(bundle.config, cid, marker, args=list(args))
    bundle.write()
    proc = lo.run_to_files(runtime, "create", "--bundle", bundle.path, *extra, cid, env=lo.env_with(marker))
    assert proc.returncode == 0, proc.stderr
    return cid, marker, runtime.state(cid)["pid"]


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] not in ("Z", "X")
    except OSError:
        return False


# -- a corrupt state.json --------------------------------------------------------

def _truncated(good: bytes, cid: str) -> bytes:
    return good[: len(good) // 2]


CORRUPTIONS = {
    # name: (make the bad bytes from the good ones, pyrunc's reason)
    "truncated": (_truncated, "not valid JSON"),
    "garbage": (lambda good, cid: b"\x00\xff\xfe garbage {{{", "not valid JSON"),
    "empty": (lambda good, cid: b"", "not valid JSON"),
    "array": (lambda good, cid: b"[1, 2, 3]", "not a JSON object"),
    "pid-string": (lambda good, cid: json.dumps({**json.loads(good), "pid": "12"}).encode(),
                   "pid is not a non-negative integer"),
    "negative-pid": (lambda good, cid: json.dumps({**json.loads(good), "pid": -1}).encode(),
                     "pid is not a non-negative integer"),
    "no-pid": (lambda good, cid: json.dumps({k: v for k, v in json.loads(good).items()
                                             if k not in ("pid", "init_process_pid")}).encode(), "no pid"),
    "cgroup-list": (lambda good, cid: json.dumps({**json.loads(good), "cgroup": [1]}).encode(),
                    "cgroup is not a JSON object"),
    "other-id": (lambda good, cid: json.dumps({**json.loads(good), "id": "someone-else"}).encode(),
                 'it is the record of "someone-else"'),
}
RUNC_CORRUPTIONS = ("truncated", "garbage", "empty", "array")


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_corrupt_state_file(runtime, bundle, kind):
    if support.is_runc() and kind not in RUNC_CORRUPTIONS:
        pytest.skip("runc's record has other fields; only byte-level corruption compares")
    cid, marker, pid = _created(runtime, bundle)
    state_file = runtime.root / cid / "state.json"
    good = state_file.read_bytes()
    make, reason = CORRUPTIONS[kind]
    try:
        state_file.write_bytes(make(good, cid))
        expected = f"container {cid}: corrupt state file {state_file}: {reason}"
        for args in (["state", cid], ["kill", cid, "KILL"], ["delete", cid], ["delete", "--force", cid]):
            proc = runtime.run(*args)
            assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
            if not support.is_runc():
                assert proc.stderr == expected + "\n", args
            else:
                lo.error_message(proc.stderr)  # one error record
        # nothing was acted on: the container's init still lives
        assert _alive(pid)
        listed = runtime.run("list", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        assert cid not in [c["id"] for c in json.loads(listed.stdout or "null") or []]
        if support.is_runc():
            assert f"load container {cid}:" in listed.stderr
        else:
            assert listed.stderr == f"pyrunc: warning: {expected}\n"
    finally:
        state_file.write_bytes(good)
        runtime.run("delete", "--force", cid)
    assert lo.leftovers(runtime.root, cid, marker, bundle.path) == {}


# -- a state dir made by another user --------------------------------------------

def test_state_dir_of_another_user(runtime, tmp_path):
    if support.is_runc():
        pytest.skip("runc 1.1 does not check who made a state dir: it acts on the planted record")
    cid = support.unique_id("planted")
    decoy = subprocess.Popen(["sleep", "1000"])  # what a planted record would have us kill
    planted = runtime.root / cid
    try:
        planted.mkdir(parents=True)
        with open(f"/proc/{decoy.pid}/stat") as f:
            start = int(f.read().split(")")[-1].split()[19])
        (planted / "state.json").write_text(json.dumps({
            "id": cid, "status": "running", "pid": decoy.pid, "pid_start": start,
            "bundle": str(tmp_path), "rootfs": str(tmp_path), "created": "2020-01-01T00:00:00Z",
            "owner": "nobody", "cgroup": {"driver": "v1", "id": cid, "root": "/sys/fs/cgroup",
                                          "path": "/", "paths": {"cpu": "/sys/fs/cgroup/cpu"}}}))
        os.chown(planted / "state.json", 12345, 12345)
        os.chown(planted, 12345, 12345)
        expected = f"container {cid}: state directory {planted} is owned by uid 12345, not 0"
        for args in (["state", cid], ["kill", cid, "KILL"], ["delete", cid], ["delete", "--force", cid],
                     ["start", cid]):
            proc = runtime.run(*args)
            assert (proc.returncode, proc.stderr) == (1, expected + "\n"), args
        listed = runtime.run("list", "--format", "json")
        assert listed.returncode == 0
        assert json.loads(listed.stdout) in ([], None)  # runc: null
        assert listed.stderr == f"pyrunc: warning: {expected}\n"
        assert decoy.poll() is None, "pyrunc acted on a planted record"
        assert planted.exists()
    finally:
        decoy.kill()
        decoy.wait()
        shutil.rmtree(planted, ignore_errors=True)


# -- --root on a read-only filesystem ----------------------------------------------

def _in_readonly_root(runtime, tmp_path, *args, sub=""):
    """Run the runtime with --root on a read-only tmpfs (private mount namespace)."""
    mnt = tmp_path / "ro"
    mnt.mkdir(exist_ok=True)
    root = mnt / "root" / sub if sub else mnt / "root"
    argv = [support.python(), "-m", "tests.robustness.rofs_exec", str(mnt), "--",
            runtime.binary, "--root", str(root), *map(str, args)]
    proc = subprocess.run(argv, cwd=support.REPO, capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)
    support.assert_no_traceback(proc.stderr)
    assert lo.mounts_naming(mnt) == []  # the tmpfs died with the namespace
    return root, proc


@pytest.mark.parametrize("sub", ["", "missing"], ids=["existing-root", "root-to-make"])
@pytest.mark.parametrize("verb", ["create", "run"])
def test_root_on_readonly_filesystem(runtime, bundle, tmp_path, verb, sub):
    cid = support.unique_id("ro")
    marker = lo.new_marker()
    lo.tag_config(bundle.config, cid, marker)
    bundle.write()
    root, proc = _in_readonly_root(runtime, tmp_path, verb, "--bundle", bundle.path, cid, sub=sub)
    assert proc.returncode == 1, proc.stderr
    if support.is_runc():
        assert lo.error_message(proc.stderr) == f"mkdir {root if sub else root / cid}: read-only file system"
    else:
        assert proc.stderr == f"root {root}: read-only file system\n"
    assert lo.leftovers(runtime.root, cid, marker, bundle.path) == {}


def test_readonly_root_can_still_be_read(runtime, tmp_path):
    _root, listed = _in_readonly_root(runtime, tmp_path, "list", "--format", "json")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert json.loads(listed.stdout or "null") in (None, [])
    _root, state = _in_readonly_root(runtime, tmp_path, "state", "nosuch")
    assert state.returncode == 1
    assert lo.error_message(state.stderr) == "container does not exist"


# -- create-time arguments -----------------------------------------------------------

@pytest.mark.parametrize("what", ["missing-dir", "a-directory"])
def test_pid_file_that_cannot_be_written(runtime, bundle, tmp_path, what):
    cid = support.unique_id("pidfile")
    marker = lo.new_marker()
    lo.tag_config(bundle.config, cid, marker, args=["sleep", "1000"])
    bundle.write()
    if what == "missing-dir":
        pid_file = tmp_path / "no" / "such" / "dir" / "pid"
        ours, runcs = "no such file or directory", f"open {pid_file.parent}/.pid: no such file or directory"
    else:
        pid_file = tmp_path / "isdir"
        pid_file.mkdir()
        ours, runcs = "is a directory", f"rename {tmp_path}/.isdir {pid_file}: file exists"
    proc = lo.run_to_files(runtime, "create", "--bundle", bundle.path, "--pid-file", pid_file, cid,
                           env=lo.env_with(marker))
    try:
        assert proc.returncode == 1
        if support.is_runc():
            assert lo.error_message(proc.stderr) == runcs
        else:
            assert proc.stderr == f"pid file {pid_file}: {ours}\n"
        assert lo.leftovers(runtime.root, cid, marker, bundle.path) == {}
    finally:
        runtime.run("delete", "--force", cid)


@pytest.mark.parametrize("what", ["regular-file", "missing", "directory"])
def test_console_socket_not_a_socket(runtime, bundle, tmp_path, what):
    cid = support.unique_id("console")
    marker = lo.new_marker()
    lo.tag_config(bundle.config, cid, marker)
    bundle.config["process"]["terminal"] = True
    bundle.write()
    path = tmp_path / "console"
    if what == "regular-file":
        path.write_text("not a socket")
    elif what == "directory":
        path.mkdir()
    proc = lo.run_to_files(runtime, "create", "--bundle", bundle.path, "--console-socket", path, cid,
                           env=lo.env_with(marker))
    assert proc.returncode == 1
    reasons = {"regular-file": "not a socket", "missing": "no such file or directory",
               "directory": "not a socket"}
    if support.is_runc():
        runc_reasons = {"regular-file": "connection refused", "missing": "no such file or directory",
                        "directory": "connection refused"}
        assert lo.error_message(proc.stderr) == f"dial unix {path}: connect: {runc_reasons[what]}"
    else:
        assert proc.stderr == f"console socket {path}: {reasons[what]}\n"
    assert lo.leftovers(runtime.root, cid, marker, bundle.path) == {}


@pytest.mark.parametrize("open_fds,preserve,first_missing", [(0, 1, 3), (0, 5, 3), (1, 2, 4)])
def test_preserve_fds_beyond_open_fds(runtime, bundle, open_fds, preserve, first_missing):
    if support.is_runc():
        pytest.skip("runc 1.1 does not check --preserve-fds against the open fds (it creates anyway)")
    cid = support.unique_id("fds")
    marker = lo.new_marker()
    lo.tag_config(bundle.config, cid, marker)
    bundle.write()
    # sh opens exactly fds 3..3+open_fds-1 for the runtime; nothing else leaks in
    redirects = " ".join(f"{3 + i}</dev/null" for i in range(open_fds))
    argv = ["sh", "-c", f'exec "$@" {redirects}', "sh",
            *runtime.argv("create", "--bundle", bundle.path, "--preserve-fds", preserve, cid)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL,
                          env=lo.env_with(marker))
    assert (proc.returncode, proc.stderr) == (
        1, f"--preserve-fds {preserve}: file descriptor {first_missing} is not open\n")
    assert lo.leftovers(runtime.root, cid, marker, bundle.path) == {}


def test_negative_preserve_fds(runtime, bundle):
    if support.is_runc():
        pytest.skip("runc 1.1 accepts --preserve-fds -1 and creates the container")
    bundle.write()
    proc = runtime.run("create", "--bundle", bundle.path, "--preserve-fds", "-1", "neg")
    assert (proc.returncode, proc.stderr) == (1, "--preserve-fds: must be a non-negative number\n")


# -- a bundle on an odd path -----------------------------------------------------------

@pytest.mark.parametrize("name", ["bundle with spaces", "bündle ☃ 容器", "tab\tand 'quote\""])
def test_bundle_path_with_spaces_and_unicode(runtime, tmp_path, name):
    b = support.Bundle(tmp_path / name)
    cid = support.unique_id("odd")
    marker = lo.new_marker()
    lo.tag_config(b.config, cid, marker, args=["sh", "-c", "echo hi"])
    b.write()
    ran = runtime.run("run", "--bundle", b.path, cid, env=lo.env_with(marker))
    assert (ran.returncode, ran.stdout, ran.stderr) == (0, "hi\n", "")
    assert lo.leftovers(runtime.root, cid, marker, b.path) == {}
    lo.tag_config(b.config, cid, marker, args=["sleep", "1000"])
    b.write()
    made = lo.run_to_files(runtime, "create", "--bundle", b.path, cid, env=lo.env_with(marker))
    try:
        assert made.returncode == 0, made.stderr
        state = runtime.state(cid)
        assert state["bundle"] == str(b.path)
        assert state["status"] == "created"
        listed = runtime.run("list", "--format", "json")
        assert [c["bundle"] for c in json.loads(listed.stdout) if c["id"] == cid] == [str(b.path)]
        if "\t" not in name:  # a table cell: runc's tabwriter expands tabs
            assert str(b.path) in runtime.run("list").stdout
        assert runtime.run("start", cid).returncode == 0
        assert runtime.state(cid)["status"] == "running"
        assert runtime.run("kill", cid, "KILL").returncode == 0
    finally:
        assert runtime.run("delete", "--force", cid).returncode == 0
    assert lo.leftovers(runtime.root, cid, marker, b.path) == {}


# -- a directory that never was a container (a mistyped --root) --------------------

def test_a_directory_that_is_no_container_is_never_emptied(runtime):
    if support.is_runc():
        pytest.skip("runc 1.1 removes <root>/<id> without a state.json, whatever it holds "
                    "(delete: 'container does not exist', and the directory is gone)")
    victim = runtime.root / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "data.txt").write_text("important")
    (victim / "sub" / "more").write_text("also important")
    expected = f"container victim: {victim} is not a container's state directory (no state.json, but data.txt)"
    try:
        for args in (["delete", "victim"], ["delete", "--force", "victim"], ["state", "victim"],
                     ["kill", "victim", "KILL"]):
            proc = runtime.run(*args)
            assert (proc.returncode, proc.stderr) == (1, expected + "\n"), args
        listed = runtime.run("list", "--format", "json")
        assert (listed.returncode, listed.stderr) == (0, f"pyrunc: warning: {expected}\n")
        assert (victim / "data.txt").read_text() == "important"
        assert (victim / "sub" / "more").read_text() == "also important"
    finally:
        shutil.rmtree(victim)
