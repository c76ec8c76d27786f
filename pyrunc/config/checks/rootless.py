"""Rules for a config run by a non-root user (runc's RootlessEUID rules):
a user namespace, id maps the user may write (its own id, or its ranges in
/etc/subuid and /etc/subgid through newuidmap/newgidmap), uid=/gid= mount
options that name mapped ids, no additional groups. Part of pyrunc.config's
one pipeline (checks/pipeline.py), so `validate` run by the same user says
the same; silent when pyrunc runs as root (ctx.rootless).
Import-light: pyrunc.rootless (os; pwd for the user's name).
"""
from __future__ import annotations

from pyrunc import rootless
from pyrunc.config.checks.namespaces import namespaces
from pyrunc.config.findings import error, jpath


def check_user_namespace(cfg, ctx):
    if ctx.rootless and not any(ns.get("type") == "user" for ns in namespaces(cfg)):
        yield error("linux.namespaces", "rootless containers need a user namespace: "
                    "add {\"type\": \"user\"} (and linux.uidMappings, linux.gidMappings), "
                    "or see `pyrunc spec --rootless`")


_MAPS = (("uidMappings", rootless.SUBUID, "subuid", "geteuid"),
         ("gidMappings", rootless.SUBGID, "subgid", "getegid"))


def check_id_ranges(cfg, ctx):
    """Each mapping must be the user's own id or lie in one of its sub-id
    ranges, and a map of more than its own id needs the setuid helper."""
    if not ctx.rootless:
        return
    import os
    linux = cfg.get("linux") or {}
    uid = os.geteuid()
    name = rootless.user_name(uid)
    for field, path, kind, own in _MAPS:
        entries = linux.get(field) or []
        own_id = getattr(os, own)()
        if not entries or rootless.own_only(entries, own_id):
            continue
        ranges = rootless.subid_ranges(path, uid, name)
        for i, m in enumerate(entries):
            if rootless.covered(m["hostID"], m["size"], own_id, ranges):
                continue
            if not ranges:
                yield error(jpath("linux", field, i),
                            f"no {kind} range for user {name} in {path} (only the user's own id {own_id} "
                            "can be mapped without one)")
            else:
                last = m["hostID"] + m["size"] - 1
                yield error(jpath("linux", field, i),
                            f"host ids {m['hostID']}-{last} are not in user {name}'s ranges in {path}")
            break
        else:
            if rootless.tool(path) is None:
                yield error(jpath("linux", field), f"maps more than the user's own id: needs "
                            f"{rootless.TOOLS[path]} (Debian package uidmap), which is not installed")


def check_mount_ids(cfg, ctx):
    """uid=/gid= mount options must name ids the user namespace maps (runc's rootlessEUIDMount)."""
    if not ctx.rootless:
        return
    linux = cfg.get("linux") or {}
    for i, m in enumerate(cfg.get("mounts") or []):
        for option in m.get("options") or []:
            key, _, value = option.partition("=")
            field = {"uid": "uidMappings", "gid": "gidMappings"}.get(key)
            if field is None or not value.isdigit():
                continue
            if not any(e["containerID"] <= int(value) < e["containerID"] + e["size"]
                       for e in linux.get(field) or []):
                yield error(jpath("mounts", i, "options"),
                            f"{option}: not mapped by linux.{field} (a rootless container maps only its own ids)")


def check_additional_gids(cfg, ctx):
    if ctx.rootless and ((cfg.get("process") or {}).get("user") or {}).get("additionalGids"):
        yield error("process.user.additionalGids", "a rootless container cannot set additional groups")
