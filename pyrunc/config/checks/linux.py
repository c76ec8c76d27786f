"""Rules for linux fields applied outside the plan's usual paths, or not at
all: memoryPolicy (set_mempolicy before execve), netDevices (moved into the
container's network namespace by pyrunc.lifecycle.netdevices), intelRdt
(refused: pyrunc has no resctrl support). (mountLabel has no rule: applied
where SELinux runs, ignored elsewhere, pyrunc.config.coverage.) Part of pyrunc.config's one pipeline (checks/pipeline.py).

Rules are runc's (libcontainer/configs/validate/validator.go) unless a
comment says why not. Import-light: os and pyrunc.kernel.mempolicy.
"""
from __future__ import annotations

from pyrunc.config.checks.namespaces import is_host_namespace
from pyrunc.config.findings import error, jpath, show
from pyrunc.errors import PolicyError
from pyrunc.kernel import mempolicy

IFNAMSIZ = 16  # with the NUL: a Linux interface name has at most 15 bytes


def check_memory_policy(cfg, ctx):
    policy = (cfg.get("linux") or {}).get("memoryPolicy")
    if policy is None:
        return
    try:
        mempolicy.compile_policy(policy)
    except PolicyError as exc:
        yield error(f"linux.memoryPolicy.{exc.field}", exc.text)


def resctrl_mounted(mountinfo="/proc/self/mountinfo") -> bool:
    """Is a resctrl filesystem mounted (runc's intelrdt.IsEnabled)?"""
    try:
        with open(mountinfo) as f:
            return any(" - resctrl " in line for line in f)
    except OSError:
        return False


def check_intel_rdt(cfg, ctx):
    if (cfg.get("linux") or {}).get("intelRdt") is None:
        return
    if not resctrl_mounted():
        # runc's words: the host has no resctrl, so nothing can apply it
        yield error("linux.intelRdt", "intelRdt is specified in config, but Intel RDT is not enabled")
    else:
        yield error("linux.intelRdt", "is not supported by pyrunc (it cannot create resctrl groups)")


def valid_ifname(name) -> bool:
    """What the kernel's dev_valid_name accepts."""
    return (isinstance(name, str) and 0 < len(name.encode()) < IFNAMSIZ and name not in (".", "..")
            and not any(c in name for c in "/: \t\n"))


def check_net_devices(cfg, ctx):
    linux = cfg.get("linux") or {}
    devices = linux.get("netDevices")
    if not devices:
        return
    nets = [ns for ns in linux.get("namespaces") or [] if ns.get("type") == "network"]
    if not nets:
        yield error("linux.netDevices", "needs a network namespace: add {\"type\": \"network\"} to linux.namespaces")
    elif nets[0].get("path") and is_host_namespace(nets[0]["path"], "net"):
        yield error("linux.netDevices", "cannot move devices into the host's own network namespace")
    seen: dict[str, str] = {}
    for host_name, dev in devices.items():
        where = jpath("linux", "netDevices", host_name)
        if not valid_ifname(host_name):
            yield error(where, f"{show(host_name)} is not a valid network device name")
        target = (dev or {}).get("name") or host_name
        if (dev or {}).get("name") is not None and not valid_ifname(dev["name"]):
            yield error(f"{where}.name", f"{show(dev['name'])} is not a valid network device name")
        elif target in seen:
            # the kernel would refuse the second move half-way through the create
            yield error(f"{where}.name", f"{show(target)} is also the name of {seen[target]} in the container")
        seen[target] = host_name
