"""The kernel's syscall numbers, per architecture: the one table.

Place in the flow: every call of a syscall glibc has no wrapper for
(kernel/syscalls.py, init/apply_security.py, cgroups/ebpf.py, features.py) takes
its number from `nr(name)`, in the parent and in the child between fork and
exec. Numbers differ by architecture (155 is pivot_root on x86_64 and
getpgid on arm64), so a number is never written anywhere else, and an
architecture this table lacks fails at the call with one line naming the
syscall and the machine, not with a wrong syscall.

Keyed by `uname -m`. Every entry is checked against libseccomp's tables
(which follow the kernel's) in tests/unit/test_kernel_arch.py; loongarch64
uses the kernel's generic table (asm-generic/unistd.h) like arm64 and riscv64.
Import-light: os and pyrunc.errors only.
"""
import os

from pyrunc.errors import UnsupportedArchitecture

# Numbered after the kernels unified their tables (5.1+): the same on every
# architecture below (alpha, ia64 and mips add an offset; we run on none).
_UNIFIED = {"open_tree": 428, "move_mount": 429, "close_range": 436, "openat2": 437,
            "mount_setattr": 442}

# asm-generic/unistd.h: the table of every architecture ported since arm64
_GENERIC = {"pivot_root": 41, "keyctl": 219, "set_mempolicy": 237, "seccomp": 277,
            "ioprio_set": 30, "sched_setattr": 274, "bpf": 280, **_UNIFIED}
_POWERPC = {"pivot_root": 203, "keyctl": 271, "set_mempolicy": 261, "seccomp": 358,
            "ioprio_set": 273, "sched_setattr": 355, "bpf": 361, **_UNIFIED}
_I386 = {"pivot_root": 217, "keyctl": 288, "set_mempolicy": 276, "seccomp": 354,
         "ioprio_set": 289, "sched_setattr": 351, "bpf": 357, **_UNIFIED}

SYSCALLS = {
    "x86_64": {"pivot_root": 155, "keyctl": 250, "set_mempolicy": 238, "seccomp": 317,
               "ioprio_set": 251, "sched_setattr": 314, "bpf": 321, **_UNIFIED},
    "aarch64": _GENERIC,
    "riscv64": _GENERIC,
    "loongarch64": _GENERIC,
    "ppc64le": _POWERPC,
    "ppc64": _POWERPC,
    "s390x": {"pivot_root": 217, "keyctl": 280, "set_mempolicy": 270, "seccomp": 348,
              "ioprio_set": 282, "sched_setattr": 345, "bpf": 351, **_UNIFIED},
    "i686": _I386,
    "i386": _I386,
    "armv7l": {"pivot_root": 218, "keyctl": 311, "set_mempolicy": 321, "seccomp": 383,
               "ioprio_set": 314, "sched_setattr": 380, "bpf": 386, **_UNIFIED},
}

MACHINE = os.uname().machine
_NUMBERS = SYSCALLS.get(MACHINE, {})


def nr(name, machine=None):
    """This machine's (or `machine`'s) number for syscall `name`;
    UnsupportedArchitecture (one line: the syscall and the machine) when the
    table has none."""
    numbers = _NUMBERS if machine is None else SYSCALLS.get(machine, {})
    number = numbers.get(name)
    if number is None:
        raise UnsupportedArchitecture(name, machine or MACHINE)
    return number
