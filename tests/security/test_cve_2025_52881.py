"""CVE-2025-52881: the runtime's writes to /proc (sysctls, LSM attrs) could be
redirected by mounts the config or the container put over those procfs
files. Every such write must go to a verified procfs file; here a host file
is bind-mounted over /proc/sys/kernel/domainname and a sysctl asks for a
write there — the host file must stay untouched (refusing is fine)."""
from __future__ import annotations

import pytest

from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


def test_sysctl_write_is_not_redirected_to_a_bind_mounted_file(runtime, bundle, tmp_path):
    host_file = tmp_path / "not-procfs"
    host_file.write_text("ORIGINAL\n")
    cfg = bundle.config
    cfg["linux"]["readonlyPaths"] = [p for p in cfg["linux"].get("readonlyPaths", []) if p != "/proc/sys"]
    cfg["mounts"].append({"destination": "/proc/sys/kernel/domainname", "type": "bind",
                          "source": str(host_file), "options": ["bind", "rw"]})
    cfg["linux"]["sysctl"] = {"kernel.domainname": "redirected"}
    probe.run(runtime, bundle, args=["true"])
    assert host_file.read_text() == "ORIGINAL\n", "the sysctl write landed in a non-procfs file"
