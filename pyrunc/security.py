"""Parent side of the process security fields: checked before the first fork.

Place in the flow: `config`/`container` call `check_process_security(cfg,
warn)` while preparing create/run/exec, so a bad ioPriority, scheduler,
personality, execCPUAffinity or an LSM label this host cannot apply is one
ConfigError line and nothing has been made yet. The child applies the same
fields with pyrunc.init.security (one table of names, used by both sides).
Capabilities are resolved by pyrunc.capabilities, seccomp by pyrunc.seccomp.

`parse_cpu_list()` turns execCPUAffinity strings into CPU sets;
`set_final_cpu_affinity()` is what the parent does once an exec'd process is
in its cgroup (runc: "final", or reset to every CPU when none was given).
"""
from __future__ import annotations

import os

from pyrunc.errors import ConfigError
from pyrunc.init import security as child

def check_process_security(cfg: dict, warn=None) -> None:
    process = cfg.get("process") or {}
    linux = cfg.get("linux") or {}
    for key, fn in (("ioPriority", child.ioprio_value), ("scheduler", child.sched_attr)):
        if process.get(key) is not None:
            try:
                fn(process[key])
            except ValueError as exc:
                raise ConfigError(f"config.json: process.{key}: {exc}") from None
    pers = linux.get("personality")
    if pers is not None:
        try:
            child.personality_value(pers)
        except ValueError as exc:
            raise ConfigError(f"config.json: linux.personality: {exc}") from None
        if pers.get("flags") and warn:
            warn(f"ignoring unsupported personality flags: {pers['flags']}")
    aff = process.get("execCPUAffinity")
    if aff:
        for key in ("initial", "final"):
            if aff.get(key):
                try:
                    parse_cpu_list(aff[key])
                except ValueError as exc:
                    raise ConfigError(f"config.json: process.execCPUAffinity.{key}: {exc}") from None
    # runc's validator refuses a label for an LSM the host does not run;
    # its init fails the same way for an AppArmor profile.
    if process.get("selinuxLabel") and not child._lsm_enabled("selinux"):
        raise ConfigError("config.json: process.selinuxLabel: selinux label is specified in config, "
                          "but selinux is disabled or not supported")
    if process.get("apparmorProfile") and not child._lsm_enabled("apparmor"):
        raise ConfigError("config.json: process.apparmorProfile: apparmor profile is specified in "
                          "config, but apparmor is not enabled on this host")


def parse_cpu_list(text: str) -> set[int]:
    """"0-3,5, 7-9" -> {0,1,2,3,5,7,8,9} (the child's parser: one grammar)."""
    return child.parse_cpu_list(text)


def initial_cpus(process: dict) -> set[int] | None:
    aff = process.get("execCPUAffinity") or {}
    return parse_cpu_list(aff["initial"]) if aff.get("initial") else None


def set_final_cpu_affinity(pid: int, process: dict) -> None:
    """After the exec'd process joined its cgroup: `final`, else (when no
    affinity at all was asked for) every CPU, so it does not inherit ours."""
    aff = process.get("execCPUAffinity") or {}
    if aff.get("final"):
        cpus = parse_cpu_list(aff["final"])
    elif aff.get("initial"):
        return
    else:
        cpus = set(range(os.cpu_count() or 1))
    try:
        os.sched_setaffinity(pid, cpus)
    except OSError as exc:
        if aff.get("final"):
            raise ConfigError(f"error setting final CPU affinity: {os.strerror(exc.errno).lower()}") from exc
