"""Capability names -> numbers, translated in the parent before the first fork.

Place in the flow: create (lifecycle.common) and exec call
`resolve_capabilities()` on `process.capabilities` once the rules of
pyrunc.config.checks.process have reported the names this host cannot grant
(unknown, above /proc/sys/kernel/cap_last_cap, or outside the runtime's own
bounding set: runc's one line "ignoring unknown or unavailable capabilities")
and said which to leave out; the child gets only numbers and applies them with
pyrunc.init.apply_security (drop_bounding, apply_capabilities). This module
reports nothing to the user. An ambient capability must also be permitted
and inheritable or the kernel refuses to raise it; runc goes on without it
and says so at debug level only (`runc spec`'s own config asks for three
such), so do we, but here in the parent where the line can be logged.
"""
from __future__ import annotations

from pyrunc.kernel.capnames import CAPABILITY_NAMES, CAPABILITY_NUMBERS

SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def kernel_last_cap(path: str = "/proc/sys/kernel/cap_last_cap") -> int:
    try:
        with open(path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return len(CAPABILITY_NAMES) - 1


def host_bounding_set(path: str = "/proc/self/status") -> set[int] | None:
    """The capabilities this runtime itself could still grant (its CapBnd)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    mask = int(line.split()[1], 16)
                    return {n for n in range(64) if mask >> n & 1}
    except (OSError, ValueError):
        pass
    return None


def resolve_capabilities(process_capabilities: dict | None, *, skip=frozenset(),
                         debug=None) -> dict | None:
    """{set: [numbers]} for the five sets, or None when the config has no
    `process.capabilities` (then the child leaves all sets alone, as runc
    does). A set the config leaves out is empty.

    `skip`: the names pyrunc.config.checks.process.report_capabilities found
    this host cannot grant (already reported); a name without a number is
    left out too. `debug` takes what only --debug logs.
    """
    if process_capabilities is None:
        return None
    out: dict[str, list[int]] = {}
    for name in SETS:
        numbers = []
        for cap in process_capabilities.get(name) or ():
            nr = _number(cap)
            if nr is not None and cap not in skip and nr not in numbers:
                numbers.append(nr)
        out[name] = numbers
    allowed = set(out["permitted"]) & set(out["inheritable"])
    refused = [c for c in out["ambient"] if c not in allowed]
    if refused:
        out["ambient"] = [c for c in out["ambient"] if c in allowed]
        if debug:
            debug("ignoring ambient capabilities that are not both permitted and inheritable: "
                 f"[{' '.join(cap_name(c) for c in refused)}]")
    return out


def _number(name):
    # exactly the kernel's spelling, as runc: "cap_chown" or "CHOWN" is unknown
    return CAPABILITY_NUMBERS.get(name) if isinstance(name, str) else None


def cap_name(nr: int) -> str:
    return CAPABILITY_NAMES[nr] if 0 <= nr < len(CAPABILITY_NAMES) else f"CAP_{nr}"


def mask(numbers) -> int:
    """The /proc/<pid>/status hex mask for a set of numbers (for tests and `state`)."""
    m = 0
    for n in numbers:
        m |= 1 << n
    return m
