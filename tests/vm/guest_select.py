"""pytest plugin for the guest run (tests/vm/guest-job loads it with `-p`):
the default selection inside the cgroup v2 + systemd + AppArmor guest.

The guest is slow (TCG: fork+exec is 20-70x the host's cost): the whole suite
does not fit CI's budget, so by default it runs every directory whose tests
drive the kernel, where the host class shows (conformance, security,
robustness, kernel, e2e, vm: ~40 min), and leaves out tests/unit, pure Python
against fakes that behave the same on every host (~4 min more in the guest).
With PYRUNC_VM_SELECT=1 (set by guest-job when no pytest arguments were given)
a test is kept when its file is under one of the PYRUNC_VM_DIRS (comma
separated path prefixes; default DEFAULT_DIRS; empty: none) and matches none
of PYRUNC_VM_EXCLUDE (default: the config fuzzer), when it is marked
`requires("cgroup_v2")`, `requires("systemd")`, `requires("apparmor")`,
`requires("selinux")` (the PYRUNC_VM_LSM=selinux boot) or `vm`, or when its node id matches one of the fnmatch patterns in
PYRUNC_VM_BASICS (comma separated; default: the lifecycle basics that differ
on a pure v2 + systemd host -- the create/start/state/delete flow and the
mounts; with PYRUNC_VM_DIRS= they make the quick selection of the guest's
first version, ~100 tests in ~3 min). Everything else is deselected, which
pytest reports in its summary line. Without PYRUNC_VM_SELECT the plugin does
nothing.
"""
from __future__ import annotations

import fnmatch
import os

GUEST_REQUIREMENTS = {"cgroup_v2", "systemd", "apparmor", "selinux"}
DEFAULT_BASICS = "tests/conformance/test_lifecycle_cli.py::*,tests/conformance/test_lifecycle_mounts.py::*"
DEFAULT_DIRS = "tests/conformance/,tests/security/,tests/robustness/,tests/kernel/,tests/e2e/,tests/vm/"
# left out of the directories above: the config fuzzer's derandomized examples
# include 10000 createRuntime hooks, minutes of emulated fork/exec (>12 min
# measured), and what it fuzzes (config validation) is the same on every host
DEFAULT_EXCLUDE = "tests/robustness/test_robust_fuzz_config.py::*"


def patterns(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def wanted_in_guest(item, basics: list[str], dirs: list[str] = (), exclude: list[str] = ()) -> bool:
    if any(item.nodeid.startswith(d) for d in dirs) \
            and not any(fnmatch.fnmatch(item.nodeid, pat) for pat in exclude):
        return True
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
    dirs = patterns(os.environ.get("PYRUNC_VM_DIRS", DEFAULT_DIRS))
    exclude = patterns(os.environ.get("PYRUNC_VM_EXCLUDE", DEFAULT_EXCLUDE))
    keep, drop = [], []
    for item in items:
        (keep if wanted_in_guest(item, basics, dirs, exclude) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
