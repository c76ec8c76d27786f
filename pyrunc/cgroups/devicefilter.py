"""The cgroup v2 device filter: device rules -> a BPF_PROG_TYPE_CGROUP_DEVICE program.

Same semantics as runc's `devicefilter.DeviceFilter`: the rules are reduced by
the emulator to "default + exceptions"; each exception becomes a block that
matches type, (access subset), major, minor and returns allow/deny; the last
block returns the default. Pure: returns the raw instructions as bytes, so the
unit tests can run them through a tiny interpreter with no kernel at all.

Program context (struct bpf_cgroup_dev_ctx): u32 access_type (access << 16 |
type), u32 major, u32 minor.
"""
from __future__ import annotations

import struct

from pyrunc.cgroups.devices import WILDCARD, Emulator, Rule
from pyrunc.errors import CgroupError

LICENSE = "Apache"

DEV_BLOCK, DEV_CHAR = 1, 2                    # BPF_DEVCG_DEV_*
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4       # BPF_DEVCG_ACC_*
ACC = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}

# opcodes used (linux/bpf_common.h + bpf.h)
OP_LDXW = 0x61        # BPF_LDX | BPF_MEM | BPF_W
OP_AND32_K = 0x54     # BPF_ALU | BPF_AND | BPF_K
OP_RSH32_K = 0x74     # BPF_ALU | BPF_RSH | BPF_K
OP_MOV32_X = 0xBC     # BPF_ALU | BPF_MOV | BPF_X
OP_MOV32_K = 0xB4     # BPF_ALU | BPF_MOV | BPF_K
OP_JNE_K = 0x55       # BPF_JMP | BPF_JNE | BPF_K
OP_JNE_X = 0x5D       # BPF_JMP | BPF_JNE | BPF_X
OP_EXIT = 0x95        # BPF_JMP | BPF_EXIT

R0, R1, R2, R3, R4, R5 = range(6)


def insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def build(rules: list[Rule]) -> bytes:
    """Compile device rules; the result is a multiple of 8 bytes (one insn each)."""
    emu = Emulator.from_rules(rules, start_allow=False)
    clean = emu.effective_rules()
    # header: R2 = type, R3 = access, R4 = major, R5 = minor
    prog: list[tuple] = [
        (OP_LDXW, R2, R1, 0, 0), (OP_AND32_K, R2, 0, 0, 0xFFFF),
        (OP_LDXW, R3, R1, 0, 0), (OP_RSH32_K, R3, 0, 0, 16),
        (OP_LDXW, R4, R1, 4, 0),
        (OP_LDXW, R5, R1, 8, 0),
    ]
    for idx, rule in enumerate(clean):
        if rule.type == "a":
            if idx != 0 or rule.allow != emu.default_allow:
                raise CgroupError(f"cgroup devices: internal error: wildcard rule at {idx}")
            continue
        prog.extend(_block(rule))
    prog.append((OP_MOV32_K, R0, 0, 0, 1 if emu.default_allow else 0))
    prog.append((OP_EXIT, 0, 0, 0, 0))
    return b"".join(insn(*i) for i in _resolve(prog))


_NEXT = "next"  # a jump to the start of the following block


def _block(rule: Rule) -> list[tuple]:
    bpf_type = {"c": DEV_CHAR, "b": DEV_BLOCK}.get(rule.type)
    if bpf_type is None:
        raise CgroupError(f"cgroup devices: invalid device type {rule.type!r}")
    # JNE compares the zero-extended 32-bit field with a sign-extended imm32,
    # so numbers from 2^31 up could never match; Linux's are far smaller
    # (12-bit major, 20-bit minor), so refuse them rather than mis-filter.
    if rule.major > 0x7FFFFFFF or rule.minor > 0x7FFFFFFF:
        raise CgroupError(f"cgroup devices: invalid device number {rule.major}:{rule.minor}")
    access = 0
    for c in rule.access:
        access |= ACC[c]
    out: list[tuple] = [(OP_JNE_K, R2, 0, _NEXT, bpf_type)]
    if access != ACC_READ | ACC_WRITE | ACC_MKNOD:
        # requested access must be a subset of the rule's: (R3 & access) == R3
        out += [(OP_MOV32_X, R1, R3, 0, 0), (OP_AND32_K, R1, 0, 0, access), (OP_JNE_X, R1, R3, _NEXT, 0)]
    if rule.major != WILDCARD:
        out.append((OP_JNE_K, R4, 0, _NEXT, rule.major))
    if rule.minor != WILDCARD:
        out.append((OP_JNE_K, R5, 0, _NEXT, rule.minor))
    out += [(OP_MOV32_K, R0, 0, 0, 1 if rule.allow else 0), (OP_EXIT, 0, 0, 0, 0)]
    return [("block",)] + out


def _resolve(prog: list[tuple]) -> list[tuple]:
    """Turn the symbolic `next` jumps into relative offsets."""
    flat: list[tuple] = []
    block_starts: list[int] = []
    for item in prog:
        if item == ("block",):
            block_starts.append(len(flat))
        else:
            flat.append(item)
    out = []
    for pc, (op, dst, src, off, imm) in enumerate(flat):
        if off == _NEXT:
            later = [s for s in block_starts if s > pc]
            # the final "return default" follows the last block
            target = later[0] if later else len(flat) - 2
            off = target - (pc + 1)
        out.append((op, dst, src, off, imm))
    return out
