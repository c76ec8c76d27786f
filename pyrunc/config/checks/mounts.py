"""Rules about mounts: destinations, bind sources, mounts at and under /proc,
idmapped mounts, and the path lists (maskedPaths, readonlyPaths) that need a
mount namespace. Part of pyrunc.config's one pipeline (checks/pipeline.py).

The /proc rule is runc's checkProcMount: a mount of another filesystem at
/proc, or of a file over a procfs file, would redirect the runtime's own
procfs writes (sysctls, LSM attrs: CVE-2019-19921, CVE-2025-52881).
Destinations are judged as the init will mount them (pyrunc.mountpaths).
Import-light: os, pyrunc.mountpaths.
"""
from __future__ import annotations

import os

from pyrunc import mountpaths
from pyrunc.config.checks.namespaces import has_ns
from pyrunc.config.findings import error, jpath, show, warning
from pyrunc import testhooks as testguards


def check_mounts(cfg, ctx):
    for i, mount in enumerate(cfg.get("mounts") or []):
        dest = mount["destination"]
        if not dest:
            yield error(jpath("mounts", i, "destination"), "must not be empty")
        elif not dest.startswith("/"):
            yield warning(jpath("mounts", i, "destination"),
                          f"{show(dest)} is relative (deprecated); taken as relative to /")
        if any(opt in ("idmap", "ridmap") for opt in mount.get("options") or ()):
            yield error(jpath("mounts", i, "options"), "idmapped mounts are not supported")


def is_bind(mount) -> bool:
    options = mount.get("options") or ()
    return mount.get("type") == "bind" or "bind" in options or "rbind" in options


def rootfs_forms(cfg, bundle_dir: str) -> tuple:
    return mountpaths.rootfs_forms((cfg.get("root") or {}).get("path") or "", bundle_dir)


def check_bind_sources(cfg, ctx):
    """A missing bind source outside the rootfs can only fail the mount: say so now.

    One inside the rootfs is left to the mount itself, as runc does: an earlier
    mount in the list may provide it (runc's "mount order" tests bind a path
    that exists only once an earlier bind is mounted in the container).
    """
    roots = None
    for i, mount in enumerate(cfg.get("mounts") or []):
        if not is_bind(mount):
            continue
        source = mount.get("source") or ""
        if not os.path.isabs(source):
            source = os.path.join(ctx.bundle_dir, source)
        if os.path.lexists(source):
            continue
        if roots is None:
            roots = rootfs_forms(cfg, ctx.bundle_dir)
        # spelled below the rootfs (the init resolves it there), or reaching it
        real = os.path.realpath(source)   # resolves what exists, keeps the rest
        if mountpaths.below_rootfs(source, roots) is None and mountpaths.below_rootfs(real, roots) is None:
            yield error(jpath("mounts", i, "source"), f"{source}: no such file or directory")


# Files under /proc a mount may cover: what lxcfs emulates (runc's list).
VALID_PROC_MOUNTS = frozenset({
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
    "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
})


def check_proc_mounts(cfg, ctx):
    """Only procfs at /proc, only lxcfs's files under it."""
    return proc_mount_problems(cfg, rootfs_forms(cfg, ctx.bundle_dir))


def proc_mount_problems(cfg: dict, roots: tuple = ()):
    """Nothing but procfs on /proc, and nothing under /proc except lxcfs's
    files (runc's checkProcMount). `roots` (mountpaths.rootfs_forms): a
    destination spelled `$rootfs/proc/...` is judged as the /proc/... the
    init will mount on."""
    if testguards.off("proc-mounts"):
        return
    for i, mount in enumerate(cfg.get("mounts") or []):
        raw = mount.get("destination") or ""
        dest = mountpaths.destination(raw, roots)
        if dest != "/proc" and not dest.startswith("/proc/"):
            continue
        where = jpath("mounts", i, "destination")
        bind = is_bind(mount)
        if dest == "/proc":
            if bind and _on_procfs(mount.get("source") or ""):
                continue
            if not bind and mount.get("type") == "proc":
                continue
            yield error(where, f"{raw!r} cannot be mounted because it is not of type proc")
        elif dest not in VALID_PROC_MOUNTS:
            yield error(where, f"{raw!r} cannot be mounted because it is inside /proc")


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


def check_mount_idmaps(cfg, ctx):
    """mounts[].uidMappings ask for an idmapped mount, which pyrunc cannot make
    (check_mounts refuses the idmap options for the same reason)."""
    for i, mount in enumerate(cfg.get("mounts") or []):
        for field in ("uidMappings", "gidMappings"):
            if mount.get(field) is not None:
                yield error(jpath("mounts", i, field), "idmapped mounts are not supported")


def check_path_lists(cfg, ctx):
    """mounts, maskedPaths, readonlyPaths: each needs a mount namespace."""
    if cfg.get("mounts") and not has_ns(cfg, "mount"):
        # runc mounts them in the caller's namespace and leaves them there;
        # pyrunc would have to ignore them: neither is what the config asks for
        yield error("mounts", "need a mount namespace: add {\"type\": \"mount\"} to linux.namespaces")
    linux = cfg.get("linux") or {}
    for field in ("maskedPaths", "readonlyPaths"):
        for i, path in enumerate(linux.get(field) or []):
            if not path.startswith("/"):
                yield error(jpath("linux", field, i), f"{show(path)} must be an absolute path")
        if linux.get(field) and not has_ns(cfg, "mount"):
            # without one they could not be applied (runc refuses too)
            yield error(jpath("linux", field), "needs a mount namespace: add {\"type\": \"mount\"} to linux.namespaces")
