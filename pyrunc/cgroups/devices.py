"""Device access rules: the OCI `linux.resources.devices` list, runc's default
allow-list, and an emulator of the v1 devices controller.

The emulator (after runc's `cgroups/devices` emulator) reduces any rule list to
"default allow/deny + exceptions". From that the v1 driver computes the
smallest sequence of devices.allow/devices.deny writes that moves a cgroup from
its current list to the target (never opening a window where everything is
denied on `update`), and the v2 driver builds its eBPF program. Pure: no I/O.
"""
from __future__ import annotations

from pyrunc.records import dataclass  # dataclasses costs ~13 ms per create (pyrunc.records)

from pyrunc.errors import CgroupError

WILDCARD = -1
_PERMS = "rwm"


@dataclass(frozen=True)
class Rule:
    type: str          # 'a' (all), 'c' or 'b'
    major: int         # WILDCARD for '*'
    minor: int
    access: str        # subset of "rwm"
    allow: bool

    def cgroup_string(self) -> str:
        """The v1 devices.allow/deny line: `c 1:3 rwm`, `a *:* rwm`."""
        if self.type == "a":
            return "a"
        maj = "*" if self.major == WILDCARD else str(self.major)
        mnr = "*" if self.minor == WILDCARD else str(self.minor)
        return f"{self.type} {maj}:{mnr} {self.access}"


def _norm_access(access: str) -> str:
    return "".join(p for p in _PERMS if p in access)


def _rule(type_, major, minor, access, allow=True) -> Rule:
    return Rule(type_, major, minor, access, allow)


# runc's specconv.AllowedDevices, in its order: mknod of anything, the standard
# character devices, /dev/pts/*, /dev/console and tun. Paths let a device that
# config.json lists itself replace the default (runc `createDevices`).
DEFAULT_DEVICES: tuple[tuple[str | None, Rule], ...] = (
    (None, _rule("c", WILDCARD, WILDCARD, "m")),
    (None, _rule("b", WILDCARD, WILDCARD, "m")),
    ("/dev/null", _rule("c", 1, 3, "rwm")),
    ("/dev/random", _rule("c", 1, 8, "rwm")),
    ("/dev/full", _rule("c", 1, 7, "rwm")),
    ("/dev/tty", _rule("c", 5, 0, "rwm")),
    ("/dev/zero", _rule("c", 1, 5, "rwm")),
    ("/dev/urandom", _rule("c", 1, 9, "rwm")),
    (None, _rule("c", 136, WILDCARD, "rwm")),   # /dev/pts/*
    (None, _rule("c", 5, 2, "rwm")),            # /dev/ptmx
    (None, _rule("c", 10, 200, "rwm")),         # /dev/net/tun
)


def from_spec(devices: list | None, linux_device_paths=()) -> list[Rule]:
    """OCI resources.devices + runc's defaults, in runc's order (defaults last)."""
    rules: list[Rule] = []
    for i, d in enumerate(devices or []):
        access = d.get("access", "")
        if not access:
            raise CgroupError(f"cgroup devices: linux.resources.devices[{i}].access: must not be empty")
        # a letter other than r, w, m is ignored, not refused: runc reads the
        # string as a set of those three (its own integration suite sends "rwa")
        t = d.get("type") or "a"
        if t not in ("a", "c", "b", "u", "p"):
            raise CgroupError(f"cgroup devices: linux.resources.devices[{i}].type: invalid {t!r}")
        if t == "u":  # unbuffered char device is a char device to the cgroup
            t = "c"
        if t == "p":
            raise CgroupError(f"cgroup devices: linux.resources.devices[{i}].type: fifo rules cannot be enforced by cgroups")
        major = d.get("major")
        minor = d.get("minor")
        rules.append(Rule(t, WILDCARD if major is None else int(major),
                          WILDCARD if minor is None else int(minor),
                          _norm_access(access), bool(d.get("allow", False))))
    listed = set(linux_device_paths or ())
    for path, rule in DEFAULT_DEVICES:
        if path is not None and path in listed:
            continue
        rules.append(rule)
    return rules


class Emulator:
    """The v1 devices controller's state: a default and a map of exceptions."""

    def __init__(self, default_allow: bool = False, rules: dict | None = None):
        self.default_allow = default_allow
        self.rules: dict[tuple[str, int, int], str] = dict(rules or {})

    @classmethod
    def from_rules(cls, rules, start_allow: bool = True) -> "Emulator":
        # a fresh v1 cgroup inherits its parent's list, usually "a *:* rwm"
        emu = cls(default_allow=start_allow)
        for r in rules:
            emu.apply(r)
        return emu

    @classmethod
    def from_list(cls, text: str) -> "Emulator":
        """Parse devices.list (which only ever shows allow entries)."""
        emu = cls(default_allow=False)
        for line in text.splitlines():
            fields = line.replace(":", " ").split()
            if len(fields) != 4:
                if line.strip():
                    raise CgroupError(f"cgroup devices: malformed devices.list line {line!r}")
                continue
            t, maj, mnr, perms = fields
            if t == "a":
                emu = cls(default_allow=True)
                continue
            emu.apply(Rule(t, WILDCARD if maj == "*" else int(maj),
                           WILDCARD if mnr == "*" else int(mnr), perms, True))
        return emu

    def is_allow_all(self) -> bool:
        return self.default_allow and not self.rules

    def apply(self, rule: Rule) -> None:
        if rule.type == "a":
            self.default_allow = rule.allow
            self.rules = {}
            return
        # an exception of the same polarity as the default is a no-op hole:
        # allow under default-allow removes deny entries, and vice versa
        if rule.allow == self.default_allow:
            self._remove(rule)
        else:
            key = (rule.type, rule.major, rule.minor)
            self.rules[key] = _norm_access(self.rules.get(key, "") + rule.access)

    def _remove(self, rule: Rule) -> None:
        key = (rule.type, rule.major, rule.minor)
        for partial in ((rule.type, WILDCARD, rule.minor), (rule.type, rule.major, WILDCARD),
                        (rule.type, WILDCARD, WILDCARD)):
            if partial == key:
                continue
            held = self.rules.get(partial, "")
            if any(p in held for p in rule.access):
                raise CgroupError(
                    f"cgroup devices: rule {rule.cgroup_string()!r} cannot punch a hole in the wildcard "
                    f"rule {Rule(partial[0], partial[1], partial[2], held, True).cgroup_string()!r}")
        left = "".join(p for p in self.rules.get(key, "") if p not in rule.access)
        if left:
            self.rules[key] = left
        else:
            self.rules.pop(key, None)

    def ordered(self) -> list[tuple[tuple[str, int, int], str]]:
        return sorted(self.rules.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0]))

    def transition(self, target: "Emulator") -> list[Rule]:
        """The writes that turn this state into `target` (runc `Transition`)."""
        out: list[Rule] = []
        old = self.rules
        if self.default_allow or self.default_allow != target.default_allow:
            out.append(Rule("a", WILDCARD, WILDCARD, "rwm", target.default_allow))
            old = {}
        for key, perms in sorted(old.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
            dropped = "".join(p for p in perms if p not in target.rules.get(key, ""))
            if dropped:
                out.append(Rule(key[0], key[1], key[2], dropped, target.default_allow))
        for key, perms in target.ordered():
            gained = "".join(p for p in perms if p not in old.get(key, ""))
            if gained:
                out.append(Rule(key[0], key[1], key[2], gained, not target.default_allow))
        return out

    def effective_rules(self) -> list[Rule]:
        """The target as a clean list: the wildcard first, then the exceptions."""
        return Emulator(default_allow=False).transition(self)

    def allows(self, type_: str, major: int, minor: int, access: str) -> bool:
        """Would the kernel allow this access? (the oracle the eBPF tests use)"""
        need = set(access)
        for (t, maj, mnr), perms in self.rules.items():
            if t == type_ and maj in (WILDCARD, major) and mnr in (WILDCARD, minor):
                if need <= set(perms):
                    return not self.default_allow
        return self.default_allow
