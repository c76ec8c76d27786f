"""Where the cgroup hierarchies are, and where a container's cgroup goes in each.

Pure given its inputs: the cgroupfs root, the text of /proc/self/mountinfo
(which hierarchies are mounted where) and that of /proc/self/cgroup, all
injectable so unit tests run on a fake cgroupfs in a tmp dir. Used by
`new_manager` before anything is created; its results are stored in the
manager's record so that a later `delete` never has to resolve them again.

cgroupsPath semantics (runc 1.1 `specconv.CreateCgroupConfig`, `fs/paths.go`,
`fs2/defaultpath.go`):
- absolute `/a/b`: below each hierarchy's mount point;
- relative `a/b`: below the runtime's own cgroup in that hierarchy (v2: below
  the *parent* of its own cgroup, which holds no processes, so controllers can
  be delegated);
- empty: runc uses the relative path `<id>`; pyrunc uses the absolute
  `/pyrunc/<id>` instead, so containers never nest inside the cgroup of
  whichever shim or shell ran pyrunc, and all of them share one parent that
  `delete` prunes when it becomes empty.
"""

from pyrunc.errors import CgroupError
from pyrunc.kernel import posixos, procfs

DEFAULT_ROOT = "/sys/fs/cgroup"
DEFAULT_PARENT = "pyrunc"

# v1 controllers, in runc's subsystem order (cpuset first: its parents must be
# populated with cpus/mems before anything joins). "name=systemd" and the
# hybrid unified hierarchy ("") are joined but never configured.
V1_CONTROLLERS = ("cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb",
                  "net_cls", "net_prio", "perf_event", "freezer", "rdma", "misc", "name=systemd", "")


def mode(root: str = DEFAULT_ROOT) -> str:
    """'v2' (unified), 'hybrid' (v1 + controller-less cgroup2) or 'v1'."""
    if posixos.exists(posixos.join(root, "cgroup.controllers")):
        return "v2"
    if posixos.exists(posixos.join(root, "unified", "cgroup.controllers")):
        return "hybrid"
    return "v1"


def read_mountinfo() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


# cgroup v1 mount options that name no controller (kernel/cgroup/cgroup-v1.c)
_NOT_CONTROLLERS = frozenset(("rw", "ro", "none", "all", "noprefix", "clone_children", "cpuset_v2_mode",
                              "xattr", "favordynmods", "nofavordynmods"))


def _is_controller(option: str) -> bool:
    if option.startswith("name="):
        return True
    return "=" not in option and option not in _NOT_CONTROLLERS


def parse_cgroup_mounts(mountinfo: str) -> list[tuple[str, str, str, list[str]]]:
    """(mount point, root in the hierarchy, fstype, controllers) of every
    cgroup and cgroup2 mount in a /proc/<pid>/mountinfo text, in its order.

    Controllers come from the super options, as the kernel names them:
    `cpu,cpuacct` co-mounted gives both, a named hierarchy gives `name=<n>`.
    """
    out = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        ctrls = [o for o in tail[2].split(",") if _is_controller(o)] if tail[0] == "cgroup" else []
        out.append((procfs.unescape_mountinfo(fields[4]), procfs.unescape_mountinfo(fields[3]), tail[0], ctrls))
    return out


def v1_hierarchies(root: str = DEFAULT_ROOT, mountinfo: str | None = None) -> dict[str, tuple[str, str]]:
    """controller -> (mount point, the hierarchy path mounted there), found in
    /proc/self/mountinfo as runc does: a directory under `root` that is not a
    cgroup mount (someone's plain `mkdir /sys/fs/cgroup/hugetlb`) is no
    hierarchy.

    A co-mounted hierarchy `cpu,cpuacct` serves both controllers; the named
    hierarchy `name=systemd` is keyed so; the hybrid cgroup2 below `root` is
    keyed "" as runc does. A hierarchy mounted twice under `root` (a bind
    mount) is taken at its first mount point. `mountinfo` is the text to read
    instead of /proc/self/mountinfo (tests pass a fake tree's).
    """
    if mountinfo is None:
        mountinfo = read_mountinfo()
    base = root.rstrip("/") + "/"
    out: dict[str, tuple[str, str]] = {}
    for point, mroot, fstype, ctrls in parse_cgroup_mounts(mountinfo):
        if not point.startswith(base):
            continue
        for ctrl in ([""] if fstype == "cgroup2" else ctrls):
            out.setdefault(ctrl, (point, mroot))
    return out


def v1_mounts(root: str = DEFAULT_ROOT, mountinfo: str | None = None) -> dict[str, str]:
    """controller -> hierarchy directory (see v1_hierarchies)."""
    return {ctrl: point for ctrl, (point, _) in v1_hierarchies(root, mountinfo).items()}


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup -> {controller: path}; the v2 line is keyed ""."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, ctrls, path = parts
        if ctrls == "":
            out[""] = path
            continue
        for c in ctrls.split(","):
            out[c] = path
    return out


def own_cgroups() -> str:
    with open("/proc/self/cgroup") as f:
        return f.read()


def clean(path: str) -> str:
    """runc's utils.CleanPath: collapse `..` without escaping the root."""
    if path == "":
        return ""
    import posixpath  # create's path (it loads os anyway); kill and delete never clean a path
    if posixpath.isabs(path):
        return posixpath.normpath(path).replace("//", "/")
    # a relative path is cleaned as if it were absolute, so `../x` stays inside
    cleaned = posixpath.normpath("/" + path)
    return posixpath.relpath(cleaned, "/") if cleaned != "/" else ""


def inner_path(container_id: str, cgroups_path: str | None) -> str:
    """The path below each hierarchy (absolute) or below our own cgroup (relative)."""
    if not cgroups_path:
        return f"/{DEFAULT_PARENT}/{container_id}"
    inner = clean(cgroups_path)
    if inner in ("", "/"):
        raise CgroupError(f"cgroup: cgroupsPath {cgroups_path!r} names the root cgroup")
    return inner


def v1_paths(inner: str, root: str = DEFAULT_ROOT, proc_self_cgroup: str | None = None,
             mountinfo: str | None = None) -> dict[str, str]:
    """controller -> the container's directory in that hierarchy (v1 and hybrid)."""
    mounts = v1_hierarchies(root, mountinfo)
    own = None
    paths: dict[str, str] = {}
    for ctrl in V1_CONTROLLERS:
        if ctrl not in mounts:
            continue
        mnt, mroot = mounts[ctrl]
        if posixos.isabs(inner):
            paths[ctrl] = mnt + inner
        else:
            if own is None:
                own = parse_proc_cgroup(proc_self_cgroup if proc_self_cgroup is not None else own_cgroups())
            base = own.get(ctrl, "/")
            # /proc/self/cgroup names paths from the hierarchy's root; a mount
            # of a subtree (a nested container's) shows them below its root
            if mroot != "/" and (base == mroot or base.startswith(mroot + "/")):
                base = base[len(mroot):] or "/"
            paths[ctrl] = posixos.join(mnt + base.rstrip("/"), inner)
    return paths


def v2_path(inner: str, root: str = DEFAULT_ROOT, proc_self_cgroup: str | None = None) -> str:
    if posixos.isabs(inner):
        return root + inner
    own = parse_proc_cgroup(proc_self_cgroup if proc_self_cgroup is not None else own_cgroups()).get("", "/")
    # our own cgroup most likely holds processes, so controllers could not be
    # enabled for a child of it ("no internal processes"): use its parent.
    return posixos.join(root + posixos.dirname(own).rstrip("/"), inner)


def prunable_parents(inner: str) -> list[str]:
    """Parents (relative to a hierarchy's base) that delete may remove when empty.

    Only our own default parent qualifies up front: a parent the user named
    may belong to someone else (kubelet's /kubepods) even when it is empty.
    Parents that `create` itself made are added to the record at that time.
    """
    if inner.startswith(f"/{DEFAULT_PARENT}/"):
        return [f"/{DEFAULT_PARENT}"]
    return []
