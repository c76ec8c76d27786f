"""Each CVE replay fails when pyrunc's guard against that CVE is turned off.

A replay that passes proves something only if it can fail. Where runc 1.1.5
is vulnerable the replay is also xfail(strict) against runc; here, for every
replay, pyrunc runs it again with its guarding line(s) turned off through the
test-only switch (pyrunc/testhooks.py, driven by tests/security/conftest.py)
and the replay must FAIL. Several defences are layered; where one alone still
stops the attack, all the layers are turned off together and the case says so.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import support
from tests.security.conftest import GUARDS_ENV

pytestmark = [pytest.mark.requires("root"),
              pytest.mark.skipif(support.is_runc(), reason="pyrunc's own guards")]

S = "tests/security/"
CASES = [
    (S + "test_cve_2019_5736.py::test_created_init_exe_is_unreachable_from_the_container", "dumpable"),
    (S + "test_cve_2019_16884.py::test_symlinked_proc_or_sys_in_rootfs_is_refused", "proc-symlink"),
    (S + "test_cve_2019_16884.py::test_non_procfs_mount_over_proc_is_refused", "proc-mounts"),
    (S + "test_cve_2021_30465.py::test_mount_through_symlink_lands_inside_rootfs", "resolve-in-root"),
    (S + "test_cve_2021_30465.py::test_bind_file_target_through_symlink_stays_inside", "resolve-in-root"),
    (S + "test_cve_2021_30465.py::test_bind_source_below_rootfs_through_symlink_stays_inside", "resolve-in-root"),
    (S + "test_cve_2022_29162.py::test_exec_with_added_caps_has_empty_inheritable", "exec-cap-inheritable"),
    (S + "test_cve_2023_25809.py::test_cgroupfs_is_read_only_when_the_config_says_ro", "cgroupfs-ro"),
    pytest.param(S + "test_cve_2023_25809.py::test_cgroup2_is_read_only_without_cgroupns_whatever_the_config_says",
                 "cgroupfs-ro", marks=pytest.mark.requires("cgroup_v2")),
    (S + "test_cve_2024_21626.py::test_no_host_fd_survives_into_the_container", "close-fds"),
    # three layers, each enough alone: the caller's fds closed at fork, the
    # missing cwd made inside the rootfs, the cwd checked after chdir
    (S + "test_cve_2024_21626.py::test_cwd_through_a_leaked_fd_is_refused",
     "close-fds,resolve-in-root,cwd-check"),
    (S + "test_cve_2025_31133.py::test_fake_dev_null_is_not_used_for_masking", "dev-null-check"),
    (S + "test_cve_2025_52565.py::test_console_is_not_mounted_through_a_dev_console_symlink", "console-by-fd"),
    (S + "test_cve_2025_52881.py::test_sysctl_write_is_not_redirected_to_a_mount_over_procfs", "procfs-write"),
]


@pytest.mark.parametrize("node,guards", CASES, ids=lambda v: v.rsplit("::", 1)[-1] if "::" in v else v)
def test_replay_fails_without_its_guard(node, guards):
    env = dict(os.environ, **{GUARDS_ENV: guards})
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs", node],
                          cwd=support.REPO, env=env, capture_output=True, text=True, timeout=900)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    assert proc.returncode == 1 and " failed" in summary and "error" not in summary, (
        f"with {guards} off, {node} did not fail:\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
