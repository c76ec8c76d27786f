"""The exact call shapes podman/conmon and containerd's shim use (clients.md),
replayed against the runtime binary: their environment, cwd, global flags,
`--log-format json` records and the phrases the clients match on.
Runs against runc too (PYRUNC_TEST_RUNTIME=runc).
"""
from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from tests import support

pytestmark = [pytest.mark.requires("root")]


class Result:
    def __init__(self, returncode, stderr):
        self.returncode = returncode
        self.stderr = stderr


_seq = iter(range(1_000_000))


def _call(runtime, *args, env=None, cwd=None, global_args=(), out=None):
    """Run like a client, stdio in files, never pipes: a container's init
    inherits them, and reading a pipe to EOF would wait for it to exit."""
    base = f"/tmp/pyrunc-callshape-{os.getpid()}-{next(_seq)}"
    err_path = base + ".err"
    try:
        with open(out or os.devnull, "w") as f, open(err_path, "w+") as err:
            proc = subprocess.run(runtime.argv(*args, global_args=global_args), env=env, cwd=cwd,
                                  stdin=subprocess.DEVNULL, stdout=f, stderr=err, timeout=60)
            err.seek(0)
            text = err.read()
    finally:
        os.unlink(err_path)
    support.assert_no_traceback(text)
    return Result(proc.returncode, text)


def _error_records(log):
    if not os.path.exists(log):
        return []
    records = [json.loads(line) for line in open(log) if line.strip()]
    return [r for r in records if r.get("level") == "error"]


def test_podman_cleanup_environment(runtime, tmp_path):
    # `podman container cleanup` runs `delete --force` with no PATH and no HOME
    env = {"PWD": str(tmp_path), "XDG_RUNTIME_DIR": ""}
    proc = _call(runtime, "delete", "--force", "never-existed", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = _call(runtime, "state", "never-existed", env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "does not exist" in proc.stderr
    version = subprocess.run([runtime.binary, "--version"], env=env, capture_output=True, text=True)
    assert version.stdout.startswith(f"{support.runtime_name()} version ")


def test_containerd_shim_shape(runtime, bundle, tmp_path):
    """cwd = bundle, relative root.path, --log B/log.json --log-format json."""
    cid = support.unique_id("shim")
    cfg = bundle.config
    cfg["root"]["path"] = "rootfs"
    cfg["process"]["args"] = ["sleep", "1000"]
    cfg["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    bundle.write()
    b = str(bundle.path)
    g = ("--log", f"{b}/log.json", "--log-format", "json")
    env = dict(os.environ, PATH="/opt/containerd/bin:" + os.environ.get("PATH", ""))
    try:
        proc = _call(runtime, "create", "--bundle", b, "--pid-file", f"{b}/init.pid", cid,
                     env=env, cwd=b, global_args=g, out=tmp_path / "init.out")
        assert proc.returncode == 0, proc.stderr
        pid = int(open(f"{b}/init.pid").read())
        assert runtime.state(cid)["pid"] == pid
        assert _call(runtime, "start", cid, env=env, cwd=b, global_args=g).returncode == 0
        assert _call(runtime, "kill", cid, "9", env=env, cwd=b, global_args=g).returncode == 0
        deadline = time.monotonic() + 10
        while runtime.state(cid)["status"] != "stopped":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # a stopped container: clients match this phrase
        proc = _call(runtime, "kill", cid, "9", env=env, cwd=b, global_args=g)
        assert proc.returncode != 0
        assert "container not running" in proc.stderr
        assert "container not running" in _error_records(f"{b}/log.json")[-1]["msg"]
        assert _call(runtime, "delete", cid, env=env, cwd=b, global_args=g).returncode == 0
        assert _call(runtime, "delete", "--force", cid, env=env, cwd=b, global_args=g).returncode == 0
    finally:
        runtime.run("delete", "--force", cid)


def test_create_failure_is_the_last_json_error(runtime, bundle):
    # containerd shows the last "error" record of log.json; podman maps
    # "no such file or directory" / "executable file not found" to exit 127
    cid = support.unique_id("shim")
    cfg = bundle.config
    cfg["process"]["args"] = ["/no/such/binary"]
    cfg["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    bundle.write()
    b = str(bundle.path)
    log = f"{b}/log.json"
    proc = _call(runtime, "create", "--bundle", b, "--pid-file", f"{b}/init.pid", cid,
                 cwd=b, global_args=("--log", log, "--log-format=json"))
    try:
        assert proc.returncode != 0
        errors = _error_records(log)
        assert errors, open(log).read() if os.path.exists(log) else "no log"
        assert "no such file or directory" in errors[-1]["msg"]
        assert "no such file or directory" in proc.stderr
        # nothing left: the id is free again (conmon re-creates with the same id)
        assert _call(runtime, "state", cid).returncode != 0
    finally:
        runtime.run("delete", "--force", cid)


def test_podman_create_shape_absolute_root_cwd_elsewhere(runtime, bundle, tmp_path):
    # podman: root.path is an absolute, already-prepared dir; cwd is the
    # client's; conmon reads the pid file after create exits 0
    cid = support.unique_id("pod")
    cfg = bundle.config
    cfg["root"]["path"] = str(bundle.rootfs)
    cfg["process"]["args"] = ["sh", "-c", "echo $$"]
    cfg["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    bundle.write()
    pid_file = tmp_path / "pidfile"
    out = tmp_path / "out.txt"
    try:
        proc = _call(runtime, "create", "--bundle", bundle.path, "--pid-file", pid_file, cid,
                     cwd="/", out=out)
        assert proc.returncode == 0, proc.stderr
        assert int(pid_file.read_text()) == runtime.state(cid)["pid"]
        assert _call(runtime, "start", cid, cwd="/").returncode == 0
        deadline = time.monotonic() + 10
        while out.read_text() != "1\n":
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.02)
    finally:
        runtime.run("delete", "--force", cid)
