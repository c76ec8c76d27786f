"""Seccomp profiles the tests and bench/seccomp.py run: podman's generated
`linux.seccomp`, and Docker's default profile converted from moby form to
OCI form the way podman (containers/common pkg/seccomp) converts it.

Moby form: `archMap` [{architecture, subArchitectures}], and syscall groups
with `includes`/`excludes` of {arches, caps, minKernel}. Converting for one
host keeps the native arch + its sub-arches, and a group only if
  - excludes.arches does not hold the host arch, excludes.caps shares
    nothing with the bounding set, excludes.minKernel is above the kernel;
  - includes.arches (if any) holds the host arch, includes.caps (if any) are
    all in the bounding set, includes.minKernel (if any) is <= the kernel.
`name` or `names` become OCI `names`; action, errnoRet and args are kept.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

from tests import support

MOBY_PROFILE = Path("/usr/share/containers/seccomp.json")
PODMAN_CONFIG = support.SHARED / "fixtures" / "clients" / "podman-config.json"

# `uname -m` -> (moby's arch word, SCMP_ARCH_ of the native arch)
_NATIVE = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
    "i686": ("386", "SCMP_ARCH_X86"),
}


def podman_seccomp() -> dict:
    return json.loads(PODMAN_CONFIG.read_text())["linux"]["seccomp"]


def podman_bounding() -> list[str]:
    return json.loads(PODMAN_CONFIG.read_text())["process"]["capabilities"]["bounding"]


def _kernel_version() -> tuple[int, int]:
    release = os.uname().release.split("-")[0].split(".")
    return int(release[0]), int(release[1]) if len(release) > 1 else 0


def _version(text: str) -> tuple[int, int]:
    parts = text.split(".")
    return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0


def moby_to_oci(moby: dict, bounding: list[str], machine: str | None = None,
                kernel: tuple[int, int] | None = None) -> dict:
    """Docker/moby seccomp profile -> OCI linux.seccomp for this host."""
    machine = machine or platform.machine()
    kernel = kernel or _kernel_version()
    arch_word, native = _NATIVE.get(machine, (machine, None))
    if moby.get("architectures") and moby.get("archMap"):
        raise ValueError("'architectures' and 'archMap' were both given; use one")
    out: dict = {"defaultAction": moby["defaultAction"]}
    if moby.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = moby["defaultErrnoRet"]
    arches = list(moby.get("architectures") or [])
    for entry in moby.get("archMap") or []:
        if entry["architecture"] == native:
            arches = [entry["architecture"], *(entry.get("subArchitectures") or [])]
            break
    if arches:
        out["architectures"] = arches
    for key in ("flags", "listenerPath", "listenerMetadata"):
        if moby.get(key):
            out[key] = moby[key]
    caps = set(bounding)
    syscalls = []
    for call in moby.get("syscalls") or []:
        inc = call.get("includes") or {}
        exc = call.get("excludes") or {}
        if arch_word in (exc.get("arches") or []):
            continue
        if caps & set(exc.get("caps") or []):
            continue
        if exc.get("minKernel") and kernel >= _version(exc["minKernel"]):
            continue
        if inc.get("arches") and arch_word not in inc["arches"]:
            continue
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if inc.get("minKernel") and kernel < _version(inc["minKernel"]):
            continue
        names = list(call.get("names") or [])
        if call.get("name"):
            names.insert(0, call["name"])
        if not names:
            continue
        rule = {"names": names, "action": call["action"]}
        if call.get("errnoRet") is not None:
            rule["errnoRet"] = call["errnoRet"]
        if call.get("args"):
            # podman's Go structs drop a zero valueTwo (omitempty)
            rule["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op")
                             if k in a and not (k == "valueTwo" and not a[k])}
                            for a in call["args"]]
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out


def docker_default_seccomp(bounding: list[str] | None = None) -> dict:
    """Debian's containers-common copy of Docker's default profile, in OCI
    form for this host and podman's default capabilities."""
    moby = json.loads(MOBY_PROFILE.read_text())
    return moby_to_oci(moby, bounding if bounding is not None else podman_bounding())
