"""Issue 15: the kernel's clone flags and capability names are defined once,
in pyrunc.kernel, and the rest of pyrunc imports them."""
from __future__ import annotations

import re

from pyrunc.kernel import capnames, flags
from tests import support


def test_capability_numbers_follow_the_kernel_header():
    assert capnames.CAPABILITY_NUMBERS["CAP_CHOWN"] == 0
    assert capnames.CAPABILITY_NUMBERS["CAP_SYS_ADMIN"] == 21
    assert capnames.CAPABILITY_NUMBERS["CAP_CHECKPOINT_RESTORE"] == 40
    assert len(set(capnames.CAPABILITY_NAMES)) == len(capnames.CAPABILITY_NAMES)


def test_clone_flags_cover_every_namespace_type():
    assert set(flags.NAMESPACE_FLAGS) == set(flags.NAMESPACE_PROC_NAMES)
    assert flags.NAMESPACE_FLAGS["mount"] == 0x00020000
    assert flags.NAMESPACE_FLAGS["time"] == 0x00000080


def test_nothing_else_defines_them():
    # a second table would spell out these rarely-used names or the clone flags
    # again (default_spec.py lists a default SET of capabilities, not the names)
    cap = re.compile(r'"(CAP_)?(DAC_READ_SEARCH|LINUX_IMMUTABLE|CHECKPOINT_RESTORE)"')
    clone = re.compile(r"0x0*20000\b|0x0*2000000\b|0x0*4000000\b|0x0*8000000\b|0x0*10000000\b")
    found = []
    for rel, text in support.pyrunc_sources():
        if rel != "pyrunc/kernel/capnames.py" and cap.search(text):
            found.append(f"{rel}: capability names")
        if rel != "pyrunc/kernel/flags.py" and clone.search(text):
            found.append(f"{rel}: clone flags")
    assert not found, found


def test_c_libraries_are_bound_only_in_kernel_libc():
    # pyrunc.security.seccomp.compile's find_library shim only steers pyseccomp's own loading
    # (it saves the ~10 ms `ldconfig -p` costs); it binds nothing for pyrunc
    binding = re.compile(r"\bCDLL\(|\bdlopen\(|^\s*import ctypes|^\s*from ctypes", re.M)
    allowed = {"pyrunc/kernel/libc.py", "pyrunc/security/seccomp/compile.py"}
    found = [rel for rel, text in support.pyrunc_sources() if binding.search(text)]
    assert set(found) <= allowed, sorted(set(found) - allowed)
