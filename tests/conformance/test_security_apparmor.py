"""Conformance: process.apparmorProfile and `exec --apparmor` on a host where
AppArmor is enabled (the tests/vm guest: Debian's kernel with the apparmor
package). Each test loads a profile of its own with apparmor_parser that
allows everything but reading one file, runs a container under it, and proves
from inside that the profile is in force: /proc/self/attr/current names it and
reading the file is denied while its neighbour reads fine.

How they can fail: without the runtime's write of `exec PROFILE` to the
process's attr/apparmor/exec (init/apply_security.apply_lsm), the container
runs unconfined: attr/current says "unconfined" and the file reads. Where
AppArmor is absent the field is refused instead (tests/unit, tests/kernel).
"""
from __future__ import annotations

import subprocess
import uuid

import pytest

from tests.conformance import probe

pytestmark = [pytest.mark.requires("root"), pytest.mark.requires("apparmor")]

SECRET = "the secret"
OPEN = "the neighbour"
CHECKS = {
    "current": "cat /proc/self/attr/current; echo",
    "secret": "cat /aa/secret 2>&1; rc=$?; echo; echo rc=$rc",
    "open": "cat /aa/open; echo",
}


@pytest.fixture
def profile(tmp_path):
    """A loaded profile that allows everything but reading /aa/secret
    (a path as the container sees it); unloaded afterwards."""
    name = f"pyrunc-test-{uuid.uuid4().hex[:8]}"
    text = (f"profile {name} flags=(attach_disconnected,mediate_deleted) {{\n"
            "  file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n"
            "  deny /aa/secret r,\n"
            "}\n")
    path = tmp_path / f"{name}.profile"
    path.write_text(text)
    subprocess.run(["apparmor_parser", "--replace", str(path)], check=True,
                   capture_output=True, text=True)
    try:
        yield name
    finally:
        subprocess.run(["apparmor_parser", "--remove", str(path)], capture_output=True)


def _files(bundle):
    (bundle.rootfs / "aa").mkdir()
    (bundle.rootfs / "aa" / "secret").write_text(SECRET)
    (bundle.rootfs / "aa" / "open").write_text(OPEN)


def _assert_confined(got, name):
    assert got["current"].strip() == f"{name} (enforce)", got
    assert SECRET not in got["secret"], got
    assert "Permission denied" in got["secret"] and "rc=1" in got["secret"].splitlines(), got
    assert got["open"].strip() == OPEN, got


def test_profile_confines_the_container_process(runtime, bundle, profile):
    _files(bundle)
    bundle.config["process"]["apparmorProfile"] = profile
    _assert_confined(probe.probe(runtime, bundle, CHECKS), profile)


def test_without_a_profile_the_container_is_unconfined(runtime, bundle, profile):
    # the control: the same checks read the file when no profile is asked for
    _files(bundle)
    got = probe.probe(runtime, bundle, CHECKS)
    assert got["current"].strip() == "unconfined", got
    assert got["secret"].splitlines() == [SECRET, "rc=0"], got


def test_exec_apparmor_confines_the_exec_process(runtime, bundle, profile):
    _files(bundle)
    with probe.running(runtime, bundle, "aa") as cid:
        proc = probe.call(runtime, "exec", "--apparmor", profile, cid,
                          "sh", "-c", probe.script({**CHECKS, "init": "cat /proc/1/attr/current; echo"}))
    assert proc.returncode == 0, proc.stderr
    got = probe.sections(proc.stdout)
    _assert_confined(got, profile)
    assert got["init"].strip() == "unconfined", got  # only the exec'd process
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_a_profile_that_is_not_loaded_fails_create(runtime, bundle):
    name = f"pyrunc-test-absent-{uuid.uuid4().hex[:8]}"
    bundle.config["process"]["apparmorProfile"] = name
    assert "apparmor failed to apply profile" in probe.create_error(runtime, bundle, "aa")
