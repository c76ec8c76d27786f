"""`import pyrunc.cgroups` and `load_manager` stay cheap: state/kill/delete use them."""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["jeepney", "ctypes", "pyrunc.cgroups.ebpf", "pyrunc.cgroups.systemd", "click", "jsonschema"]


def loaded_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_package_import_is_light():
    mods = loaded_after("import pyrunc.cgroups")
    assert not mods & set(HEAVY), mods & set(HEAVY)
    assert "pyrunc.cgroups.v1" not in mods and "pyrunc.cgroups.v2" not in mods


def test_loading_a_v1_or_v2_record_does_not_pull_dbus_or_bpf():
    for driver in ("fs", "fs2"):
        rec = {"driver": driver, "id": "x", "root": "/sys/fs/cgroup", "path": "/p/x", "paths": {"": "/nonexistent"}}
        mods = loaded_after(f"from pyrunc.cgroups import load_manager\nm = load_manager({rec!r})\nm.exists(); m.pids()")
        assert not mods & set(HEAVY), (driver, mods & set(HEAVY))


def test_reading_a_cgroup_does_not_load_the_resource_table():
    rec = {"driver": "fs", "id": "x", "root": "/sys/fs/cgroup", "path": "/p/x", "paths": {"freezer": "/nonexistent"}}
    mods = loaded_after(f"from pyrunc.cgroups import load_manager\nload_manager({rec!r}).frozen()")
    assert not mods & {"pyrunc.cgroups.resources", "pyrunc.cgroups.apply", "pyrunc.cgroups.devices",
                       "dataclasses"}, mods
