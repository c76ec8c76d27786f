"""systemd unit names and properties for a container's cgroup: pure.

What the systemd driver (pyrunc.cgroups.systemd) sends over D-Bus is computed
here from cgroupsPath, linux.resources, the device rules and the
`org.systemd.property.*` annotations, following runc's systemd driver
(`specconv.CreateCgroupConfig`, `systemd/common.go`, `systemd/v2.go`). No
D-Bus and no I/O except reading /proc/devices for device group names.
"""
from __future__ import annotations

import os

from pyrunc.cgroups.resources import signed, cpu_shares_to_weight, swap_to_v2
from pyrunc.errors import CgroupError

DEFAULT_SLICE = "system.slice"
DEFAULT_PREFIX = "pyrunc"
_U64_MAX = (1 << 64) - 1


# ---------------------------------------------------------------- names (pure)


def parse_path(container_id: str, cgroups_path: str | None) -> tuple[str, str, str]:
    """cgroupsPath -> (slice, prefix, name)."""
    if not cgroups_path:
        return DEFAULT_SLICE, DEFAULT_PREFIX, container_id
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise CgroupError(f'cgroup: cgroupsPath must be "slice:prefix:name" for systemd cgroups, got {cgroups_path!r}')
    return parts[0] or DEFAULT_SLICE, parts[1], parts[2] or container_id


def unit_name(prefix: str, name: str) -> str:
    if name.endswith(".slice"):
        return name
    return f"{prefix}-{name}.scope" if prefix else f"{name}.scope"


def expand_slice(slice_: str) -> str:
    """`a-b-c.slice` -> `/a.slice/a-b.slice/a-b-c.slice` (systemd's slice nesting)."""
    if not slice_.endswith(".slice") or "/" in slice_ or len(slice_) <= len(".slice"):
        raise CgroupError(f"cgroup: invalid slice name {slice_!r}")
    stem = slice_[: -len(".slice")]
    if stem == "-":
        return "/"
    path, prefix = "", ""
    for comp in stem.split("-"):
        if not comp:
            raise CgroupError(f"cgroup: invalid slice name {slice_!r}")
        path += f"/{prefix}{comp}.slice"
        prefix += comp + "-"
    return path


def _bitmask(cpus: str) -> bytes:
    """"0-2,4" -> systemd's AllowedCPUs byte array (bit n = cpu n, little-endian)."""
    from pyrunc.cgroups.stats import parse_cpu_list
    ids = parse_cpu_list(cpus)
    if not ids:
        return b""
    buf = bytearray(max(ids) // 8 + 1)
    for i in ids:
        buf[i // 8] |= 1 << (i % 8)
    return bytes(buf)


def properties(resources: dict | None, version: str, warn=None) -> list[tuple[str, tuple[str, object]]]:
    """linux.resources -> systemd unit properties [(name, (dbus signature, value))]."""
    r = resources or {}
    props: list = []
    mem = r.get("memory") or {}
    cpu = r.get("cpu") or {}
    limit = signed(mem.get("limit", 0) or 0)
    v2 = version == "v2"
    if limit:
        props.append(("MemoryMax" if v2 else "MemoryLimit", ("t", _U64_MAX if limit < 0 else limit)))
    if v2:
        if mem.get("reservation"):
            props.append(("MemoryLow", ("t", int(mem["reservation"]))))
        swap = swap_to_v2(signed(mem.get("swap", 0) or 0), limit)
        if swap:
            props.append(("MemorySwapMax", ("t", _U64_MAX if swap < 0 else swap)))
    if cpu.get("shares"):
        if v2:
            props.append(("CPUWeight", ("t", cpu_shares_to_weight(int(cpu["shares"])))))
        else:
            props.append(("CPUShares", ("t", int(cpu["shares"]))))
    quota = signed(cpu.get("quota") or 0)
    period = int(cpu.get("period") or 0)
    if period:
        props.append(("CPUQuotaPeriodUSec", ("t", period)))
    if quota or period:
        per_sec = _U64_MAX
        if quota > 0:
            per_sec = quota * 1_000_000 // (period or 100_000)
            # systemd rounds to 10ms of CPU per second; round up like runc
            if per_sec % 10_000:
                per_sec = (per_sec // 10_000 + 1) * 10_000
        props.append(("CPUQuotaPerSecUSec", ("t", per_sec)))
    pids = r.get("pids") or {}
    if "limit" in pids:
        lim = signed(pids["limit"])
        if lim > 0 or lim == -1:
            props.append(("TasksMax", ("t", _U64_MAX if lim < 0 else lim)))
    bio = r.get("blockIO") or {}
    if bio.get("weight") and not v2:
        props.append(("BlockIOWeight", ("t", int(bio["weight"]))))
    if cpu.get("cpus"):
        props.append(("AllowedCPUs", ("ay", _bitmask(cpu["cpus"]))))
    if cpu.get("mems"):
        props.append(("AllowedMemoryNodes", ("ay", _bitmask(cpu["mems"]))))
    return props


def _device_group(type_: str, major: int, proc_devices: str) -> str | None:
    """`char-pts` for (c, 136) from /proc/devices: systemd names majors by group."""
    want = "Character devices:" if type_ == "c" else "Block devices:"
    section = None
    for line in proc_devices.splitlines():
        line = line.strip()
        if line.endswith("devices:"):
            section = line
            continue
        parts = line.split()
        if section == want and len(parts) == 2 and parts[0].isdigit() and int(parts[0]) == major:
            return ("char-" if type_ == "c" else "block-") + parts[1]
    return None


def device_properties(rules, proc_devices: str | None = None, exists=os.path.exists, warn=None) -> list:
    """Device rules -> DevicePolicy/DeviceAllow, as runc's generateDeviceProperties.

    systemd only has allow lists: a default-allow rule set with exceptions
    cannot be expressed and becomes deny-all here (the fs/eBPF side still
    applies the exact rules); `*:n` rules are skipped with a warning.
    """
    from pyrunc.cgroups.devices import WILDCARD, Emulator
    warn = warn or (lambda msg: None)
    emu = Emulator.from_rules(rules, start_allow=False)
    if emu.default_allow:
        if emu.is_allow_all():
            return [("DevicePolicy", ("s", "auto")), ("DeviceAllow", ("a(ss)", []))]
        warn("systemd cannot express deny-list device rules: it gets a deny-all rule")
        return [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", []))]
    if proc_devices is None:
        try:
            with open("/proc/devices") as f:
                proc_devices = f.read()
        except OSError:
            proc_devices = ""
    allow: list[tuple[str, str]] = []
    for rule in emu.effective_rules():
        if rule.type == "a":
            continue
        if rule.major == WILDCARD:
            if rule.minor != WILDCARD:
                warn(f"systemd has no '*:n' device rules: ignoring {rule.cgroup_string()}")
                continue
            path = ("char-" if rule.type == "c" else "block-") + "*"
        elif rule.minor == WILDCARD:
            path = _device_group(rule.type, rule.major, proc_devices)
            if path is None:
                warn(f"no device group for {rule.cgroup_string()} in /proc/devices: ignoring it for systemd")
                continue
        else:
            path = f"/dev/{'char' if rule.type == 'c' else 'block'}/{rule.major}:{rule.minor}"
            if not exists(path) and not exists("/sys" + path):
                warn(f"skipping device {path} for systemd: it does not exist")
                continue
        allow.append((path, rule.access))
    return [("DevicePolicy", ("s", "strict")), ("DeviceAllow", ("a(ss)", [])), ("DeviceAllow", ("a(ss)", allow))]


# ------------------------------------------------- org.systemd.property.* annotations

ANNOTATION_PREFIX = "org.systemd.property."
_GV_INT = {"byte": "y", "int16": "n", "uint16": "q", "int32": "i", "uint32": "u", "int64": "x", "uint64": "t"}


def parse_gvariant(text: str):
    """The GVariant text forms annotations use -> (dbus signature, value).

    A subset of godbus's ParseVariant: true/false, numbers (untyped integers
    are int32, decimals double), `uint64 123`-style typed numbers, quoted
    strings, and lists of strings or int32s.
    """
    t = text.strip()
    if t in ("true", "false"):
        return "b", t == "true"
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "'\"":
        return "s", t[1:-1]
    word, _, rest = t.partition(" ")
    if word in _GV_INT and rest:
        return _GV_INT[word], int(rest.strip(), 0)
    if word == "double" and rest:
        return "d", float(rest)
    if t.startswith("@as []") or t == "[]":
        return "as", []
    if t.startswith("[") and t.endswith("]"):
        items = [parse_gvariant(x) for x in t[1:-1].split(",")]
        sigs = {sig for sig, _ in items}
        if len(sigs) == 1 and sigs <= {"s", "i"}:
            return "a" + sigs.pop(), [v for _, v in items]
        raise ValueError("only lists of strings or of integers are supported")
    try:
        return "i", int(t, 0)
    except ValueError:
        pass
    return "d", float(t)  # ValueError: not a value we understand


def annotation_properties(annotations: dict | None) -> list:
    """`org.systemd.property.<Name>=<GVariant>` annotations -> unit properties (runc).

    `FooSec` becomes `FooUSec` with the value in microseconds.
    """
    props = []
    for key, raw in sorted((annotations or {}).items()):
        if not key.startswith(ANNOTATION_PREFIX):
            continue
        name = key[len(ANNOTATION_PREFIX):]
        if len(name) < 3 or not all("A" <= c <= "Z" or "a" <= c <= "z" for c in name):
            raise CgroupError(f"cgroup systemd: annotation {key}: invalid property name")
        try:
            sig, value = parse_gvariant(str(raw))
        except ValueError as exc:
            raise CgroupError(f"cgroup systemd: annotation {key}={raw}: cannot parse the value: {exc}") from None
        if name.endswith("Sec") and name[-4:-3].islower():
            if sig not in "ynqiuxtd" or len(sig) != 1:
                raise CgroupError(f"cgroup systemd: annotation {key}={raw}: not a number")
            name, sig, value = name[:-3] + "USec", "t", int(value * 1_000_000)
        props.append((name, (sig, value)))
    return props
