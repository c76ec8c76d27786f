"""Device rules: runc's defaults, the v1 emulator and the v2 eBPF program.

The eBPF program is run through a small interpreter of the handful of opcodes
devicefilter emits and compared with the emulator, which is the oracle for
what runc's filter allows.
"""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyrunc.cgroups import devicefilter as df
from pyrunc.cgroups.devices import DEFAULT_DEVICES, WILDCARD, Emulator, Rule, from_spec
from pyrunc.errors import CgroupError


def run_prog(prog: bytes, dev_type: str, major: int, minor: int, access: str) -> int:
    t = {"c": df.DEV_CHAR, "b": df.DEV_BLOCK}[dev_type]
    acc = sum(df.ACC[c] for c in set(access))
    ctx = struct.pack("<III", (acc << 16) | t, major, minor)
    regs = [0] * 11
    pc = 0
    insns = [struct.unpack_from("<BBhi", prog, i) for i in range(0, len(prog), 8)]
    for _ in range(10_000):
        op, regs_byte, off, imm = insns[pc]
        dst, src = regs_byte & 0xF, regs_byte >> 4
        pc += 1
        if op == df.OP_LDXW:
            assert src == 1
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == df.OP_AND32_K:
            regs[dst] = (regs[dst] & (imm & 0xFFFFFFFF))
        elif op == df.OP_RSH32_K:
            regs[dst] = (regs[dst] & 0xFFFFFFFF) >> imm
        elif op == df.OP_MOV32_X:
            regs[dst] = regs[src] & 0xFFFFFFFF
        elif op == df.OP_MOV32_K:
            regs[dst] = imm & 0xFFFFFFFF
        elif op == df.OP_JNE_K:
            if regs[dst] != imm & 0xFFFFFFFFFFFFFFFF:  # 64-bit compare, imm sign-extended
                pc += off
        elif op == df.OP_JNE_X:
            if regs[dst] != regs[src]:
                pc += off
        elif op == df.OP_EXIT:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
    raise AssertionError("program did not terminate")


def test_defaults_are_runcs_allowed_devices_in_order():
    rules = from_spec([])
    assert [r.cgroup_string() for r in rules] == [
        "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:8 rwm", "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm", "c 1:9 rwm",
        "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"]
    assert all(r.allow for r in rules) and len(DEFAULT_DEVICES) == 11


def test_spec_rules_come_first_and_a_listed_device_replaces_its_default():
    rules = from_spec([{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 4, "access": "rw"}],
                      linux_device_paths=["/dev/null"])
    assert rules[0] == Rule("a", WILDCARD, WILDCARD, "rwm", False)
    assert rules[1] == Rule("c", 4, WILDCARD, "rw", True)
    assert "c 1:3 rwm" not in [r.cgroup_string() for r in rules]


def test_unknown_access_letters_are_ignored_as_runc_does():
    rules = from_spec([{"allow": False, "type": "c", "major": 1, "minor": 11, "access": "rwa"},
                       {"allow": True, "type": "c", "major": 1, "minor": 12, "access": "rx"}])
    assert rules[0] == Rule("c", 1, 11, "rw", False)
    assert rules[1] == Rule("c", 1, 12, "r", True)


@pytest.mark.parametrize("bad,msg", [({"allow": True}, "access: must not be empty"),
                                     ({"allow": True, "access": "r", "type": "z"}, "type: invalid")])
def test_bad_rules(bad, msg):
    with pytest.raises(CgroupError, match=msg):
        from_spec([bad])


def test_fresh_cgroup_transition_denies_all_then_allows_each():
    current = Emulator.from_list("a *:* rwm\n")
    target = Emulator.from_rules(from_spec([{"allow": False, "access": "rwm"}]))
    steps = current.transition(target)
    assert steps[0] == Rule("a", WILDCARD, WILDCARD, "rwm", False)
    assert [s.cgroup_string() for s in steps[1:]] == [
        "b *:* m", "c *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
        "c 5:2 rwm", "c 10:200 rwm", "c 136:* rwm"]
    assert all(s.allow for s in steps[1:])


def test_update_transition_never_denies_everything():
    current = Emulator.from_list("c 1:3 rwm\nc 1:5 rwm\n")
    target = Emulator.from_rules([Rule("a", -1, -1, "rwm", False), Rule("c", 1, 3, "rw", True),
                                  Rule("c", 1, 7, "r", True)])
    steps = current.transition(target)
    assert [(s.cgroup_string(), s.allow) for s in steps] == [
        ("c 1:3 m", False), ("c 1:5 rwm", False), ("c 1:7 r", True)]


def test_punching_a_hole_in_a_wildcard_is_an_error():
    emu = Emulator.from_rules([Rule("a", -1, -1, "rwm", False), Rule("c", WILDCARD, WILDCARD, "rwm", True)])
    with pytest.raises(CgroupError, match="punch a hole"):
        emu.apply(Rule("c", 1, 3, "r", False))


def test_devices_list_parse():
    emu = Emulator.from_list("c 1:3 rwm\nb *:* m\nc 136:* rw\n")
    assert not emu.default_allow
    assert emu.rules == {("c", 1, 3): "rwm", ("b", -1, -1): "m", ("c", 136, -1): "rw"}
    assert Emulator.from_list("a *:* rwm\n").is_allow_all()


# ------------------------------------------------------------------ eBPF


def test_default_program_allows_the_defaults_only():
    prog = df.build(from_spec([{"allow": False, "access": "rwm"}]))
    assert len(prog) % 8 == 0
    assert run_prog(prog, "c", 1, 3, "rw") == 1      # /dev/null
    assert run_prog(prog, "c", 136, 7, "rw") == 1    # a pty
    assert run_prog(prog, "b", 8, 0, "m") == 1       # mknod of anything
    assert run_prog(prog, "b", 8, 0, "r") == 0       # but not reading a disk
    assert run_prog(prog, "c", 10, 229, "rw") == 0   # /dev/fuse is not in runc's list
    assert run_prog(prog, "c", 1, 1, "r") == 0       # /dev/mem


def test_allow_all_program_is_return_one():
    prog = df.build([Rule("a", -1, -1, "rwm", True)])
    insns = [struct.unpack_from("<BBhi", prog, i) for i in range(0, len(prog), 8)]
    assert insns[-2] == (df.OP_MOV32_K, 0, 0, 1) and insns[-1][0] == df.OP_EXIT
    assert len(insns) == 8   # header + default


def test_default_allow_with_deny_exceptions():
    prog = df.build([Rule("a", -1, -1, "rwm", True), Rule("c", 1, 1, "rw", False), Rule("b", 8, WILDCARD, "w", False)])
    assert run_prog(prog, "c", 1, 1, "r") == 0
    assert run_prog(prog, "c", 1, 1, "m") == 1
    assert run_prog(prog, "b", 8, 3, "w") == 0
    assert run_prog(prog, "b", 8, 3, "r") == 1


def test_large_device_numbers():
    prog = df.build([Rule("a", -1, -1, "rwm", False), Rule("c", 4095, 2**20 - 1, "r", True)])
    assert run_prog(prog, "c", 4095, 2**20 - 1, "r") == 1
    assert run_prog(prog, "c", 4095, 0, "r") == 0
    # a sign-extended imm32 could never match these: refused, not mis-compiled
    with pytest.raises(CgroupError, match="invalid device number"):
        df.build([Rule("a", -1, -1, "rwm", False), Rule("c", 2**31, 0, "r", True)])


rule_st = st.builds(
    Rule, st.sampled_from("cb"), st.sampled_from([WILDCARD, 1, 5, 8, 136]), st.sampled_from([WILDCARD, 0, 3, 5]),
    st.sampled_from(["r", "w", "m", "rw", "rm", "wm", "rwm"]), st.booleans())


@settings(max_examples=300, deadline=None)
@given(default=st.booleans(), rules=st.lists(rule_st, max_size=6),
       probe=st.tuples(st.sampled_from("cb"), st.sampled_from([1, 5, 8, 136, 7]), st.sampled_from([0, 3, 5, 9]),
                       st.sampled_from(["r", "w", "m", "rw", "rwm"])))
def test_program_matches_emulator(default, rules, probe):
    all_rules = [Rule("a", -1, -1, "rwm", default)] + rules
    try:
        emu = Emulator.from_rules(all_rules, start_allow=False)
    except CgroupError:
        return  # v1 cannot express it; runc refuses the same rule set
    prog = df.build(all_rules)
    assert run_prog(prog, *probe) == int(emu.allows(*probe))
