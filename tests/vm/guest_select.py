"""pytest plugin for the guest run (tests/vm/guest-job loads it with `-p`):
the default selection inside the cgroup v2 + systemd guest.

The guest is slow (TCG: fork+exec is 20-70x the host's cost), so by default it
runs only what needs it. With PYRUNC_VM_SELECT=1 (set by guest-job when no
pytest arguments were given) a test is kept when it is marked
`requires("cgroup_v2")`, `requires("systemd")`, `requires("apparmor")` or `vm`, or when its node id
matches one of the fnmatch patterns in PYRUNC_VM_BASICS (comma separated;
default: the lifecycle basics that differ on a pure v2 + systemd host -- the
create/start/state/delete flow, which puts the container in a v2 cgroup, and
the mounts, where systemd makes / shared and /sys/fs/cgroup is cgroup2; the
rest of the lifecycle suite behaves the same on the hybrid host and runs there).
Everything else is deselected, which pytest reports in its summary line.
Without PYRUNC_VM_SELECT the plugin does nothing.
"""
from __future__ import annotations

import fnmatch
import os

GUEST_REQUIREMENTS = {"cgroup_v2", "systemd", "apparmor"}
DEFAULT_BASICS = "tests/conformance/test_lifecycle_cli.py::*,tests/conformance/test_lifecycle_mounts.py::*"


def patterns(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def wanted_in_guest(item, basics: list[str]) -> bool:
    if item.get_closest_marker("vm") is not None:
        return True
    for mark in item.iter_markers(name="requires"):
        if GUEST_REQUIREMENTS & set(mark.args):
            return True
    return any(fnmatch.fnmatch(item.nodeid, pat) for pat in basics)


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYRUNC_VM_SELECT") != "1":
        return
    basics = patterns(os.environ.get("PYRUNC_VM_BASICS", DEFAULT_BASICS))
    keep, drop = [], []
    for item in items:
        (keep if wanted_in_guest(item, basics) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
