"""Host-side checks of the guest test bed that need no guest: the scripts parse,
and the default guest selection keeps what needs the guest and nothing else.
(The guest itself is exercised by tests/vm/run; see tests/vm/test_guest_probe.py.)"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.vm import guest_select

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("script", ["run", "build-guest", "guest-job", "guest/vmtest-run"])
def test_scripts_parse(script):
    shell = "sh" if script == "guest/vmtest-run" else "bash"
    out = subprocess.run([shell, "-n", str(HERE / script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


class FakeItem:
    def __init__(self, nodeid, marks=()):
        self.nodeid = nodeid
        self.marks = list(marks)  # (name, args)

    def get_closest_marker(self, name):
        return next((m for m in self.marks if m[0] == name), None)

    def iter_markers(self, name):
        for n, args in self.marks:
            if n == name:
                yield type("Mark", (), {"args": args})


@pytest.mark.parametrize("item,kept", [
    (FakeItem("tests/kernel/test_x.py::t", [("requires", ("root", "cgroup_v2"))]), True),
    (FakeItem("tests/conformance/test_y.py::t", [("requires", ("systemd",))]), True),
    (FakeItem("tests/vm/test_guest_probe.py::t", [("vm", ())]), True),
    (FakeItem("tests/conformance/test_security_apparmor.py::t", [("requires", ("root",)), ("requires", ("apparmor",))]), True),
    (FakeItem("tests/conformance/test_lifecycle_cli.py::test_create_start_state_delete"), True),
    (FakeItem("tests/conformance/test_lifecycle_mounts.py::test_rootfs_propagation[private]"), True),
    (FakeItem("tests/conformance/test_lifecycle_errors.py::t"), False),
    (FakeItem("tests/unit/test_cgroups_fakefs.py::t"), False),
    (FakeItem("tests/conformance/test_cgroups_resources.py::t", [("requires", ("root", "cgroup_v1"))]), False),
])
def test_quick_selection(item, kept):
    """PYRUNC_VM_DIRS= : only what needs the guest and the lifecycle basics."""
    assert guest_select.wanted_in_guest(item, guest_select.patterns(guest_select.DEFAULT_BASICS)) is kept


@pytest.mark.parametrize("nodeid,kept", [
    ("tests/conformance/test_lifecycle_errors.py::t", True),
    ("tests/robustness/test_robust_races.py::t", True),
    ("tests/e2e/test_podman.py::t", True),
    ("tests/kernel/test_cgroup_v1.py::t", True),
    ("tests/unit/test_cgroups_fakefs.py::t", False),
    ("tests/robustness/test_robust_fuzz_config.py::test_mutated_config_runs_or_fails_cleanly", False),
    ("tests/e2e/cri/test_cri_pods.py::test_exit_code_reported[pyrunc-7]", True),
    ("tests/e2e/cri/test_cri_pods.py::test_pod_lifecycle_leaves_nothing[pyrunc-cni]", True),
    ("tests/e2e/cri/test_cri_pods.py::test_pod_lifecycle_leaves_nothing[runc-cni]", True),
    ("tests/e2e/cri/test_cri_pods.py::test_streaming_exec[runc-tty]", True),
])
def test_default_selection_is_the_kernel_facing_directories(nodeid, kept):
    basics = guest_select.patterns(guest_select.DEFAULT_BASICS)
    dirs = guest_select.patterns(guest_select.DEFAULT_DIRS)
    exclude = guest_select.patterns(guest_select.DEFAULT_EXCLUDE)
    assert guest_select.wanted_in_guest(FakeItem(nodeid), basics, dirs, exclude) is kept


def _ci_exclude() -> list[str]:
    """The PYRUNC_VM_EXCLUDE that .ci/run gives the AppArmor guest."""
    text = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
    return guest_select.patterns(re.search(r'PYRUNC_VM_EXCLUDE="([^"]*)"', text).group(1))


@pytest.mark.parametrize("nodeid,kept", [
    ("tests/conformance/test_lifecycle_errors.py::t", True),
    ("tests/robustness/test_robust_races.py::t", False),
    ("tests/e2e/cri/test_cri_pods.py::test_exit_code_reported[pyrunc-7]", True),
    ("tests/e2e/cri/test_cri_pods.py::test_pod_lifecycle_leaves_nothing[pyrunc-cni]", True),
    ("tests/e2e/cri/test_cri_pods.py::test_failed_start_reason_and_nothing_left[pyrunc-bad-command]", True),
    ("tests/e2e/cri/test_cri_pods.py::test_pod_lifecycle_leaves_nothing[runc-cni]", False),
    ("tests/e2e/cri/test_cri_pods.py::test_streaming_exec[runc-tty]", False),
    ("tests/e2e/cri/test_cri_pods.py::test_failed_start_reason_and_nothing_left[runc-bad-command]", False),
])
def test_ci_selection_keeps_the_cri_suites_pyrunc_half(nodeid, kept):
    """CI's guest run: the default selection but tests/robustness and the CRI
    suite's runc half (the control; it runs on the host in CI)."""
    basics = guest_select.patterns(guest_select.DEFAULT_BASICS)
    dirs = guest_select.patterns(guest_select.DEFAULT_DIRS)
    assert guest_select.wanted_in_guest(FakeItem(nodeid), basics, dirs, _ci_exclude()) is kept
