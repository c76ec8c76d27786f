"""CVE-2025-31133: the runtime masks paths by bind-mounting /dev/null over
them; if the container swaps /dev/null for something else (here: a bind
mount of a host file at /dev/null), the mask would expose or redirect that
file. /dev/null must be verified to be the 1:3 char device first.

How it can fail: runc 1.1.5 is vulnerable (fixed in 1.2.8): the write goes
through its mask into the host file, xfail(strict) for runc. pyrunc with its
guard `dev-null-check` turned off does the same (test_guards_are_load_bearing.py)."""
from __future__ import annotations

import pytest

from tests.conformance import probe
from tests.security.conftest import fails_with_runc

pytestmark = [pytest.mark.requires("root"),
              fails_with_runc("vulnerable (fixed in 1.2.8)")]


def test_fake_dev_null_is_not_used_for_masking(runtime, bundle, tmp_path):
    host_file = tmp_path / "host-file"
    host_file.write_text("HOST-CONTENT\n")
    cfg = bundle.config
    cfg["mounts"].append({"destination": "/dev/null", "type": "bind", "source": str(host_file),
                          "options": ["bind", "rw"]})
    cfg["linux"]["maskedPaths"] = ["/proc/kcore", "/proc/timer_list"]
    proc = probe.run(runtime, bundle, args=["sh", "-c",
                                            "cat /proc/timer_list | head -c 100; echo pwn > /proc/timer_list; true"])
    assert host_file.read_text() == "HOST-CONTENT\n", "a write through the mask reached the host file"
    if proc.returncode == 0:
        assert "HOST-CONTENT" not in proc.stdout, "the masked path showed the host file"
