"""CVE-2023-25809: without its own cgroup namespace a container that got a
writable /sys/fs/cgroup could change cgroups it does not own. The cgroupfs
mount must be read-only inside such a container."""
from __future__ import annotations

import pytest

from tests import support
from tests.conformance import probe

pytestmark = [pytest.mark.requires("root"),
              pytest.mark.skipif(support.is_runc(), reason="runc 1.1.5 leaves the cgroup tmpfs writable for root (it fixed the rootless case only)")]


def test_cgroupfs_is_read_only_without_cgroupns(runtime, bundle):
    cfg = bundle.config
    probe.drop_namespace(cfg, "cgroup")
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    cfg["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                          "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
    got = probe.probe(runtime, bundle, {
        "mountinfo": "cat /proc/self/mountinfo",
        "write": "mkdir /sys/fs/cgroup/pids/escape 2>&1 || mkdir /sys/fs/cgroup/escape 2>&1; echo rc=$?",
    })
    mounts = [m for m in probe.parse_mountinfo(got["mountinfo"]) if m.point.startswith("/sys/fs/cgroup")]
    assert mounts, got["mountinfo"]
    for m in mounts:
        assert "ro" in m.options, f"{m.point} is writable: {m.options}"
    assert got["write"].endswith("rc=1")
