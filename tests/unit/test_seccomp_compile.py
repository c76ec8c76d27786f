"""pyrunc.security.seccomp.compile without the kernel: what compiles, what is a ConfigError
(the profile's rules: pyrunc.config.checks.seccomp; libseccomp's refusals: the compiler),
and what the BPF decides — run through a small classic-BPF interpreter on
made-up seccomp_data, so x86/x32/x86_64 paths are checked on any host."""
from __future__ import annotations

import errno
import json
import struct

import pyseccomp
import pytest

from pyrunc.config.checks import seccomp as seccomp_checks
from pyrunc.errors import ConfigError
from pyrunc.security.seccomp import compile as sc

ALLOW = 0x7FFF0000
X86_64 = pyseccomp.Arch.X86_64
X86 = pyseccomp.Arch.X86
X32_BIT = 0x40000000


def run_bpf(program: bytes, nr: int, arch: int = X86_64, args=(0,) * 6) -> int:
    """Classic BPF as seccomp runs it: returns the filter's verdict."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, *args)
    insns = [struct.unpack_from("=HBBI", program, i) for i in range(0, len(program), 8)]
    a = x = 0
    mem = [0] * 16
    pc = 0
    while True:
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = code & 0x07
        if cls == 0x00:  # LD
            mode = code & 0xE0
            if mode == 0x20:
                a = struct.unpack_from("=I", data, k)[0]
            elif mode == 0x00:
                a = k
            elif mode == 0x60:
                a = mem[k]
            else:
                raise NotImplementedError(hex(code))
        elif cls == 0x01:  # LDX
            x = mem[k] if code & 0xE0 == 0x60 else k
        elif cls == 0x02:
            mem[k] = a
        elif cls == 0x03:
            mem[k] = x
        elif cls == 0x04:  # ALU
            op = code & 0xF0
            src = x if code & 0x08 else k
            if op == 0x50:
                a &= src
            elif op == 0x40:
                a |= src
            elif op == 0x00:
                a = (a + src) & 0xFFFFFFFF
            elif op == 0x10:
                a = (a - src) & 0xFFFFFFFF
            else:
                raise NotImplementedError(hex(code))
        elif cls == 0x05:  # JMP
            op = code & 0xF0
            src = x if code & 0x08 else k
            if op == 0x00:
                pc += k
                continue
            cond = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: bool(a & src)}[op]
            pc += jt if cond else jf
        elif cls == 0x06:  # RET
            return a if code & 0x18 == 0x10 else k
        elif cls == 0x07:  # MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
        else:
            raise NotImplementedError(hex(code))


def nr(name, arch=pyseccomp.Arch.NATIVE):
    return pyseccomp.resolve_syscall(arch, name)


def compile_(**prof):
    prof.setdefault("defaultAction", "SCMP_ACT_ALLOW")
    return sc.compile_seccomp(prof)


# ---------------------------------------------------------------- no filter

@pytest.mark.parametrize("cfg", [None, {}, {"syscalls": []}])
def test_nothing_to_load(cfg):
    assert sc.compile_seccomp(cfg) is None


# ---------------------------------------------------------------- actions

@pytest.mark.parametrize("name,ret,expected", [
    ("SCMP_ACT_KILL", None, 0x00000000),
    ("SCMP_ACT_KILL_THREAD", None, 0x00000000),
    ("SCMP_ACT_KILL_PROCESS", None, 0x80000000),
    ("SCMP_ACT_TRAP", None, 0x00030000),
    ("SCMP_ACT_ERRNO", None, 0x00050000 | errno.EPERM),
    ("SCMP_ACT_ERRNO", 12, 0x00050000 | 12),
    ("SCMP_ACT_TRACE", None, 0x7FF00000 | errno.EPERM),
    ("SCMP_ACT_TRACE", 7, 0x7FF00000 | 7),
    ("SCMP_ACT_LOG", None, 0x7FFC0000),
    ("SCMP_ACT_NOTIFY", None, 0x7FC00000),
])
def test_rule_action_verdict(name, ret, expected, tmp_path):
    rule = {"names": ["getppid"], "action": name}
    if ret is not None:
        rule["errnoRet"] = ret
    c = compile_(syscalls=[rule], listenerPath=str(tmp_path / "s"))
    assert run_bpf(c.bpf, nr("getppid")) == expected
    assert run_bpf(c.bpf, nr("getpid")) == ALLOW


def test_default_errno_ret_and_stub_skipped_for_enosys_default():
    c = sc.compile_seccomp({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
                            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})
    assert run_bpf(c.bpf, nr("write")) == 0x00050000 | 38
    assert run_bpf(c.bpf, nr("read")) == ALLOW
    # no stub: the program starts with libseccomp's own arch load
    assert c.bpf == sc.export_bpf(_plain_filter())[:0] + c.bpf  # sanity: bytes
    assert struct.unpack_from("=HBBI", c.bpf, 0)[0] == 0x20


def _plain_filter():
    return pyseccomp.SyscallFilter(pyseccomp.ALLOW)


def test_rule_equal_to_default_is_skipped():
    c = sc.compile_seccomp({"defaultAction": "SCMP_ACT_ERRNO",
                            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                                         {"names": ["write"], "action": "SCMP_ACT_ALLOW"}]})
    assert run_bpf(c.bpf, nr("read")) == 0x00050001
    assert run_bpf(c.bpf, nr("write")) == ALLOW


# ---------------------------------------------------------------- conditions

@pytest.mark.parametrize("op,value,value2,hits,misses", [
    ("SCMP_CMP_EQ", 5, 0, [5], [4, 6]),
    ("SCMP_CMP_NE", 5, 0, [4, 6], [5]),
    ("SCMP_CMP_LT", 5, 0, [0, 4], [5, 6]),
    ("SCMP_CMP_LE", 5, 0, [4, 5], [6]),
    ("SCMP_CMP_GT", 5, 0, [6, 1 << 40], [5]),
    ("SCMP_CMP_GE", 5, 0, [5, 6], [4]),
    ("SCMP_CMP_MASKED_EQ", 0xF0, 0x20, [0x20, 0x2F], [0x30, 0x02]),
    ("SCMP_CMP_EQ", 1 << 40, 0, [1 << 40], [0, (1 << 40) + 1]),  # 64-bit values
])
def test_operators(op, value, value2, hits, misses):
    c = compile_(syscalls=[{"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9,
                            "args": [{"index": 0, "value": value, "valueTwo": value2, "op": op}]}])
    for v in hits:
        assert run_bpf(c.bpf, nr("umask"), args=(v, 0, 0, 0, 0, 0)) == 0x00050009, v
    for v in misses:
        assert run_bpf(c.bpf, nr("umask"), args=(v, 0, 0, 0, 0, 0)) == ALLOW, v


def test_same_argument_twice_is_or():
    c = compile_(syscalls=[{"names": ["umask"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]}])
    verdicts = [run_bpf(c.bpf, nr("umask"), args=(v, 0, 0, 0, 0, 0)) for v in (1, 2, 3)]
    assert verdicts == [0x00050001, ALLOW, 0x00050001]


def test_different_arguments_are_and():
    c = compile_(syscalls=[{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [
        {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}])
    verdicts = [run_bpf(c.bpf, nr("kill"), args=(p, s, 0, 0, 0, 0)) for p, s in ((1, 9), (1, 2), (2, 9))]
    assert verdicts == [0x00050001, ALLOW, ALLOW]


# ---------------------------------------------------------------- arches + stub

def test_architectures_are_in_the_filter():
    c = compile_(architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                 syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}])
    assert run_bpf(c.bpf, nr("getppid", X86), arch=X86) == 0x00050001
    assert run_bpf(c.bpf, nr("getppid", pyseccomp.Arch.X32), arch=X86_64) == 0x00050001
    assert run_bpf(c.bpf, nr("getppid"), arch=X86_64) == 0x00050001


def test_unlisted_arch_gets_killed():
    c = compile_(syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}])
    # libseccomp's bad-arch action (KILL) for an arch not in the filter
    assert run_bpf(c.bpf, 1, arch=pyseccomp.Arch.AARCH64) == 0


def _deny_profile(names, arches=None):
    prof = {"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}
    if arches:
        prof["architectures"] = arches
    return prof


def test_enosys_stub_per_arch():
    names = ["read", "write", "openat", "getppid"]
    c = sc.compile_seccomp(_deny_profile(names, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]))
    top64 = max(nr(n, X86_64) for n in names)
    top32 = max(nr(n, X86) for n in names)
    topx32 = max(nr(n, pyseccomp.Arch.X32) for n in names)
    enosys = 0x00050000 | errno.ENOSYS
    eperm = 0x00050001
    assert run_bpf(c.bpf, top64 + 1) == enosys
    assert run_bpf(c.bpf, top64 - 1 if top64 - 1 not in [nr(n) for n in names] else 0) == eperm
    assert run_bpf(c.bpf, nr("read")) == ALLOW
    assert run_bpf(c.bpf, top32 + 1, arch=X86) == enosys
    assert run_bpf(c.bpf, nr("read", X86), arch=X86) == ALLOW
    assert run_bpf(c.bpf, topx32 + 1, arch=X86_64) == enosys
    assert run_bpf(c.bpf, nr("read", pyseccomp.Arch.X32), arch=X86_64) == ALLOW


def test_stub_without_x32_leaves_x32_calls_to_the_filter():
    c = sc.compile_seccomp(_deny_profile(["read", "getppid"]))
    # an x32 number far above everything: the filter (bad arch -> kill), not ENOSYS
    assert run_bpf(c.bpf, X32_BIT | 500) == 0
    assert run_bpf(c.bpf, 500) == 0x00050000 | errno.ENOSYS


@pytest.mark.parametrize("default", ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"])
def test_no_stub_after_permissive_default(default):
    c = sc.compile_seccomp({"defaultAction": default,
                            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]})
    assert run_bpf(c.bpf, 500) != 0x00050000 | errno.ENOSYS


def test_stub_jumps_stay_in_range_with_many_arches():
    arches = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
              "SCMP_ARCH_ARM", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_MIPSEL64"]
    c = sc.compile_seccomp(_deny_profile(["read", "write"], arches))
    for arch in (pyseccomp.Arch.AARCH64, pyseccomp.Arch.RISCV64, pyseccomp.Arch.PPC64LE):
        assert run_bpf(c.bpf, 1000, arch=arch) == 0x00050000 | errno.ENOSYS
        assert run_bpf(c.bpf, nr("read", arch), arch=arch) == ALLOW


def test_big_endian_arch_next_to_native_is_a_config_error():
    # libseccomp cannot mix byte orders in one filter
    with pytest.raises(ConfigError, match="SCMP_ARCH_S390X: libseccomp cannot add it to the filter: "):
        sc.compile_seccomp(_deny_profile(["read"], ["SCMP_ARCH_S390X"]))


def test_s390_stub_returns_enosys_for_setup_zero():
    ret_allow = struct.pack("=HBBI", 0x06, 0, 0, ALLOW)
    stub = sc.enosys_stub([(pyseccomp.Arch.S390X, "SCMP_ARCH_S390X")], ["read", "write"])
    prog = stub + ret_allow
    s390x = pyseccomp.Arch.S390X
    # an unknown big number arrives as setup(0)
    assert run_bpf(prog, 0, arch=s390x) == 0x00050000 | errno.ENOSYS
    assert run_bpf(prog, nr("read", s390x), arch=s390x) == ALLOW
    assert run_bpf(prog, 1000, arch=s390x) == 0x00050000 | errno.ENOSYS


# ---------------------------------------------------------------- flags

def test_flags_default_to_spec_allow_when_absent():
    c = compile_(syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO"}])
    assert c.flags == sc.FLAG_SPEC_ALLOW and c.optional_flags == sc.FLAG_SPEC_ALLOW


def test_empty_flags_means_none():
    c = compile_(flags=[], syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO"}])
    assert c.flags == 0 and c.optional_flags == 0


def test_explicit_flags():
    c = compile_(flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                        "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                 syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO"}])
    assert c.flags == 1 | 2 | 4 and c.optional_flags == 0


def test_notify_adds_new_listener_and_tsync_esrch(tmp_path):
    c = compile_(flags=["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                 listenerPath=str(tmp_path / "a"), listenerMetadata="m",
                 syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}])
    assert c.uses_notify and c.listener_path.endswith("/a") and c.listener_metadata == "m"
    assert c.flags == sc.FLAG_TSYNC | sc.FLAG_TSYNC_ESRCH | sc.FLAG_NEW_LISTENER | sc.FLAG_WAIT_KILLABLE_RECV


def test_wait_killable_recv_dropped_without_notify():
    c = compile_(flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                 syscalls=[{"names": ["read"], "action": "SCMP_ACT_ERRNO"}])
    assert c.flags == 0 and not c.uses_notify


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("prof,message", [
    ({"defaultAction": "SCMP_ACT_NOPE"},
     "config.json: linux.seccomp.defaultAction: unknown action 'SCMP_ACT_NOPE'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_BOGUS"}]},
     "config.json: linux.seccomp.syscalls[0].action: unknown action 'SCMP_ACT_BOGUS'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                        "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_XX"}]}]},
     "config.json: linux.seccomp.syscalls[0].args[0].op: unknown operator 'SCMP_CMP_XX'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                        "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
     "config.json: linux.seccomp.syscalls[0].args[0].index: must be 0..5"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]},
     "config.json: linux.seccomp.architectures: unknown architecture 'SCMP_ARCH_VAX'"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]},
     "config.json: linux.seccomp.flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_BOGUS'"),
    ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"},
     "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
      "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]},
     "config.json: linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
      "syscalls": [{"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]},
     "config.json: linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for the sendmsg syscall"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]},
     "config.json: linux.seccomp.listenerPath: must be set when a rule uses SCMP_ACT_NOTIFY"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]},
     "config.json: linux.seccomp.syscalls[0].names: must be a non-empty array"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000},
     "config.json: linux.seccomp.defaultErrnoRet: 70000 does not fit in SECCOMP_RET_DATA (16 bits)"),
    ({"syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]},
     "config.json: linux.seccomp.defaultAction: must be set when syscalls are given"),
])
def test_config_errors(prof, message):
    with pytest.raises(ConfigError) as exc:
        seccomp_checks.check_profile(prof)
    assert str(exc.value) == message


def test_the_checks_know_the_names_the_compiler_maps():
    """The rules (no pyseccomp) and the compiler (pyseccomp's values) name the same things."""
    assert seccomp_checks.ACTIONS == set(sc.ACTIONS)
    assert seccomp_checks.OPERATORS == set(sc.OPERATORS)
    assert seccomp_checks.ARCHES == set(sc.ARCHES)
    assert seccomp_checks.FLAGS == set(sc.FLAGS)


def test_unsupported_arch_is_a_config_error():
    # m68k is in the spec but not in libseccomp 2.5
    try:
        sc.compile_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_M68K"]})
    except ConfigError as exc:
        assert str(exc).startswith("config.json: linux.seccomp.architectures: SCMP_ARCH_M68K: "
                                   "libseccomp cannot add it to the filter: ")


def test_unknown_names_are_skipped_and_reported_to_debug():
    lines = []
    c = sc.compile_seccomp({"defaultAction": "SCMP_ACT_ALLOW",
                            "syscalls": [{"names": ["frobnicate", "getppid"], "action": "SCMP_ACT_ERRNO"}]},
                           debug=lines.append)
    assert c.skipped_syscalls == ("frobnicate",)
    assert lines == ["seccomp: unknown syscall 'frobnicate' ignored"]
    assert run_bpf(c.bpf, nr("getppid")) == 0x00050001


# ---------------------------------------------------------------- plain data

def test_round_trip_through_json():
    c = compile_(syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}])
    back = sc.CompiledSeccomp.from_dict(json.loads(json.dumps(c.to_dict())))
    assert back == c


def test_compiled_carries_native_seccomp_number():
    c = compile_(syscalls=[{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}])
    assert c.seccomp_nr == nr("seccomp")


def test_known_arches_are_the_ones_libseccomp_accepts():
    known = sc.known_arches()
    assert "SCMP_ARCH_X86_64" in known and "SCMP_ARCH_X32" in known
    for name in sorted(sc.ARCHES):
        if name in known:
            continue
        with pytest.raises(ConfigError):
            sc.compile_seccomp({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [name]})
