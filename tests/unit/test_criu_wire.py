"""pyrunc.criu.wire against the protocol: the messages it encodes are what
CRIU's own rpc_pb2 (Debian's pycriu, generated from rpc.proto) parses, and
what rpc_pb2 serializes decodes to the same fields. rpc_pb2 runs in the
system's python3 (it needs python3-protobuf from dist-packages, which the
venv does not see); without it only the self round-trip runs."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from pyrunc.criu import wire

REQ = {"type": wire.RESTORE, "notify_success": True, "opts": {
    "images_dir_fd": 5, "work_dir_fd": 6, "pid": 4242, "log_level": 4, "log_file": "restore.log",
    "root": "/run/pyrunc/c1/criu-root", "shell_job": True, "leave_running": False, "manage_cgroups": True,
    "manage_cgroups_mode": wire.CG_MODES["soft"], "empty_ns": 0x40000000, "status_fd": -1,
    "ext_mnt": [{"key": "/etc/hosts", "val": "/srv/hosts"}, {"key": "/dev/null", "val": "/dev/null"}],
    "inherit_fd": [{"key": "pipe:[1234]", "fd": 1}], "external": ["net[4026531992]:extRootNetNS"],
    "cg_root": [{"ctrl": "memory", "path": "/pyrunc-test/c1"}], "ps": {"address": "10.0.0.1", "port": 27}}}

PB = """
import json, sys
from google.protobuf import json_format
import pycriu.rpc_pb2 as rpc
mode, name, data = sys.argv[1], sys.argv[2], sys.stdin.buffer.read()
msg = getattr(rpc, name)()
if mode == "parse":
    msg.ParseFromString(data)
    print(json.dumps(json_format.MessageToDict(msg, preserving_proto_field_name=True, use_integers_for_enums=True)))
else:
    json_format.ParseDict(json.loads(data), msg)
    sys.stdout.buffer.write(msg.SerializeToString())
"""


def _pycriu():
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None or subprocess.run([python, "-c", "import pycriu.rpc_pb2, google.protobuf"],
                                        capture_output=True).returncode != 0:
        pytest.skip("Debian's pycriu (package criu, scripts/deps/criu.sh) is not importable by python3")
    return python


def test_round_trip():
    assert wire.decode("criu_req", wire.encode("criu_req", REQ)) == REQ


def test_unknown_fields_are_skipped_and_unknown_names_refused():
    data = wire.encode("criu_resp", {"type": wire.DUMP, "success": True}) + b"\xa0\x06\x01"  # field 100
    assert wire.decode("criu_resp", data) == {"type": wire.DUMP, "success": True}
    with pytest.raises(wire.WireError):
        wire.encode("criu_opts", {"no_such_field": 1})


def test_rpc_pb2_parses_what_we_encode():
    python = _pycriu()
    out = subprocess.run([python, "-c", PB, "parse", "criu_req"], input=wire.encode("criu_req", REQ),
                         capture_output=True, check=True).stdout
    parsed = json.loads(out)
    opts = parsed["opts"]
    assert parsed["type"] == wire.RESTORE and parsed["notify_success"] is True
    assert opts["root"] == REQ["opts"]["root"] and opts["pid"] == 4242 and opts["status_fd"] == -1
    assert opts["ext_mnt"] == REQ["opts"]["ext_mnt"] and opts["inherit_fd"] == REQ["opts"]["inherit_fd"]
    assert opts["manage_cgroups_mode"] == wire.CG_MODES["soft"] and opts["empty_ns"] == 0x40000000
    assert opts["cg_root"] == REQ["opts"]["cg_root"] and opts["ps"] == REQ["opts"]["ps"]


def test_we_decode_what_rpc_pb2_serializes():
    python = _pycriu()
    resp = {"type": wire.NOTIFY, "success": True, "notify": {"script": "post-restore", "pid": 77},
            "cr_errno": 2, "cr_errmsg": "x", "restore": {"pid": 77},
            "version": {"major_number": 3, "minor_number": 17, "sublevel": 1}}
    data = subprocess.run([python, "-c", PB, "serialize", "criu_resp"], input=json.dumps(resp).encode(),
                          capture_output=True, check=True).stdout
    assert wire.decode("criu_resp", data) == resp
