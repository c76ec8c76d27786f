"""Who runs pyrunc, and what runc's rootless rules make of it.

Two separate questions, as in runc:
- rootless EUID (`rootless_euid`): pyrunc runs as a non-root user. The
  config must then create or join a user namespace and may map only ids the
  user owns: its own (written by the runtime) and its ranges in /etc/subuid
  and /etc/subgid (written by the setuid newuidmap/newgidmap);
  config/checks/rootless.py holds those rules, process/spawn.py writes the maps.
- rootless cgroups (`rootless_cgroups`): `--rootless true`, or `auto` when not
  the host's root (runc's shouldUseRootlessCgroupManager). Then a cgroup the
  user cannot write is skipped, unless the config asks for limits
  (lifecycle/acquire.py's cgroup_manager).

Place in the flow: create, run, exec and validate ask it; nothing here
changes the system. Import-light (os only); pwd only to name the user.
"""
import os

SUBUID = "/etc/subuid"
SUBGID = "/etc/subgid"
# the setuid helpers of Debian's `uidmap` package, by the file they check
TOOLS = {SUBUID: "newuidmap", SUBGID: "newgidmap"}
# where they live when a client (conmon, a shim) runs us with a bare PATH
_TOOL_DIRS = ("/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin", "/sbin")


def rootless_euid() -> bool:
    """runc's RootlessEUID: every rule of a rootless config follows from it."""
    return os.geteuid() != 0


def in_user_namespace() -> bool:
    """Not the initial user namespace, whose map is the whole id range (runc's userns.RunningInUserNS)."""
    try:
        with open("/proc/self/uid_map", "rb") as f:
            return f.read().split() != [b"0", b"0", b"4294967295"]
    except OSError:
        return False


def outer_uid(uid: int | None = None, uid_map: str = "/proc/self/uid_map") -> int:
    """`uid` (default: ours) as the parent user namespace sees it, through
    our uid_map: what SO_PEERCRED tells a bus daemon outside about us. Root
    of the user namespace rootless podman made is its user outside. An id
    the map does not hold is the overflow uid, 65534."""
    uid = os.geteuid() if uid is None else uid
    try:
        with open(uid_map) as f:
            lines = f.read().splitlines()
    except OSError:
        return uid
    for line in lines:
        try:
            inside, outside, count = (int(x) for x in line.split())
        except ValueError:
            continue
        if inside <= uid < inside + count:
            return outside + uid - inside
    return 65534


def rootless_cgroups(mode, systemd: bool) -> bool:
    """runc's shouldUseRootlessCgroupManager. `mode`: True/False as given by
    --rootless, None for auto: rootless for a non-root user; for root in a
    user namespace, with the cgroupfs driver always, and with --systemd-cgroup
    when the user outside is not root (runc asks the user bus for its
    OwnerUID; that is the uid our uid_map gives root: `outer_uid`)."""
    if mode is not None:
        return mode
    if os.geteuid() != 0:
        return True
    if not in_user_namespace():
        return False
    return not systemd or outer_uid() != 0


def user_bus_address() -> str | None:
    """The user's D-Bus session bus, where its systemd user manager listens:
    $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus (runc's
    DetectUserDbusSessionBusAddress, without asking systemctl); None when
    neither is there."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    if address:
        return address
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.exists(os.path.join(xdg, "bus")):
        return "unix:path=" + os.path.join(xdg, "bus")
    return None


def user_name(uid: int) -> str:
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def subid_ranges(path: str, uid: int, name: str) -> list:
    """[(first, count)] that `path` (/etc/subuid or /etc/subgid) grants the
    user, by name or by uid, as newuidmap reads it; [] when none or unreadable."""
    out = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0] not in (name, str(uid)):
            continue
        try:
            first, count = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if count > 0:
            out.append((first, count))
    return out


def own_only(entries, own_id: int) -> bool:
    """One mapping of the user's own id: the kernel lets the user write it."""
    return len(entries) == 1 and entries[0]["hostID"] == own_id and entries[0]["size"] == 1


def covered(host_id: int, size: int, own_id: int, ranges) -> bool:
    """Do the user's own id and its ranges hold host ids [host_id, host_id+size)?
    (newuidmap checks each mapping against one range, or the user's own id.)"""
    if size == 1 and host_id == own_id:
        return True
    return any(first <= host_id and host_id + size <= first + count for first, count in ranges)


def tool(path: str):
    """The absolute path of newuidmap (for SUBUID) or newgidmap, or None."""
    name = TOOLS[path]
    dirs = os.environ.get("PATH", "").split(os.pathsep) + list(_TOOL_DIRS)
    for d in dirs:
        candidate = os.path.join(d, name)
        if d and os.path.isabs(d) and os.access(candidate, os.X_OK):
            return candidate
    return None
