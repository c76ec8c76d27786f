"""The procfs check in front of every runtime write to /proc (CVE-2019-19921,
CVE-2025-52881): a file that is not on procfs is refused."""
from __future__ import annotations

import os

import pytest

from pyrunc.errors import SecurityError
from pyrunc.init import apply_security as security


def test_procfs_file_passes():
    fd = os.open("/proc/self/attr/current", os.O_RDONLY | os.O_CLOEXEC)
    try:
        security.check_procfs_fd(fd, "/proc/self/attr/current", "check")
    finally:
        os.close(fd)


def test_other_file_is_refused(tmp_path):
    path = tmp_path / "not-proc"
    path.write_text("x")
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with pytest.raises(SecurityError) as exc:
            security.check_procfs_fd(fd, str(path), "sysctl kernel.domainname")
    finally:
        os.close(fd)
    assert str(exc.value) == f"sysctl kernel.domainname: {path} is not on procfs, refusing to write"
