"""Parent side of the process security fields: checked before the first fork.

Place in the flow: process_problems() and proc_mount_problems() are rules of
pyrunc.config's one pipeline of checks (semantic.CHECKS), which create and
`validate` both run, so
a bad ioPriority, scheduler, personality, execCPUAffinity, an LSM label this
host cannot apply or a mount over /proc is one ConfigError line and nothing
has been made yet; `exec` runs the process rules through
check_process_security(). The child applies the same
fields with pyrunc.init.apply_security; the names and parsers both sides use are in
pyrunc.security.attributes (so this side needs neither ctypes nor python-prctl).
Capabilities are resolved by pyrunc.security.capabilities, seccomp by pyrunc.security.seccomp.compile.

`parse_cpu_list()` turns execCPUAffinity strings into CPU sets; the exec'd
process applies `final` itself (pyrunc.init.apply_security.set_exec_cpu_affinity).
"""
from __future__ import annotations

import os
import struct

from pyrunc import mountpaths
from pyrunc.testhooks import guards as testguards
from pyrunc.errors import ConfigError
from pyrunc.kernel import procfs
from pyrunc.security import attributes as attrs


def process_problems(cfg: dict):
    """(severity, JSON path, message) for each problem of the process fields:
    ioPriority, scheduler, personality, execCPUAffinity (what the child's
    parsers refuse) and LSM labels this host cannot apply. Plain tuples, so
    `exec` needs nothing of pyrunc.config; the pipeline makes them findings."""
    process = cfg.get("process") or {}
    linux = cfg.get("linux") or {}
    for key, fn in (("ioPriority", attrs.ioprio_value), ("scheduler", attrs.sched_attr)):
        if process.get(key) is not None:
            try:
                fn(process[key])
            except ValueError as exc:
                yield "error", f"process.{key}", str(exc)
            except struct.error:
                yield "error", f"process.{key}", "a value is out of range for the kernel's structure"
    pers = linux.get("personality")
    if pers is not None and "domain" not in pers:
        yield "error", "linux.personality.domain", "is required (LINUX or LINUX32)"
    elif pers is not None:
        try:
            attrs.personality_value(pers)
        except ValueError as exc:
            yield "error", "linux.personality", str(exc)
        if pers.get("flags"):
            yield "warning", "linux.personality.flags", f"ignoring unsupported personality flags: [{' '.join(map(str, pers['flags']))}]"
    aff = process.get("execCPUAffinity")
    if aff:
        for key in ("initial", "final"):
            if aff.get(key):
                try:
                    parse_cpu_list(aff[key])
                except ValueError as exc:
                    yield "error", f"process.execCPUAffinity.{key}", str(exc)
    # runc's validator refuses a label for an LSM the host does not run;
    # its init fails the same way for an AppArmor profile.
    if process.get("selinuxLabel") and not attrs.lsm_enabled("selinux"):
        yield ("error", "process.selinuxLabel",
               "selinux label is specified in config, but selinux is disabled or not supported")
    if process.get("apparmorProfile") and not attrs.lsm_enabled("apparmor"):
        yield ("error", "process.apparmorProfile",
               "apparmor profile is specified in config, but apparmor is not enabled on this host")


def check_process_security(cfg: dict, warn=None) -> None:
    """process_problems(), raising the first error: for `exec --process`, whose
    process.json is not a bundle (create runs them in pyrunc.config's pipeline)."""
    for severity, path, message in process_problems(cfg):
        if severity == "error":
            raise ConfigError(f"config.json: {path}: {message}")
        if warn:
            warn(message)


# Files under /proc a mount may cover: what lxcfs emulates (runc's list).
VALID_PROC_MOUNTS = frozenset({
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
    "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
})


def proc_mount_problems(cfg: dict, roots: tuple = ()):
    """Nothing but procfs on /proc, and nothing under /proc except lxcfs's
    files (runc's checkProcMount). A mount of another filesystem at /proc, or
    of a file over a procfs file, would redirect the runtime's own procfs
    writes (sysctls, LSM attrs: CVE-2019-19921, CVE-2025-52881). `roots`
    (mountpaths.rootfs_forms): a destination spelled `$rootfs/proc/...` is
    judged as the /proc/... the init will mount on."""
    if testguards.off("proc-mounts"):
        return
    for i, mount in enumerate(cfg.get("mounts") or []):
        raw = mount.get("destination") or ""
        dest = mountpaths.destination(raw, roots)
        if dest != "/proc" and not dest.startswith("/proc/"):
            continue
        where = f"mounts[{i}].destination"
        options = mount.get("options") or []
        is_bind = mount.get("type") == "bind" or "bind" in options or "rbind" in options
        if dest == "/proc":
            if is_bind and _on_procfs(mount.get("source") or ""):
                continue
            if not is_bind and mount.get("type") == "proc":
                continue
            yield "error", where, f"{raw!r} cannot be mounted because it is not of type proc"
        elif dest not in VALID_PROC_MOUNTS:
            yield "error", where, f"{raw!r} cannot be mounted because it is inside /proc"


def _on_procfs(path: str) -> bool:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return False
    from pyrunc.init import apply_security as child  # ctypes: only for a mount at /proc
    try:
        return child.fstatfs_type(fd) == child.PROC_SUPER_MAGIC
    except OSError:
        return False
    finally:
        os.close(fd)


def parse_cpu_list(text: str) -> set[int]:
    """"0-3,5, 7-9" -> {0,1,2,3,5,7,8,9} (the child's parser: one grammar)."""
    return procfs.parse_cpu_list(text)


def initial_cpus(process: dict) -> set[int] | None:
    aff = process.get("execCPUAffinity") or {}
    return parse_cpu_list(aff["initial"]) if aff.get("initial") else None


