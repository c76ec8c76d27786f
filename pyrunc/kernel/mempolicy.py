"""linux.memoryPolicy: the config's NUMA policy as set_mempolicy(2) takes it.

Pure, both sides: the config checks (config/checks/linux.py) and plan.py
use `compile_policy`, which raises PolicyError worded for the user; the
container's init (init/stage2.py, init/exec_child.py) passes the result to
kernel/syscalls.set_mempolicy just before execve, like runc, so the
container's process starts with it and our own set-up is not bound by it.
Rules are runc's (libcontainer/configs/validate: memoryPolicy).
"""
from pyrunc.errors import PolicyError
from pyrunc.kernel.procfs import parse_cpu_list

MODES = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3,
         "MPOL_LOCAL": 4, "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}
FLAGS = {"MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14,
         "MPOL_F_STATIC_NODES": 1 << 15}
NO_NODES = ("MPOL_DEFAULT", "MPOL_LOCAL")              # the kernel wants an empty mask
NEED_NODES = ("MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE")


def parse_nodes(text):
    """"0-3,7" -> sorted node numbers; "" -> []. ValueError when malformed."""
    if not text:
        return []
    try:
        return sorted(parse_cpu_list(text))
    except ValueError:
        raise ValueError(f"{text!r} is not a node list like \"0-3,7\"") from None


def compile_policy(cfg):
    """(mode | flags, nodemask bytes, maxnode) for set_mempolicy(2); PolicyError."""
    mode = cfg.get("mode")
    if not mode:
        raise PolicyError("mode", "is required (one of " + ", ".join(MODES) + ")")
    if mode not in MODES:
        raise PolicyError("mode", f"{mode!r} is not a memory policy mode")
    try:
        nodes = parse_nodes(cfg.get("nodes") or "")
    except ValueError as exc:
        raise PolicyError("nodes", str(exc)) from None
    if mode in NO_NODES and nodes:
        raise PolicyError("nodes", f"{mode} takes no nodes")
    if mode in NEED_NODES and not nodes:
        raise PolicyError("nodes", f"{mode} needs at least one node")
    value = MODES[mode]
    for name in cfg.get("flags") or ():
        if name not in FLAGS:
            raise PolicyError("flags", f"{name!r} is not a memory policy flag")
        value |= FLAGS[name]
    words = (max(nodes) // 64 + 1) if nodes else 1
    mask = bytearray(words * 8)
    for n in nodes:
        mask[n // 8] |= 1 << (n % 8)
    # a little-endian array of unsigned longs (x86_64, aarch64); the kernel reads maxnode - 1 bits
    return value, bytes(mask), words * 64 + 1
