"""pyrunc.security.seccomp.cache: a hit returns the same program without libseccomp;
anything odd is a miss; bad profiles are never cached."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pyrunc.security.seccomp import cache as seccomp_cache
from pyrunc.errors import ConfigError
from pyrunc.security.seccomp.compile import compile_seccomp

PROFILE = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
           "syscalls": [{"names": ["read", "write", "no_such_call"], "action": "SCMP_ACT_ALLOW"}]}

pytestmark = pytest.mark.skipif(seccomp_cache.cache_key(PROFILE) is None,
                                reason="libseccomp.so.2 not found in the usual library dirs")


def test_hit_equals_a_fresh_compile(tmp_path):
    first = seccomp_cache.compile_cached(PROFILE, cache_dir=str(tmp_path))
    assert len(list(tmp_path.glob("seccomp-*.json"))) == 1
    lines = []
    second = seccomp_cache.compile_cached(PROFILE, cache_dir=str(tmp_path), debug=lines.append)
    assert second == first == compile_seccomp(PROFILE)
    assert lines == ["seccomp: unknown syscall 'no_such_call' ignored"]


def test_hit_does_not_import_libseccomp(tmp_path):
    seccomp_cache.compile_cached(PROFILE, cache_dir=str(tmp_path))
    code = (f"import json, sys\nfrom pyrunc.security.seccomp import cache as seccomp_cache\n"
            f"c = seccomp_cache.compile_cached(json.loads({json.dumps(json.dumps(PROFILE))}), cache_dir={str(tmp_path)!r})\n"
            "print(c.instructions, 'pyseccomp' in sys.modules, 'pyrunc.security.seccomp.compile' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out[1:] == ["False", "False"] and int(out[0]) > 0


def test_different_profiles_different_entries(tmp_path):
    other = dict(PROFILE, defaultErrnoRet=1)
    a = seccomp_cache.compile_cached(PROFILE, cache_dir=str(tmp_path))
    b = seccomp_cache.compile_cached(other, cache_dir=str(tmp_path))
    assert a.bpf != b.bpf and len(list(tmp_path.glob("seccomp-*.json"))) == 2


def test_corrupt_or_foreign_entry_is_a_miss(tmp_path):
    seccomp_cache.compile_cached(PROFILE, cache_dir=str(tmp_path))
    (entry,) = tmp_path.glob("seccomp-*.json")
    entry.write_text("{not json")
    assert seccomp_cache.compile_cached(PROFILE, cache_dir=str(tmp_path)) == compile_seccomp(PROFILE)
    entry.write_text(json.dumps({"key": "someone-else", "compiled": {}}))
    assert seccomp_cache.compile_cached(PROFILE, cache_dir=str(tmp_path)) == compile_seccomp(PROFILE)


def test_errors_are_not_cached(tmp_path):
    # what only libseccomp refuses: one filter holds one byte order
    bad = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_S390X"]}
    for _ in range(2):
        with pytest.raises(ConfigError):
            seccomp_cache.compile_cached(bad, cache_dir=str(tmp_path))
    assert not list(tmp_path.glob("seccomp-*.json"))


def test_no_cache_dir_and_no_profile():
    assert seccomp_cache.compile_cached(PROFILE) == compile_seccomp(PROFILE)
    assert seccomp_cache.compile_cached(None, cache_dir="/nonexistent") is None


def test_unwritable_cache_dir_only_costs_a_compile(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert seccomp_cache.compile_cached(PROFILE, cache_dir=str(blocker / "sub")) == compile_seccomp(PROFILE)


def test_prune_keeps_it_small(tmp_path, monkeypatch):
    monkeypatch.setattr(seccomp_cache, "MAX_ENTRIES", 4)
    for i in range(7):
        seccomp_cache.compile_cached(dict(PROFILE, defaultErrnoRet=i + 1), cache_dir=str(tmp_path))
    assert len(list(tmp_path.glob("seccomp-*.json"))) <= 4
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]
