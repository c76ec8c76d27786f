"""CVE-2023-25809: a container with a user namespace but no cgroup namespace
got a writable /sys/fs/cgroup (runc < 1.1.5 bind-mounted it without applying
`ro`), so its root could make cgroups and raise its own limits.

The rule pyrunc follows (README, Security): on a cgroup v2 host such a
container's cgroupfs is read-only whatever the config says; everywhere else
the config's `ro` is applied to every cgroup mount (on v1: the tmpfs and each
controller's bind). runc 1.1.5 only makes the config's `ro` stick there.

How each test can fail: the v2 one is xfail(strict) against runc 1.1.5, which
leaves the mount writable when the config does not say `ro`, and fails with
pyrunc's guard `cgroupfs-ro` turned off (test_guards_are_load_bearing.py).
The user namespace maps the container's root to the host's root, so a
writable mount really is writable: `mkdir` there is the attack."""
from __future__ import annotations

import pytest

from tests import support
from tests.conformance import probe
from tests.security.conftest import fails_with_runc

pytestmark = [pytest.mark.requires("root", "userns")]

CHECKS = {
    "mountinfo": "cat /proc/self/mountinfo",
    # the container's own cgroup (v2), or its pids controller (v1); cleaned
    # up at once when it worked, so the cgroup can still be removed
    "write": "d=/sys/fs/cgroup; [ -d $d/pids ] && d=$d/pids; "
             "mkdir $d/escape 2>&1 && rmdir $d/escape && echo WRITABLE; echo end",
}


def _config(bundle, options):
    cfg = bundle.config
    probe.drop_namespace(cfg, "cgroup")
    probe.set_namespace(cfg, "user")
    # identity mapping: the container's root is the host's root, so nothing
    # but the mount's read-only flag stands between it and the host's cgroupfs
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 65536}]
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys/fs/cgroup"]
    cfg["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                          "options": options})


def _cgroup_mounts(text):
    mounts = [m for m in probe.parse_mountinfo(text) if m.point.startswith("/sys/fs/cgroup")]
    # runc 1.1.5 leaves the v1 tmpfs under the controllers writable: the
    # cgroup mounts are what the CVE is about
    return [m for m in mounts if m.fstype in ("cgroup", "cgroup2") or not support.is_runc()]


def _assert_read_only(got):
    mounts = _cgroup_mounts(got["mountinfo"])
    assert mounts, got["mountinfo"]
    for m in mounts:
        assert "ro" in m.options, f"{m.point} is writable: {m.options}"
    assert "WRITABLE" not in got["write"], got["write"]


@pytest.mark.requires("cgroup_v2")
@fails_with_runc("without `ro` in the config it binds the host's cgroup2 tree writable")
def test_cgroup2_is_read_only_without_cgroupns_whatever_the_config_says(runtime, bundle):
    _config(bundle, ["nosuid", "noexec", "nodev", "relatime"])  # no "ro"
    _assert_read_only(probe.probe(runtime, bundle, CHECKS))


@pytest.mark.parametrize("userns", [True, False], ids=["userns", "no-userns"])
def test_cgroupfs_is_read_only_when_the_config_says_ro(runtime, bundle, userns):
    """runc's rule on v1 and v2 alike (since 1.1.5 also with a user namespace)."""
    _config(bundle, ["nosuid", "noexec", "nodev", "relatime", "ro"])
    if not userns:
        probe.drop_namespace(bundle.config, "user")
        del bundle.config["linux"]["uidMappings"], bundle.config["linux"]["gidMappings"]
    _assert_read_only(probe.probe(runtime, bundle, CHECKS))
