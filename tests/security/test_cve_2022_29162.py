"""CVE-2022-29162: `runc exec --cap` put the added capabilities into the
inheritable set too, so a program with inheritable file capabilities gained
them on execve. The inheritable set must hold exactly what the config asks.

How it can fail: runc 1.1.5 has the fix (1.1.2) and passes. pyrunc with its
guard `exec-cap-inheritable` turned off adds `exec --cap` to the inheritable
set as runc < 1.1.2 did, and the exec test fails (test_guards_are_load_bearing.py)."""
from __future__ import annotations

import json
import subprocess

import pytest

from pyrunc.security.capabilities import CAPABILITY_NUMBERS as CAP
from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


def _inh(status_text):
    return int(probe.parse_status(status_text)["CapInh"], 16)


def test_run_has_empty_inheritable(runtime, bundle):
    got = probe.probe(runtime, bundle, {"status": "cat /proc/self/status"})
    assert _inh(got["status"]) == 0


def test_exec_with_added_caps_has_empty_inheritable(runtime, bundle, tmp_path):
    cid = support.unique_id("cap")
    probe.prepare(bundle, cid, ["sleep", "30"])
    bundle.write()
    # stdio to /dev/null: the detached container would hold a pipe open
    assert runtime.run("run", "-d", "-b", bundle.path, cid, capture_output=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    try:
        proc = runtime.run("exec", "--cap", "CAP_NET_RAW", "--cap", "CAP_SYS_ADMIN", cid,
                           "cat", "/proc/self/status", check=True)
        st = probe.parse_status(proc.stdout)
        assert int(st["CapInh"], 16) == 0
        assert int(st["CapEff"], 16) & (1 << CAP["CAP_NET_RAW"])
        process = {"args": ["cat", "/proc/self/status"], "cwd": "/", "env": ["PATH=/bin:/usr/bin"],
                   "user": {"uid": 0, "gid": 0},
                   "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                    "permitted": ["CAP_KILL"]}}
        pfile = tmp_path / "process.json"
        pfile.write_text(json.dumps(process))
        proc = runtime.run("exec", "--process", pfile, cid, check=True)
        assert int(probe.parse_status(proc.stdout)["CapInh"], 16) == 0
    finally:
        runtime.run("delete", "--force", cid)
