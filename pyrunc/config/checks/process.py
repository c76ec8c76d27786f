"""Rules about the container's process: process.* (args, cwd, oomScoreAdj,
rlimits, capabilities, scheduler, ioPriority, execCPUAffinity, LSM labels)
and linux.personality. Part of pyrunc.config's one pipeline
(checks/pipeline.py), run by create and `validate`; `exec` runs the
attribute rules on its process.json through check_process_security(),
without the rest of pyrunc.config.

What the child would refuse (pyrunc.init.apply_security) is decided here
with the same parsers (pyrunc.security.attributes), so a bad value is one
line before anything is made.

Capabilities this host cannot grant (not a capability, unknown to this
kernel, outside the runtime's bounding set) are warnings, as the spec asks:
`validate` lists each; create and exec say them in runc's one line
(report_capabilities, which also tells pyrunc.security.capabilities which
names to leave out when it translates the rest to numbers).
Import-light: struct, pyrunc.security.attributes and .capabilities,
pyrunc.kernel.procfs and .capnames (no ctypes, no python-prctl).
"""
from __future__ import annotations

import struct

from pyrunc.config.findings import ERROR, error, jpath, show, warning
from pyrunc.errors import ConfigError
from pyrunc.kernel import procfs
from pyrunc.kernel.capnames import CAPABILITY_NUMBERS
from pyrunc.security import attributes as attrs
from pyrunc.security import capabilities as host_caps


def check_process(cfg, ctx):
    proc = cfg.get("process")
    if proc is None:
        # optional in the spec until `start`, but create already runs the init that waits for it
        yield error("process", "is required to create a container")
        return
    if not proc.get("args"):
        yield error("process.args", "must be a non-empty array")
    if not proc["cwd"].startswith("/"):
        yield error("process.cwd", f"{show(proc['cwd'])} must be an absolute path")
    adj = proc.get("oomScoreAdj")
    if adj is not None and not -1000 <= adj <= 1000:
        yield error("process.oomScoreAdj", f"{adj} is out of range (-1000 to 1000)")


# Linux's resource limits (setrlimit(2)); the spec: unmappable values MUST be an error
_RLIMITS = {"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
            "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
            "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"}


def check_rlimits(cfg, ctx):
    first: dict[str, int] = {}
    for i, rl in enumerate((cfg.get("process") or {}).get("rlimits") or []):
        where = jpath("process", "rlimits", i)
        kind = rl["type"]
        if kind not in _RLIMITS:
            yield error(f"{where}.type", f"{show(kind)} is not a Linux resource limit")
        elif kind in first:
            yield error(f"{where}.type", f"{show(kind)} is set twice (first at {jpath('process', 'rlimits', first[kind])})")
        else:
            first[kind] = i
        if rl["soft"] > rl["hard"]:
            yield error(f"{where}.soft", f"{rl['soft']} is above the hard limit {rl['hard']}")


def capability_problem(cap, last_cap: int | None, grantable: set[int] | None) -> str | None:
    """Why this host cannot grant `cap`, or None. `last_cap`: the kernel's
    cap_last_cap; `grantable`: the runtime's bounding set (None: unknown)."""
    # exactly the kernel's spelling, as runc: "cap_chown" or "CHOWN" is unknown
    number = CAPABILITY_NUMBERS.get(cap) if isinstance(cap, str) else None
    if number is None:
        return "is not a Linux capability"
    if last_cap is not None and number > last_cap:
        return "is not known to this kernel"
    if grantable is not None and number not in grantable:
        # e.g. CAP_SYS_RESOURCE on a host whose runtime was started without it
        return "is not in this runtime's bounding set"
    return None


def check_capabilities(cfg, ctx):
    """The spec (1.1+): capabilities that cannot be granted are logged as warnings, not errors."""
    caps = (cfg.get("process") or {}).get("capabilities") or {}
    for set_name in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        for i, cap in enumerate(caps.get(set_name) or []):
            why = capability_problem(cap, ctx.cap_last_cap, ctx.grantable)
            if why:
                yield warning(jpath("process", "capabilities", set_name, i), f"{show(cap)} {why}; ignored")


def report_capabilities(process_capabilities: dict | None, warn=None, *, last_cap: int | None = None,
                        grantable: set[int] | None = None) -> frozenset:
    """check_capabilities for create and exec: every name this host cannot
    grant in ONE warning line, as runc words it (the pipeline's per-field
    findings are for `validate`). Returns those names, for
    pyrunc.security.capabilities.resolve_capabilities to leave out.
    `last_cap` and `grantable` default to this kernel's and this process's."""
    if not process_capabilities:
        return frozenset()
    if last_cap is None:
        last_cap = host_caps.kernel_last_cap()
    if grantable is None:
        grantable = host_caps.host_bounding_set()
    unavailable = {cap for set_name in host_caps.SETS for cap in process_capabilities.get(set_name) or ()
                   if isinstance(cap, str) and capability_problem(cap, last_cap, grantable)}
    if unavailable and warn:
        names = " ".join(_printable(c) for c in sorted(unavailable))
        warn(f"ignoring unknown or unavailable capabilities: [{names}]")
    return frozenset(unavailable)


def _printable(name):
    """A name from the config as one safe line (control characters escaped)."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in name)


def check_scheduler(cfg, ctx):
    """runc's rules for process.scheduler (sched_setattr(2))."""
    sched = (cfg.get("process") or {}).get("scheduler")
    if not sched:
        return
    policy = sched.get("policy")
    if "nice" in sched and not -20 <= sched["nice"] <= 19:
        yield error("process.scheduler.nice", f"{sched['nice']} is out of range (-20 to 19)")
    if sched.get("priority"):
        if policy not in ("SCHED_FIFO", "SCHED_RR"):
            yield error("process.scheduler.priority", "can only be set for SCHED_FIFO or SCHED_RR")
        elif sched["priority"] < 0:
            yield error("process.scheduler.priority", f"{sched['priority']} must not be negative")
    if policy != "SCHED_DEADLINE":
        for field in ("runtime", "deadline", "period"):
            if sched.get(field):
                yield error(f"process.scheduler.{field}", "can only be set for SCHED_DEADLINE")


def check_process_attributes(cfg, ctx=None):
    """ioPriority, scheduler, personality, execCPUAffinity (what the child's
    parsers refuse) and LSM labels this host cannot apply."""
    process = cfg.get("process") or {}
    linux = cfg.get("linux") or {}
    for key, fn in (("ioPriority", attrs.ioprio_value), ("scheduler", attrs.sched_attr)):
        if process.get(key) is not None:
            try:
                fn(process[key])
            except ValueError as exc:
                yield error(f"process.{key}", str(exc))
            except struct.error:
                yield error(f"process.{key}", "a value is out of range for the kernel's structure")
    pers = linux.get("personality")
    if pers is not None and "domain" not in pers:
        yield error("linux.personality.domain", "is required (LINUX or LINUX32)")
    elif pers is not None:
        try:
            attrs.personality_value(pers)
        except ValueError as exc:
            yield error("linux.personality", str(exc))
        if pers.get("flags"):
            yield warning("linux.personality.flags", f"ignoring unsupported personality flags: [{' '.join(map(str, pers['flags']))}]")
    aff = process.get("execCPUAffinity")
    if aff:
        for key in ("initial", "final"):
            if aff.get(key):
                try:
                    procfs.parse_cpu_list(aff[key])
                except ValueError as exc:
                    yield error(f"process.execCPUAffinity.{key}", str(exc))
    # runc's validator refuses a label for an LSM the host does not run;
    # its init fails the same way for an AppArmor profile.
    if process.get("selinuxLabel") and not attrs.lsm_enabled("selinux"):
        yield error("process.selinuxLabel",
                    "selinux label is specified in config, but selinux is disabled or not supported")
    if process.get("apparmorProfile") and not attrs.lsm_enabled("apparmor"):
        yield error("process.apparmorProfile",
                    "apparmor profile is specified in config, but apparmor is not enabled on this host")


def check_process_security(cfg: dict, warn=None) -> None:
    """check_process_attributes(), raising the first error: for `exec --process`,
    whose process.json is not a bundle (create runs them in the pipeline)."""
    for finding in check_process_attributes(cfg):
        if finding.severity == ERROR:
            raise ConfigError(finding.text())
        if warn:
            warn(finding.message)
