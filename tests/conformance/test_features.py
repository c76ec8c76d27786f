"""Conformance: what `features` advertises really runs (issue 14, item 10).

The runtime's own `features` document is read, and each advertised namespace
and mount option is put in a container that must run, checked from inside.
A namespace this kernel lacks is advertised too (features.md: "irrelevant to
the availability ... in the host"), so it is skipped here, not failed. The
same test drives runc, whose document differs (runc 1.1.5 has no time
namespace, and knows acl/tmpcopyup): each runtime answers for its own list.
"""
from __future__ import annotations

import json
import os
import shlex

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")

_PROC_NS = {"mount": "mnt", "network": "net"}
# options runc 1.1.5 advertises but cannot run (a runc gap, not the test's)
_RUNC_GAPS = {"defaults": "runc 1.1.5 hands it to the filesystem as data: tmpfs says EINVAL"}


def _features(runtime) -> dict:
    return json.loads(runtime.run("features", check=True).stdout)


def test_each_advertised_namespace_runs(runtime, tmp_path):
    doc = _features(runtime)
    checked = []
    for kind in doc["linux"]["namespaces"]:
        proc_name = _PROC_NS.get(kind, kind)
        if not os.path.exists(f"/proc/self/ns/{proc_name}"):
            continue   # advertised, but this kernel lacks it
        bundle = support.Bundle(tmp_path / f"b-{kind}")
        cfg = bundle.config
        probe.set_namespace(cfg, kind)
        if kind == "user":
            # root in the container is root on the host: the rootfs stays usable
            cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
            cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
        got = probe.probe(runtime, bundle, {"ns": f"readlink /proc/self/ns/{proc_name}"})
        assert got["ns"] != os.readlink(f"/proc/self/ns/{proc_name}"), kind
        checked.append(kind)
    assert {"mount", "pid", "network", "ipc", "uts"} <= set(checked)


def test_each_advertised_mount_option_runs(runtime, bundle, tmp_path):
    doc = _features(runtime)
    src = tmp_path / "src"
    src.mkdir()
    places = {}
    for i, option in enumerate(doc["mountOptions"]):
        if option == "remount":
            continue   # changes an existing mount: a new one has nothing to remount
        if support.is_runc() and option in _RUNC_GAPS:
            continue
        dest = f"/opt{i}"
        if option in ("bind", "rbind"):
            mount = {"destination": dest, "type": "bind", "source": str(src), "options": [option]}
        else:
            mount = {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": [option]}
        bundle.config["mounts"].append(mount)
        places[option] = dest
    checks = {"mountinfo": "cat /proc/self/mountinfo"}
    checks["ro"] = f"touch {shlex.quote(places['ro'])}/x 2>/dev/null && echo wrote || echo refused"
    got = probe.probe(runtime, bundle, checks)
    mounts = probe.parse_mountinfo(got["mountinfo"])
    for option, dest in places.items():
        assert probe.mount_at(mounts, dest) is not None, (option, dest)
    assert got["ro"] == "refused"
    assert "ro" in probe.mount_at(mounts, places["ro"]).options
    assert "nosuid" in probe.mount_at(mounts, places["nosuid"]).options
