"""Rules about linux.devices and linux.resources. Part of pyrunc.config's one
pipeline (checks/pipeline.py). The cgroup rules are the cgroup driver's own
(pyrunc.cgroups decides how it would translate the resources; runc's
validator refuses the same before anything exists): `unified` on a v1 host,
a swap limit v2 cannot express, device rules a cgroup cannot enforce.
Import-light: pyrunc.cgroups only for a config with linux.resources.
"""
from __future__ import annotations

from pyrunc.config.findings import Finding, error, jpath, show


def check_devices(cfg, ctx):
    for i, dev in enumerate((cfg.get("linux") or {}).get("devices") or []):
        if not dev["path"].startswith("/"):
            yield error(jpath("linux", "devices", i, "path"), f"{show(dev['path'])} must be an absolute path")
        if dev["type"] in ("c", "b", "u"):
            for field in ("major", "minor"):
                if field not in dev:
                    yield error(jpath("linux", "devices", i, field), f"is required for a type {dev['type']} device")


def check_cgroup_resources(cfg, ctx):
    """linux.resources as the cgroup driver will translate it. Pure: no cgroup
    is touched (an empty probe)."""
    res = (cfg.get("linux") or {}).get("resources")
    if not res:
        return
    from pyrunc.cgroups import devices, layout, resources
    from pyrunc.errors import CgroupError
    plan = resources.plan_v2 if layout.mode() == "v2" else resources.plan_v1
    for step in (lambda: plan(res, resources.DictProbe()), lambda: devices.from_spec(res.get("devices"))):
        try:
            step()
        except CgroupError as exc:
            yield _cgroup_finding(exc)


def _cgroup_finding(exc) -> Finding:
    """`cgroup memory: linux.resources.memory.swap: text` -> a finding at that path."""
    text = str(exc)
    head, sep, rest = text.partition(": linux.")
    if sep and head.startswith("cgroup"):
        path, sep, message = ("linux." + rest).partition(": ")
        if sep:
            return error(path, message)
    return error("linux.resources", text)
