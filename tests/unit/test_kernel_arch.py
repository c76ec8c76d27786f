"""pyrunc.kernel.arch is the one table of syscall numbers (issue 15): right
per architecture, checked against libseccomp, an unknown machine is one
clear error, and no other module writes a syscall number."""
from __future__ import annotations

import re

import pyseccomp
import pytest

from pyrunc.errors import UnsupportedArchitecture
from pyrunc.kernel import arch
from tests import support


def test_numbers_differ_by_architecture():
    # 155 is pivot_root on x86_64 but getpgid on arm64: the bug this table fixes
    assert arch.nr("pivot_root", "x86_64") == 155
    assert arch.nr("pivot_root", "aarch64") == 41
    assert arch.nr("keyctl", "x86_64") == 250
    assert arch.nr("keyctl", "aarch64") == 219
    assert arch.nr("set_mempolicy", "x86_64") == 238
    assert arch.nr("set_mempolicy", "aarch64") == 237
    assert arch.nr("seccomp", "aarch64") == 277
    assert arch.nr("bpf", "aarch64") == 280
    assert arch.nr("openat2", "x86_64") == arch.nr("openat2", "aarch64") == 437


def test_this_machine_uses_its_own_row():
    for name in arch.SYSCALLS.get(arch.MACHINE, {}):
        assert arch.nr(name) == arch.SYSCALLS[arch.MACHINE][name]


def test_table_matches_libseccomp():
    # libseccomp's tables are generated from the kernel's; loongarch64 is
    # missing from Debian 12's libseccomp (it shares arm64's generic table)
    arches = {"x86_64": pyseccomp.Arch.X86_64, "aarch64": pyseccomp.Arch.AARCH64,
              "riscv64": pyseccomp.Arch.RISCV64, "ppc64le": pyseccomp.Arch.PPC64LE,
              "ppc64": pyseccomp.Arch.PPC64, "s390x": pyseccomp.Arch.S390X,
              "i686": pyseccomp.Arch.X86, "i386": pyseccomp.Arch.X86, "armv7l": pyseccomp.Arch.ARM}
    for machine, table in arch.SYSCALLS.items():
        if machine not in arches:
            continue
        for name, number in table.items():
            assert pyseccomp.resolve_syscall(arches[machine], name) == number, (machine, name)
    assert arch.SYSCALLS["loongarch64"] == arch.SYSCALLS["aarch64"]


def test_an_unknown_architecture_is_one_clear_error():
    with pytest.raises(UnsupportedArchitecture) as info:
        arch.nr("pivot_root", "mips64")
    assert str(info.value) == "pivot_root: pyrunc knows no syscall number for it on mips64"
    with pytest.raises(UnsupportedArchitecture):
        arch.nr("frobnicate", "x86_64")


def test_no_module_writes_a_syscall_number_of_its_own():
    literal = re.compile(r"\bSYS_[a-z]\w*\s*=|__NR_\w+\s*=|\b_?SYS_[A-Z]+\s*=")
    callers = re.compile(r'function\("syscall"|\.syscall\(')
    found, unrouted = [], []
    for rel, text in support.pyrunc_sources():
        if rel == "pyrunc/kernel/arch.py":
            continue
        found += [f"{rel}: {m.group(0)}" for m in literal.finditer(text)]
        if callers.search(text) and "arch.nr(" not in text and "import nr" not in text:
            unrouted.append(str(rel))
    assert not found, found
    assert not unrouted, f"call syscall(2) without pyrunc.kernel.arch: {unrouted}"
