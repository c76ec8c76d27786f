"""The moby -> OCI converter (tests/seccomp_profiles.py) against podman's own
conversion, and both real-world profiles through the compiler."""
from __future__ import annotations

import pytest

from pyrunc.security.seccomp.compile import compile_seccomp
from tests import seccomp_profiles as profiles

needs_moby = pytest.mark.skipif(not profiles.MOBY_PROFILE.exists(),
                                reason="containers-common's seccomp.json is absent (scripts/deps/security.sh)")


@pytest.mark.requires("shared")
@needs_moby
def test_converter_reproduces_podmans_profile():
    # podman-config.json was made by podman 4.3.1 from this very file with
    # the default capabilities: our conversion must be identical
    assert profiles.docker_default_seccomp() == profiles.podman_seccomp()


MOBY = {
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_PTRACE"]}},
        {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
        {"names": ["vhangup"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "excludes": {"caps": ["CAP_SYS_TTY_CONFIG"]}},
        {"names": ["new_thing"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
        {"names": ["old_thing"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "4.8"}},
        {"name": "single", "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["arm64"]}},
    ],
}


def _names(oci):
    return [n for rule in oci["syscalls"] for n in rule["names"]]


def test_includes_and_excludes_on_amd64():
    oci = profiles.moby_to_oci(MOBY, ["CAP_CHOWN"], machine="x86_64", kernel=(6, 1))
    assert oci["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    assert _names(oci) == ["read", "arch_prctl", "vhangup", "single"]


def test_includes_and_excludes_on_arm64_with_more_caps():
    oci = profiles.moby_to_oci(MOBY, ["CAP_SYS_PTRACE", "CAP_SYS_TTY_CONFIG"],
                               machine="aarch64", kernel=(4, 4))
    assert oci["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert _names(oci) == ["read", "ptrace", "old_thing"]


def test_architectures_and_archmap_together_are_refused():
    with pytest.raises(ValueError):
        profiles.moby_to_oci(dict(MOBY, architectures=["SCMP_ARCH_X86_64"]), [])


@pytest.mark.requires("shared")
def test_podman_profile_compiles():
    c = compile_seccomp(profiles.podman_seccomp())
    assert c.instructions > 100 and not c.uses_notify


@needs_moby
def test_docker_profile_with_all_caps_compiles():
    from pyrunc.security.capabilities import CAPABILITY_NAMES
    c = compile_seccomp(profiles.docker_default_seccomp(list(CAPABILITY_NAMES)))
    assert c.instructions > 100
