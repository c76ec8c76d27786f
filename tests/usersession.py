"""A throwaway user's systemd user manager, for the rootless tests (issue 18).

On a host with systemd as PID 1 and pure cgroup v2 (the tests/vm guest, and
what most workstations are), a user's containers get their cgroup from the
user's own systemd manager (user@UID.service, which systemd delegates the
controllers in its Delegate= to) over the user's D-Bus session bus at
$XDG_RUNTIME_DIR/bus (Debian's dbus-user-session). A login would start both;
the tests start them as `loginctl enable-linger` does, with
`systemctl start user@UID.service` (it pulls user-runtime-dir@UID.service,
which makes /run/user/UID), and stop both at the end, which kills what the
user left in them and removes /run/user/UID.

Elsewhere (this hybrid, systemd-less host) `available()` is False and the
tests keep their own XDG_RUNTIME_DIR.
"""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def available() -> bool:
    """systemd as PID 1 and cgroup v2 only: where a user manager gets a delegated cgroup."""
    return os.path.isdir("/run/systemd/system") and os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def runtime_dir(uid: int) -> Path:
    return Path(f"/run/user/{uid}")


def manager_cgroup(uid: int) -> Path:
    """user@UID.service's cgroup directory (systemd's standard layout)."""
    return Path(f"/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service")


def delegated(uid: int) -> list[str]:
    """The controllers the user's manager got (its cgroup.controllers)."""
    return (manager_cgroup(uid) / "cgroup.controllers").read_text().split()


def start(uid: int, timeout: float = 120.0) -> dict:
    """Start the user's manager and wait for its bus; the environment a
    login would give the user's processes for it."""
    subprocess.run(["systemctl", "start", f"user@{uid}.service"], check=True, capture_output=True,
                   timeout=timeout)
    bus = runtime_dir(uid) / "bus"
    deadline = time.monotonic() + timeout
    while not bus.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"user@{uid}.service started, but {bus} never appeared "
                                 "(is dbus-user-session installed?)")
        time.sleep(0.2)
    return {"XDG_RUNTIME_DIR": str(runtime_dir(uid)), "DBUS_SESSION_BUS_ADDRESS": f"unix:path={bus}"}


def stop(uid: int) -> list[str]:
    """Stop the user's manager and runtime dir; what is left of them."""
    subprocess.run(["systemctl", "stop", f"user@{uid}.service", f"user-runtime-dir@{uid}.service"],
                   capture_output=True, timeout=120)
    left = []
    if runtime_dir(uid).exists():
        left.append(f"{runtime_dir(uid)} still there")
    if manager_cgroup(uid).parent.exists():
        # systemd removes the user's slice once its last unit is gone
        for _ in range(50):
            if not manager_cgroup(uid).parent.exists():
                break
            time.sleep(0.1)
        else:
            left.append(f"cgroup {manager_cgroup(uid).parent} still there")
    return left
