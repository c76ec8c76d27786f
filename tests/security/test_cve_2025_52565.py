"""CVE-2025-52565: the runtime bind-mounted the console's pty onto
/dev/console by path, so a /dev/console symlink in the rootfs redirected the
mount to a file of the container's choosing (e.g. over a masked procfs
file). The console must be mounted by fd, never through a symlink, and the
pty must come from devpts (TIOCGPTPEER on the master).

How it can fail: runc 1.1.5 is vulnerable (fixed in 1.2.8): it mounts the
console over /target, xfail(strict) for runc. pyrunc with its guard
`console-by-fd` turned off follows the symlink too (test_guards_are_load_bearing.py)."""
from __future__ import annotations

import os

import pytest

from tests import support
from tests.conformance import probe
from tests.security.conftest import fails_with_runc

pytestmark = [pytest.mark.requires("root"),
              fails_with_runc("vulnerable (fixed in 1.2.8)")]


def test_console_is_not_mounted_through_a_dev_console_symlink(runtime, bundle, tmp_path):
    cfg = bundle.config
    # no /dev tmpfs: the rootfs's own /dev (with the attacker's symlink) is used
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/dev"]
    dev = bundle.rootfs / "dev"
    dev.mkdir(exist_ok=True)
    for name in ("console",):
        if (dev / name).exists() or (dev / name).is_symlink():
            (dev / name).unlink()
    (bundle.rootfs / "target").write_text("TARGET\n")
    os.symlink("/target", dev / "console")
    cid = support.unique_id("c52565")
    probe.prepare(bundle, cid, ["sh", "-c", "grep -c ' /target ' /proc/self/mountinfo; true"])
    cfg["process"]["terminal"] = True
    bundle.write()
    recv = probe.ConsoleReceiver(tmp_path / "console.sock")
    try:
        proc = runtime.run("create", "-b", bundle.path, "--console-socket", recv.path, cid)
        if proc.returncode == 0:
            runtime.run("start", cid, check=True)
            out = recv.wait_output()
            probe.wait_status(runtime, cid, "stopped")
            assert out.strip().splitlines()[-1].strip() == "0", out
        else:
            assert "/dev/console" in proc.stderr, proc.stderr
    finally:
        runtime.run("delete", "--force", cid)
        recv.close()
    assert (bundle.rootfs / "target").read_text() == "TARGET\n"
    assert os.path.islink(dev / "console")
