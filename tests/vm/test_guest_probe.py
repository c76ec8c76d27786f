"""The guest test bed proves itself: pure cgroup v2, systemd as PID 1 reachable
over D-Bus, AppArmor enabled (SELinux in the PYRUNC_VM_LSM=selinux boot), a v2
write that reads back, the runtime under
test runnable.

These run inside the tests/vm guest (tests/vm/run) and skip on a hybrid host.
PYRUNC_VM_SELFTEST_FAIL=1 makes the v2 write assert a wrong value, so the host
command must fail: that proves results really come back from the guest.
"""
from __future__ import annotations

import os
import subprocess

import pytest

from tests import support

pytestmark = pytest.mark.vm

CGROOT = "/sys/fs/cgroup"


def _mount_types() -> list[tuple[str, str]]:
    """(mount point, fs type) of every mount this process sees."""
    out = []
    for line in support.host_mounts().splitlines():
        left, right = line.split(" - ", 1)
        out.append((left.split()[4], right.split()[0]))
    return out


@pytest.mark.requires("cgroup_v2")
def test_the_only_cgroup_hierarchy_is_v2():
    types = _mount_types()
    assert ("/sys/fs/cgroup", "cgroup2") in types
    assert [m for m, t in types if t == "cgroup"] == []  # no v1 hierarchy at all
    controllers = open(f"{CGROOT}/cgroup.controllers").read().split()
    for c in ("cpu", "memory", "pids", "io"):
        assert c in controllers


SELINUX_BOOT = os.environ.get("PYRUNC_VM_LSM") == "selinux"  # tests/vm/run passes PYRUNC_* in


@pytest.mark.skipif(os.environ.get("PYRUNC_VM_GUEST") != "1" or SELINUX_BOOT,
                    reason="only the tests/vm guest's default boot promises AppArmor")
def test_apparmor_is_enabled_with_the_packaged_profiles_loaded():
    """As on a Debian install: the kernel's AppArmor is on, the apparmor
    package's service loaded its profiles at boot, and apparmor_parser is
    there for the tests' own (tests/conformance/test_security_apparmor.py)."""
    assert support.apparmor_enabled()
    with open("/sys/kernel/security/apparmor/profiles") as f:
        assert f.read().splitlines(), "no profile loaded: did apparmor.service run?"
    assert subprocess.run(["apparmor_parser", "--version"], capture_output=True).returncode == 0


@pytest.mark.skipif(os.environ.get("PYRUNC_VM_GUEST") != "1" or not SELINUX_BOOT,
                    reason="only the tests/vm guest booted with PYRUNC_VM_LSM=selinux promises SELinux")
def test_selinux_is_enabled_permissive_with_the_policy_loaded_and_files_labelled():
    """The SELinux boot: SELinux is the LSM (AppArmor is not), systemd loaded
    Debian's policy, the guest is permissive as tests/vm/run asks, and the
    image's files carry the labels build-guest gave them (no relabel at boot)."""
    assert support.selinux_enabled()
    assert not support.apparmor_enabled()
    assert open("/sys/fs/selinux/enforce").read().strip() == "0"
    assert open("/sys/fs/selinux/policyvers").read().strip().isdigit()
    label = os.getxattr("/usr/bin/runc", "security.selinux").rstrip(b"\0").decode()
    assert ":object_r:" in label and "unlabeled_t" not in label, label
    assert open("/proc/1/attr/current").read().strip("\0\n") not in ("kernel", "")


@pytest.mark.requires("systemd")
def test_systemd_is_pid1_and_answers_on_dbus():
    assert open("/proc/1/comm").read().strip() == "systemd"
    out = subprocess.run(
        ["busctl", "get-property", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
         "org.freedesktop.systemd1.Manager", "Version"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('s "'), out.stdout


@pytest.mark.requires("systemd")
def test_jeepney_reaches_systemd():
    """The systemd cgroup driver's D-Bus library is installed and can talk."""
    from jeepney import DBusAddress, Properties
    from jeepney.io.blocking import open_dbus_connection

    manager = DBusAddress("/org/freedesktop/systemd1", bus_name="org.freedesktop.systemd1",
                          interface="org.freedesktop.systemd1.Manager")
    with open_dbus_connection(bus="SYSTEM") as conn:
        reply = conn.send_and_get_reply(Properties(manager).get("Version"), timeout=60)
    signature, version = reply.body[0]
    assert signature == "s" and version


@pytest.mark.requires("cgroup_v2", "root")
def test_v2_write_reads_back():
    parent = f"{CGROOT}/{support.TEST_CGROUP_PARENT}"
    child = f"{parent}/{support.unique_id('vmprobe')}"
    os.makedirs(parent, exist_ok=True)
    with open(f"{parent}/cgroup.subtree_control", "w") as f:
        f.write("+pids")
    os.mkdir(child)
    try:
        with open(f"{child}/pids.max", "w") as f:
            f.write("42")
        got = open(f"{child}/pids.max").read().strip()
    finally:
        os.rmdir(child)
    # the deliberate failure: results must come back to the host
    expected = "43" if os.environ.get("PYRUNC_VM_SELFTEST_FAIL") == "1" else "42"
    assert got == expected


@pytest.mark.requires("cgroup_v2", "systemd")
def test_the_runtime_under_test_is_runnable():
    """pyrunc imports from the read-only checkout (or runc is installed)."""
    binary = support.runtime_binary()
    if support.is_runc():
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "runc" in out.stdout, out.stderr
    else:
        out = subprocess.run([support.python(), "-c", "import pyrunc.cli.clickapp, jsonschema, click, prctl, pyseccomp"],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert os.access(binary, os.X_OK), binary
