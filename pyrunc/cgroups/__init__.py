"""cgroups: where a container's processes live and what they may use.

The lifecycle core uses only these two entry points:

    mgr = new_manager(container_id, cgroups_path, resources, systemd=False, warn=None)
    rec = mgr.record()          # saved in state.json before mgr.create()
    mgr = load_manager(rec)     # later: state, kill, ps, pause, events, delete

`new_manager` is pure (it only reads the layout); `create()` makes the
cgroup(s) and applies `linux.resources`; `add(pid)` places a process;
`destroy()` removes everything pyrunc made. Drivers: "fs" (cgroup v1 and
hybrid), "fs2" (cgroup v2), "systemd" (a transient scope over D-Bus, on either
version). Importing this package is cheap: drivers load on first use, jeepney
only for systemd, ctypes bpf only when a v2 device filter is applied.
"""

from pyrunc.cgroups import layout
from pyrunc.errors import CgroupError

__all__ = ["new_manager", "load_manager", "CgroupError"]


def new_manager(container_id: str, cgroups_path: str | None, resources: dict | None,
                systemd: bool = False, warn=None, *, root: str | None = None,
                linux_device_paths=(), proc_self_cgroup: str | None = None, bus=None,
                annotations: dict | None = None, mountinfo: str | None = None, bus_uid: int | None = None):
    """Describe the container's cgroup; nothing on the host is touched yet.

    `root` (default /sys/fs/cgroup), `mountinfo` (the text of
    /proc/self/mountinfo: where the v1 hierarchies are) and `proc_self_cgroup`
    are injectable for tests on a fake cgroupfs. `linux_device_paths` are the paths of
    config.json's linux.devices: a listed path replaces runc's default rule for
    it. `bus` (systemd only) is a D-Bus address for tests; `annotations`
    (systemd only) may carry runc's `org.systemd.property.<Name>` unit properties.
    `bus_uid` (systemd only): rootless, through the user's own manager on
    `bus`, authenticated as that uid; this asks the manager for its cgroup.
    """
    root = root or layout.DEFAULT_ROOT
    version = layout.mode(root)
    if systemd:
        from pyrunc.cgroups import systemd as sd
        return sd.new(container_id, cgroups_path, resources, root=root, version=version, warn=warn,
                      linux_device_paths=linux_device_paths, bus=bus, annotations=annotations,
                      mountinfo=mountinfo, bus_uid=bus_uid)
    # A systemd-form path ("test.slice:cri-containerd:<id>", which containerd's
    # CRI writes whenever the pod's parent is a slice) is, without
    # --systemd-cgroup, a relative path like any other: runc (1.1 to 1.4)
    # cleans it and puts it below its own cgroup, colons and all.
    inner = layout.inner_path(container_id, cgroups_path)
    prune_inner = layout.prunable_parents(inner)
    if version == "v2":
        from pyrunc.cgroups.v2 import V2Manager
        d = layout.v2_path(inner, root, proc_self_cgroup)
        prune = [root + p for p in prune_inner]
        return V2Manager(container_id, root, inner, {"": d}, resources, prune, warn, linux_device_paths)
    from pyrunc.cgroups.v1 import V1Manager
    paths = layout.v1_paths(inner, root, proc_self_cgroup, mountinfo)
    if "devices" not in paths:
        raise CgroupError("cgroup: no devices hierarchy is mounted: cannot confine device access")
    prune = sorted({d[: -len(inner)] + p for d in paths.values() for p in prune_inner if d.endswith(inner)})
    return V1Manager(container_id, root, inner, paths, resources, prune, warn, linux_device_paths)


def load_manager(record: dict, warn=None):
    """Rebuild a manager from `record()` output (cheap: no layout discovery)."""
    try:
        driver = record["driver"]
        args = (record["id"], record["root"], record["path"], record["paths"])
    except (KeyError, TypeError) as exc:
        raise CgroupError(f"cgroup: malformed cgroup record in state: missing {exc}") from exc
    prune = record.get("prune") or []
    if driver == "fs":
        from pyrunc.cgroups.v1 import V1Manager
        return V1Manager(*args, None, prune, warn)
    if driver == "fs2":
        from pyrunc.cgroups.v2 import V2Manager
        mgr = V2Manager(*args, None, prune, warn)
        if record.get("rootless"):
            mgr.mark_rootless()
        return mgr
    if driver == "systemd":
        from pyrunc.cgroups import systemd as sd
        return sd.load(record, warn)
    raise CgroupError(f"cgroup: unknown cgroup driver {driver!r} in state")
