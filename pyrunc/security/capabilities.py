"""Capability names -> numbers, decided in the parent before the first fork.

Place in the flow: `container`/`plan` call `resolve_capabilities()` on
`process.capabilities`; the child gets only numbers and applies them with
pyrunc.init.apply_security (drop_bounding, apply_capabilities).

A name this kernel does not know (above /proc/sys/kernel/cap_last_cap, or not
a capability at all) or that this host cannot grant (not in the runtime's own
bounding set — e.g. CAP_SYS_RESOURCE on a host that dropped it) is skipped,
and all of them are reported in ONE warning line, as runc does ("ignoring
unknown or unavailable capabilities: [...]"): the spec says the runtime
SHOULD NOT fail for them. An ambient capability must also be permitted and
inheritable or the kernel refuses to raise it; runc goes on without it and
says so at debug level only (`runc spec`'s own config asks for three such),
so do we, but here in the parent where the line can be logged.
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


def resolve_capabilities(process_capabilities: dict | None, warn=None, *, debug=None,
                         last_cap: int | None = None,
                         grantable: set[int] | None = None) -> dict | None:
    """{set: [numbers]} for the five sets, or None when the config has no
    `process.capabilities` (then the child leaves all sets alone, as runc
    does). A set the config leaves out is empty.

    `warn` takes what the user must hear of, `debug` what only --debug logs.
    `last_cap` and `grantable` default to this kernel's and this process's.
    """
    if process_capabilities is None:
        return None
    if last_cap is None:
        last_cap = kernel_last_cap()
    if grantable is None:
        grantable = host_bounding_set()
    unknown: list[str] = []
    out: dict[str, list[int]] = {}
    for name in SETS:
        numbers = []
        for cap in process_capabilities.get(name) or ():
            nr = _number(cap)
            if nr is None or nr > last_cap or (grantable is not None and nr not in grantable):
                if cap not in unknown:
                    unknown.append(cap)
                continue
            if nr not in numbers:
                numbers.append(nr)
        out[name] = numbers
    if unknown and warn:
        names = " ".join(_printable(c) for c in sorted(unknown))
        warn(f"ignoring unknown or unavailable capabilities: [{names}]")
    allowed = set(out["permitted"]) & set(out["inheritable"])
    refused = [c for c in out["ambient"] if c not in allowed]
    if refused:
        out["ambient"] = [c for c in out["ambient"] if c in allowed]
        if debug:
            debug("ignoring ambient capabilities that are not both permitted and inheritable: "
                 f"[{' '.join(cap_name(c) for c in refused)}]")
    return out


def _printable(name):
    """A name from the config as one safe line (control characters escaped)."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in name)


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
