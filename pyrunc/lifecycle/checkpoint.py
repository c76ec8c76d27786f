"""`checkpoint`: a running container's processes to image files, through CRIU.

As runc's: CRIU dumps the container's init and its tree (freezing them by
its cgroup), into --image-path (default ./checkpoint); the container's bind
mounts, files masked by /dev/null, devices and namespaces joined by path are
declared external, so restore can give them back; descriptors.json records
what the init's stdio were (restore reconnects pipes). Without
--leave-running (or --pre-dump) the container is gone afterwards, deleted as
runc destroys it.

Place in the flow: the CLI calls checkpoint(); talks to CRIU through
pyrunc.criu (imported only here and in restore).
"""
import json
import os

from pyrunc.errors import PyruncError, describe_oserror
from pyrunc.lifecycle import container_config, load, status_of
from pyrunc.store import status as st

DESCRIPTORS = "descriptors.json"

# runc's names for the namespaces CRIU takes as external ones (joined by path)
EXTERNAL_NS = {"network": ("net", "extRootNetNS"), "pid": ("pid", "extRootPidNS")}


class Flags:
    """The CRIU options checkpoint and restore share (runc's CriuOpts)."""

    def __init__(self, values):
        self.image_path = values.get("image-path")
        self.work_path = values.get("work-path")
        self.tcp_established = values.get("tcp-established", False)
        self.ext_unix_sk = values.get("ext-unix-sk", False)
        self.shell_job = values.get("shell-job", False)
        self.file_locks = values.get("file-locks", False)
        self.auto_dedup = values.get("auto-dedup", False)
        self.lazy_pages = values.get("lazy-pages", False)
        self.manage_cgroups_mode = cg_mode(values.get("manage-cgroups-mode"))
        self.empty_ns = empty_ns(values.get("empty-ns") or ())

    def common(self):
        """criu_opts fields both directions set the same way."""
        opts = {"log_level": 4, "manage_cgroups": True, "notify_scripts": True,
                "shell_job": self.shell_job, "tcp_established": self.tcp_established,
                "ext_unix_sk": self.ext_unix_sk, "file_locks": self.file_locks,
                "empty_ns": self.empty_ns, "orphan_pts_master": True, "auto_dedup": self.auto_dedup,
                "lazy_pages": self.lazy_pages}
        if self.manage_cgroups_mode is not None:
            opts["manage_cgroups_mode"] = self.manage_cgroups_mode
        return opts


def cg_mode(name):
    if not name:
        return None
    from pyrunc.criu import wire
    if name not in wire.CG_MODES:
        raise PyruncError(f"--manage-cgroups-mode {name}: invalid manage cgroups mode "
                          f"(one of {', '.join(sorted(wire.CG_MODES))})")
    return wire.CG_MODES[name]


def empty_ns(names):
    """--empty-ns: the namespace types' clone flags (runc's namespaceMapping)."""
    from pyrunc.kernel.flags import NAMESPACE_FLAGS
    mask = 0
    for name in names:
        if name not in NAMESPACE_FLAGS:
            raise PyruncError(f"--empty-ns {name}: namespace {name!r} is not supported")
        mask |= NAMESPACE_FLAGS[name]
    return mask


def open_dir(path, what, create=False):
    """An O_DIRECTORY fd of `path` (made 0700 first when `create`)."""
    try:
        if create:
            os.makedirs(path, 0o700, exist_ok=True)
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise PyruncError(f"{what} {path}: {describe_oserror(exc)}") from None


def is_bind(m):
    return m.get("type") == "bind" or bool({"bind", "rbind"} & set(m.get("options") or ()))


def checkpoint(opts, cid, values):
    from pyrunc.criu import swrk, wire
    flags = Flags(values)
    pre_dump = values.get("pre-dump", False)
    leave_running = values.get("leave-running", False)
    image_path = os.path.abspath(flags.image_path or "checkpoint")
    cdir, record = load(opts, cid)
    with cdir:
        status = status_of(cdir, record)
        if status not in (st.RUNNING, st.PAUSED):
            raise PyruncError(f"Container cannot be checkpointed in {status} state")
        cfg = container_config(record)
        linux = cfg.get("linux") or {}
        pid = record["pid"]
        work_path = os.path.abspath(flags.work_path) if flags.work_path else os.path.join(cdir.path, "criu.work")
        image_fd = open_dir(image_path, "image path", create=True)
        work_fd = open_dir(work_path, "work path", create=True)
        try:
            req_opts = dict(flags.common(), images_dir_fd=image_fd, work_dir_fd=work_fd, pid=pid,
                            log_file="dump.log", root=record.get("rootfs"), leave_running=leave_running)
            for ns in linux.get("namespaces") or ():
                if ns.get("type") in EXTERNAL_NS and ns.get("path"):
                    kind, key = EXTERNAL_NS[ns["type"]]
                    try:
                        ino = os.stat(ns["path"]).st_ino
                    except OSError as exc:
                        raise PyruncError(f"container {cid}: namespace {ns['path']}: "
                                          f"{describe_oserror(exc)}") from None
                    req_opts.setdefault("external", []).append(f"{kind}[{ino}]:{key}")
            freezer = _freezer(record)
            if freezer:
                req_opts["freeze_cgroup"] = freezer
            if values.get("parent-path"):
                req_opts.update(parent_img=values["parent-path"], track_mem=True)
            if values.get("page-server"):
                address, _, port = values["page-server"].rpartition(":")
                if not address or not port.isdigit():
                    raise PyruncError(f"--page-server {values['page-server']}: must be ADDRESS:PORT")
                req_opts["ps"] = {"address": address, "port": int(port)}
            if pre_dump:
                req_opts["track_mem"] = True
            else:
                req_opts["ext_mnt"] = _external_mounts(cfg, pid, record.get("cgroup"))
                _write_descriptors(image_path, pid)
            req = {"type": wire.PRE_DUMP if pre_dump else wire.DUMP, "opts": req_opts}
            swrk.run(req, log_path=os.path.join(work_path, "dump.log"), what=f"container {cid}")
        finally:
            os.close(image_fd)
            os.close(work_fd)
    if not (leave_running or pre_dump):
        # runc destroys a checkpointed container: its processes are gone (CRIU
        # killed them after the dump), and so go its cgroup and record
        from pyrunc.lifecycle import delete
        delete.delete(opts, cid, force=True)


def _freezer(record):
    paths = (record.get("cgroup") or {}).get("paths") or {}
    return paths.get("freezer") or paths.get("")


def cgroup_binds(cfg, cgroup_record):
    """(mount point, host dir) of each cgroup dir create bound at a `cgroup`
    mount (lifecycle.create.cgroup_mount_dirs): external mounts to CRIU, as
    runc's cgroup v1 binds are."""
    if not cgroup_record:
        return []
    from pyrunc.lifecycle.create import cgroup_mount_dirs
    dirs = cgroup_mount_dirs(cgroup_record)
    out = []
    for m in cfg.get("mounts") or ():
        if m.get("type") == "cgroup":
            out += [(os.path.join(m["destination"], name) if name else m["destination"], d) for name, d in dirs]
    return out


def _external_mounts(cfg, pid, cgroup_record):
    """CRIU's ext_mnt at dump: mountpoint -> the key restore maps back."""
    linux = cfg.get("linux") or {}
    out = [{"key": m["destination"], "val": m["destination"]} for m in cfg.get("mounts") or () if is_bind(m)]
    out += [{"key": point, "val": point} for point, _ in cgroup_binds(cfg, cgroup_record)]
    for path in linux.get("maskedPaths") or ():
        # a masked file is /dev/null bound over it; a masked directory is a tmpfs, CRIU's own
        target = f"/proc/{pid}/root/{path.lstrip('/')}"
        if os.path.exists(target) and not os.path.isdir(target):
            out.append({"key": path, "val": "/dev/null"})
    for dev in linux.get("devices") or ():
        out.append({"key": dev["path"], "val": dev["path"]})
    return out


def _write_descriptors(image_path, pid):
    fds = []
    for n in range(3):
        try:
            fds.append(os.readlink(f"/proc/{pid}/fd/{n}"))
        except OSError:
            fds.append("/dev/null")
    path = os.path.join(image_path, DESCRIPTORS)
    try:
        with open(path, "w") as f:
            json.dump(fds, f)
    except OSError as exc:
        raise PyruncError(f"image path {image_path}: {describe_oserror(exc)}") from None
