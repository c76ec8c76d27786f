"""From a validated config to the flat plan the container's init executes.

Pure: no syscalls, so it is testable without root. The parent builds the plan
before the first fork from a config pyrunc.config's pipeline accepted (every
rule a user can break lives there, so `validate` and create agree); the
child only iterates over it (bubblewrap's SetupOp idea).
"""
from __future__ import annotations

import os
import resource
from pyrunc.records import dataclass, field  # dataclasses costs ~13 ms per create (pyrunc.records)

from pyrunc import mountpaths
from pyrunc.kernel import flags as k
from pyrunc.kernel.signals import signal_number  # noqa: F401 (moved; still plan.signal_number for callers)

# option -> (set flags, clear flags); runc's table (libcontainer/specconv)
MOUNT_FLAGS = {
    "async": (0, k.MS_SYNCHRONOUS), "atime": (0, k.MS_NOATIME), "bind": (k.MS_BIND, 0),
    "defaults": (0, 0), "dev": (0, k.MS_NODEV), "diratime": (0, k.MS_NODIRATIME),
    "dirsync": (k.MS_DIRSYNC, 0), "exec": (0, k.MS_NOEXEC), "mand": (k.MS_MANDLOCK, 0),
    "noatime": (k.MS_NOATIME, 0), "nodev": (k.MS_NODEV, 0), "nodiratime": (k.MS_NODIRATIME, 0),
    "noexec": (k.MS_NOEXEC, 0), "nomand": (0, k.MS_MANDLOCK), "norelatime": (0, k.MS_RELATIME),
    "nostrictatime": (0, k.MS_STRICTATIME), "nosuid": (k.MS_NOSUID, 0),
    "rbind": (k.MS_BIND | k.MS_REC, 0), "relatime": (k.MS_RELATIME, 0),
    "remount": (k.MS_REMOUNT, 0), "ro": (k.MS_RDONLY, 0), "rw": (0, k.MS_RDONLY),
    "silent": (k.MS_SILENT, 0), "loud": (0, k.MS_SILENT), "strictatime": (k.MS_STRICTATIME, 0),
    "suid": (0, k.MS_NOSUID), "sync": (k.MS_SYNCHRONOUS, 0), "lazytime": (k.MS_LAZYTIME, 0),
    "nolazytime": (0, k.MS_LAZYTIME), "nosymfollow": (k.MS_NOSYMFOLLOW, 0),
    "symfollow": (0, k.MS_NOSYMFOLLOW), "iversion": (0, 0), "noiversion": (0, 0),
    "acl": (k.MS_POSIXACL, 0), "noacl": (0, k.MS_POSIXACL),
}
PROPAGATION_FLAGS = {
    "private": k.MS_PRIVATE, "rprivate": k.MS_PRIVATE | k.MS_REC,
    "shared": k.MS_SHARED, "rshared": k.MS_SHARED | k.MS_REC,
    "slave": k.MS_SLAVE, "rslave": k.MS_SLAVE | k.MS_REC,
    "unbindable": k.MS_UNBINDABLE, "runbindable": k.MS_UNBINDABLE | k.MS_REC,
}
# recursive mount attributes (mount_setattr); runc accepts these spellings
RECURSIVE_ATTRS = {"rro", "rrw", "rnosuid", "rsuid", "rnodev", "rdev", "rnoexec", "rexec",
                   "rnodiratime", "rdiratime", "rrelatime", "rnorelatime", "rnoatime",
                   "ratime", "rstrictatime", "rnostrictatime", "rnosymfollow", "rsymfollow"}
# runc's extensions to the mount options (features.json lists them too)
EXTENSION_OPTIONS = {"tmpcopyup"}  # a tmpfs starts with the image's contents there

RLIMITS = {name: getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_")}
# the spec's list has it, Python's resource module does not: 10 in the kernel's
# asm-generic/resource.h, which every architecture uses for it
RLIMITS.setdefault("RLIMIT_LOCKS", 10)

DEFAULT_DEVICES = (
    # path, type, major, minor, mode
    ("/dev/null", "c", 1, 3, 0o666),
    ("/dev/zero", "c", 1, 5, 0o666),
    ("/dev/full", "c", 1, 7, 0o666),
    ("/dev/tty", "c", 5, 0, 0o666),
    ("/dev/random", "c", 1, 8, 0o666),
    ("/dev/urandom", "c", 1, 9, 0o666),
)
DEFAULT_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)
NAMESPACE_ORDER = ("user", "pid", "network", "ipc", "uts", "mount", "cgroup", "time")


@dataclass(frozen=True)
class MountOp:
    destination: str          # absolute, inside the container
    source: str
    fstype: str
    flags: int                # mount(2) flags except propagation
    data: str
    propagation: tuple = ()   # flags applied one by one after the mount
    bind: bool = False
    recursive_attrs: tuple = ()  # names from RECURSIVE_ATTRS
    cgroup: bool = False      # type cgroup: built from the container's own cgroup dirs
    copy_up: bool = False     # tmpcopyup: fill the tmpfs with what the image has there
    # a bind source below the rootfs, as a container path: resolved inside the
    # rootfs when its turn comes (pyrunc.mountpaths)
    source_in_root: str | None = None


@dataclass(frozen=True)
class DeviceOp:
    path: str
    kind: str                 # c, b, u, p
    major: int
    minor: int
    mode: int
    uid: int
    gid: int


@dataclass(frozen=True)
class User:
    uid: int = 0
    gid: int = 0
    umask: int | None = None
    additional_gids: tuple = ()


@dataclass(frozen=True)
class Plan:
    """Everything the child does, decided before the first fork; built once by
    build() and frozen: nothing patches it afterwards, and the child reads
    only these fields."""
    container_id: str
    bundle: str
    rootfs: str
    readonly_root: bool = False
    rootfs_propagation: int = 0
    new_namespaces: tuple = ()      # OCI type names, in NAMESPACE_ORDER
    join_namespaces: tuple = ()     # (type, path), user first
    uid_map: str = ""
    gid_map: str = ""
    time_offsets: str = ""
    mounts: tuple = ()
    setup_dev: bool = True
    devices: tuple = ()
    hostname: str | None = None
    domainname: str | None = None
    sysctl: tuple = ()
    masked_paths: tuple = ()
    readonly_paths: tuple = ()
    rlimits: tuple = ()
    oom_score_adj: int | None = None
    args: tuple = ()
    env: tuple = ()
    cwd: str = "/"
    user: User = field(default_factory=User)
    terminal: bool = False
    console_size: tuple | None = None
    no_pivot: bool = False
    no_new_keyring: bool = False
    preserve_fds: int = 0            # --preserve-fds plus the activation fds before them
    hooks_create_container: tuple = ()
    hooks_start_container: tuple = ()
    runtime_hooks_at_create: bool = False   # prestart/createRuntime present
    # security: compiled in the parent (the config pipeline, capabilities.py)
    capabilities: dict | None = None
    no_new_privileges: bool = False
    seccomp: object = None           # a security.seccomp.compile.CompiledSeccomp
    apparmor_profile: str | None = None
    selinux_label: str | None = None
    mount_label: str | None = None   # linux.mountLabel where SELinux runs (rootfs.with_mount_label)
    io_priority: dict | None = None
    scheduler: dict | None = None
    personality: dict | None = None
    exec_cpu_affinity: dict | None = None
    cgroup_dirs: tuple = ()          # (name, host dir) for `cgroup` mounts
    memory_policy: tuple | None = None  # (mode | flags, nodemask bytes, maxnode): set_mempolicy
    net_devices: tuple = ()          # (host name, name in the container): pyrunc.lifecycle.netdevices

    def has(self, ns: str) -> bool:
        return ns in self.new_namespaces or any(t == ns for t, _ in self.join_namespaces)


def build(cfg: dict, container_id: str, bundle: str, *, no_pivot=False, no_new_keyring=False,
          preserve_fds=0, seccomp=None, capabilities=None, cgroup_dirs=(), extra_env=(),
          extra_mounts=(), rootfs=None, join_namespaces=None) -> Plan:
    """The plan for a config pyrunc.config's pipeline accepted; raises nothing.

    Besides the config, what the caller decided before: `seccomp` (the
    pipeline's compiled filter), `capabilities` (resolved to numbers),
    `cgroup_dirs` (the cgroup manager's, for `cgroup` mounts), `extra_env`
    ("KEY=value" entries replacing the process's own KEY, appended in order:
    socket activation, NOTIFY_SOCKET), `extra_mounts` (MountOps after the
    config's), and an exec's `rootfs` and `join_namespaces` (the running
    container's, replacing what the config would give).
    """
    linux = cfg.get("linux") or {}
    process = cfg.get("process") or {}
    root = cfg.get("root") or {}
    roots = mountpaths.rootfs_forms(root.get("path", "rootfs"), bundle)
    new_ns, join_ns = _namespaces(linux.get("namespaces") or [])
    if join_namespaces is not None:
        new_ns, join_ns = (), tuple(join_namespaces)
    # a new user namespace cannot own a network namespace it did not make,
    # and the kernel lets only that owner mount sysfs: bind the host's /sys
    # (rootless podman's and `runc spec --rootless`'s answer)
    sysfs_as_bind = "user" in new_ns and "network" not in new_ns
    mounts = tuple(mount(_sysfs_bind(m) if sysfs_as_bind and m.get("type") == "sysfs" else m, bundle, roots)
                   for m in cfg.get("mounts") or []) + tuple(extra_mounts)
    u = process.get("user") or {}
    size = process.get("consoleSize")
    hooks = cfg.get("hooks") or {}
    return Plan(
        container_id=container_id, bundle=bundle, rootfs=rootfs or roots[-1],  # resolved
        readonly_root=bool(root.get("readonly")),
        rootfs_propagation=PROPAGATION_FLAGS.get(linux.get("rootfsPropagation") or "", 0),
        new_namespaces=new_ns, join_namespaces=join_ns,
        uid_map=_idmap(linux.get("uidMappings")), gid_map=_idmap(linux.get("gidMappings")),
        time_offsets=_time_offsets(linux.get("timeOffsets")),
        mounts=mounts,
        setup_dev=not any(m.destination == "/dev" and m.bind for m in mounts),
        devices=tuple(_device(d) for d in linux.get("devices") or []),
        hostname=cfg.get("hostname"), domainname=cfg.get("domainname"),
        sysctl=tuple(sorted((linux.get("sysctl") or {}).items())),
        masked_paths=tuple(linux.get("maskedPaths") or ()),
        readonly_paths=tuple(linux.get("readonlyPaths") or ()),
        rlimits=tuple(_rlimit(r) for r in process.get("rlimits") or []),
        oom_score_adj=process.get("oomScoreAdj"),
        args=tuple(process.get("args") or ()),
        env=_with_env(tuple(process.get("env") or ()), extra_env),
        cwd=process.get("cwd") or "/",
        user=User(uid=u.get("uid", 0), gid=u.get("gid", 0), umask=u.get("umask"),
                  additional_gids=tuple(u.get("additionalGids") or ())),
        terminal=bool(process.get("terminal")),
        console_size=(size.get("height", 0), size.get("width", 0)) if size else None,
        no_pivot=no_pivot, no_new_keyring=no_new_keyring, preserve_fds=preserve_fds,
        hooks_create_container=tuple(hooks.get("createContainer") or ()),
        hooks_start_container=tuple(hooks.get("startContainer") or ()),
        runtime_hooks_at_create=bool(hooks.get("prestart") or hooks.get("createRuntime")),
        capabilities=capabilities,
        no_new_privileges=bool(process.get("noNewPrivileges")),
        seccomp=seccomp,
        apparmor_profile=process.get("apparmorProfile"),
        selinux_label=process.get("selinuxLabel"),
        mount_label=_mount_label(linux),
        io_priority=process.get("ioPriority"),
        scheduler=process.get("scheduler"),
        personality=linux.get("personality"),
        exec_cpu_affinity=process.get("execCPUAffinity"),
        cgroup_dirs=tuple(cgroup_dirs),
        memory_policy=_memory_policy(linux.get("memoryPolicy")),
        net_devices=tuple((name, (dev or {}).get("name") or name)
                          for name, dev in (linux.get("netDevices") or {}).items()),
    )


def _mount_label(linux: dict) -> str | None:
    """linux.mountLabel, only where SELinux runs: elsewhere the label means
    nothing and a `context=` option would fail the mount (runc's newer
    go-selinux skips it there too; the config checks let it through)."""
    label = linux.get("mountLabel")
    if not label:
        return None
    from pyrunc.security.attributes import selinux_enabled  # only configs that carry one
    return label if selinux_enabled() else None


def _with_env(env: tuple, extra: tuple) -> tuple:
    """`env` with each "KEY=value" of `extra` replacing KEY's entries, appended in order."""
    if not extra:
        return env
    keys = tuple(e.split("=", 1)[0] + "=" for e in extra)
    return tuple(e for e in env if not e.startswith(keys)) + tuple(extra)


def _memory_policy(cfg):
    if cfg is None:
        return None
    from pyrunc.kernel import mempolicy  # only for a config that has one
    # (config/checks/linux.py refused every policy this would not compile)
    return mempolicy.compile_policy(cfg)


def _namespaces(entries):
    new, join = [], []
    for ns in entries:
        kind = ns["type"]
        if ns.get("path"):
            join.append((kind, ns["path"]))
        else:
            new.append(kind)
    order = {name: n for n, name in enumerate(NAMESPACE_ORDER)}
    new.sort(key=order.__getitem__)
    join.sort(key=lambda t: order[t[0]])
    return tuple(new), tuple(join)


def _idmap(entries):
    return "".join(f"{e['containerID']} {e['hostID']} {e['size']}\n" for e in entries or ())


def _time_offsets(offsets):
    """/proc/<pid>/timens_offsets lines for the kernel's two clocks (the schema allows no other)."""
    offsets = offsets or {}
    return "".join(f"{clock} {offsets[clock].get('secs', 0)} {offsets[clock].get('nanosecs', 0)}\n"
                   for clock in ("monotonic", "boottime") if clock in offsets)


def mount(m, bundle, roots=()) -> MountOp:
    """One config mount (already validated) as the op the init performs (also
    lifecycle/notify.py's bind); `roots`: mountpaths.rootfs_forms, for paths that
    spell out the rootfs's host path."""
    # relative destinations are deprecated: taken from /
    dest = mountpaths.destination(m["destination"], roots)
    fstype = m.get("type") or ""
    source = m.get("source") or ""
    flags = 0
    data, prop, rattrs = [], [], []
    copy_up = False
    for opt in m.get("options") or ():
        if opt in MOUNT_FLAGS:
            set_, clear = MOUNT_FLAGS[opt]
            flags = (flags | set_) & ~clear
        elif opt in PROPAGATION_FLAGS:
            prop.append(PROPAGATION_FLAGS[opt])
        elif opt in RECURSIVE_ATTRS:
            rattrs.append(opt)
        elif opt == "tmpcopyup":
            copy_up = True
        else:
            data.append(opt)
    bind = fstype == "bind" or bool(flags & k.MS_BIND)
    if bind:
        flags |= k.MS_BIND
        if not os.path.isabs(source):
            source = os.path.join(bundle, source)
        # no existence check: an earlier mount may make it (the mount reports it, as runc)
    in_root = mountpaths.below_rootfs(source, roots) if bind else None
    return MountOp(destination=dest, source=source, fstype=fstype, flags=flags, source_in_root=in_root,
                   data=",".join(data), propagation=tuple(prop), bind=bind,
                   recursive_attrs=tuple(rattrs), cgroup=(fstype == "cgroup" and not bind),
                   copy_up=copy_up and fstype == "tmpfs" and not bind)


def _sysfs_bind(m):
    """A sysfs mount as a recursive read-only-if-asked bind of the host's /sys,
    keeping the config's flags (the kernel keeps the ones it locked anyway)."""
    flags = [o for o in m.get("options") or () if o in ("ro", "rw", "nosuid", "nodev", "noexec", "suid", "dev", "exec")]
    return {"destination": m["destination"], "type": "bind", "source": "/sys", "options": ["rbind", *flags]}


def _device(d):
    mode = d.get("fileMode")
    # permission bits only: clients put the file-type bits in too (podman: 0o20666);
    # the type comes from `type`, as runc's mknod does
    return DeviceOp(path=os.path.normpath(d["path"]), kind=d["type"], major=d.get("major", 0),
                    minor=d.get("minor", 0), mode=0o666 if mode is None else mode & 0o7777,
                    uid=d.get("uid", 0), gid=d.get("gid", 0))


def _rlimit(r):
    # every type config/checks/process.py (or exec's validate_process) accepts
    name = r["type"]
    return (name, RLIMITS[name], r.get("soft", 0), r.get("hard", 0))
