"""`restore`: a new container from a bundle and a checkpoint's images, through CRIU.

As runc's: the bundle's config goes through create's checks, the state dir
and cgroup are made as create makes them, then `criu swrk` (placed in the
cgroup first, so the restored tree lands there) restores the processes
into the rootfs, bound at <state dir>/criu-root because CRIU wants a mount
point. The bundle's bind mounts, the /dev/null of masked files, devices and
namespaces joined by path are given back as CRIU's external ones; pipes the
checkpointed init had as stdio are replaced by ours (descriptors.json). CRIU
announces the restored init's pid (post-restore), which becomes the record's;
a restored pty master (orphan-pts-master) goes to --console-socket, or to us
as the console. Then, as `run`: -d returns, else we wait for the init and
delete the container when it exits.

A failure at any step leaves nothing: the rollback kills what CRIU made,
removes the cgroup, the bind mount and the state dir.

Place in the flow: the CLI calls restore(); pyrunc.criu talks to CRIU.
"""
import json
import os

from pyrunc.errors import HookError, PyruncError, describe_oserror
from pyrunc.kernel import procfs
from pyrunc.lifecycle import quietly, run_hooks, state_for_hooks
from pyrunc.lifecycle.acquire import Rollback, cgroup_manager, connect_console, kill_cgroup_and_destroy, \
    kill_quietly, write_pid_file
from pyrunc.lifecycle.checkpoint import DESCRIPTORS, EXTERNAL_NS, Flags, cgroup_binds, is_bind, open_dir
from pyrunc.store import ContainerDir
from pyrunc.store import status as st


def restore(opts, cid, bundle, values):
    """Restore container `cid`; returns the exit code (0 when detached)."""
    from pyrunc.lifecycle import create
    flags = Flags(values)
    detach = values.get("detach", False)
    bundle = os.path.abspath(bundle)
    if not os.path.isdir(bundle):
        raise PyruncError(f"bundle {bundle}: no such directory")
    image_path = os.path.abspath(flags.image_path or "checkpoint")
    fds = _descriptors(image_path)
    cfg = create.check(opts, bundle).config
    terminal = bool((cfg.get("process") or {}).get("terminal"))
    if terminal and detach and not values.get("console-socket"):
        raise PyruncError("cannot allocate tty if pyrunc will detach without setting console socket")
    if not detach and not values.get("no-subreaper"):
        import _prctl
        _prctl.prctl(_prctl.PR_SET_CHILD_SUBREAPER, 1)
    with Rollback() as undo:
        cdir = ContainerDir.create(opts.root, cid)
        undo.callback(cdir.close)
        undo.callback(quietly, opts.log, cdir.remove)
        mgr = cgroup_manager(opts, cid, cfg)
        rootfs = os.path.join(bundle, (cfg.get("root") or {}).get("path") or "rootfs")
        hooks_cfg = cfg.get("hooks") or {}
        record = dict(create.new_record(cid, bundle, rootfs, cfg), owner=create.owner())
        if mgr is not None:
            record["cgroup"] = mgr.record()
        cdir.save(record)
        if mgr is not None:
            undo.callback(quietly, opts.log, kill_cgroup_and_destroy, mgr)
            mgr.create()
            record["cgroup"] = mgr.record()
            cdir.save(record)
        work_path = os.path.abspath(flags.work_path) if flags.work_path else os.path.join(cdir.path, "criu.work")
        image_fd = open_dir(image_path, "image path")
        undo.callback(os.close, image_fd)
        work_fd = open_dir(work_path, "work path", create=True)
        undo.callback(os.close, work_fd)
        root = _bind_root(rootfs, cdir.path, undo)
        _make_mountpoints(cfg, rootfs)
        req_opts = dict(flags.common(), images_dir_fd=image_fd, work_dir_fd=work_fd, evasive_devices=True,
                        log_file="restore.log", rst_sibling=True, root=root, ext_mnt=_external_mounts(cfg, record.get("cgroup")))
        for flag, field in (("lsm-profile", "lsm_profile"), ("lsm-mount-context", "lsm_mount_context")):
            if values.get(flag):
                req_opts[field] = values[flag]
        inherit = [{"key": key, "fd": n} for n, key in enumerate(fds) if "pipe:" in key]
        extra = []
        for ns in (cfg.get("linux") or {}).get("namespaces") or ():
            if ns.get("type") in EXTERNAL_NS and ns.get("path"):
                fd = _open_ns(ns["path"])
                undo.callback(os.close, fd)
                extra.append(fd)
                inherit.append({"key": EXTERNAL_NS[ns["type"]][1], "fd": 3 + len(extra)})
        if inherit:
            req_opts["inherit_fd"] = inherit
        console = _Console(values.get("console-socket"))
        restored = {}

        def on_start(criu_pid):
            if mgr is not None:
                mgr.add(criu_pid)  # what CRIU restores lands in the container's cgroup
                req_opts.update(_cgroup_roots(criu_pid))

        def notify(script, pid, fds):
            if script == "setup-namespaces":
                # runc's point for the hooks a create runs before the process
                # starts: the restored tree's namespaces exist, nothing runs yet
                state = dict(state_for_hooks(record, st.CREATING), pid=pid)
                for phase in ("prestart", "createRuntime"):
                    try:
                        run_hooks(phase, hooks_cfg.get(phase), state)
                    except HookError as exc:
                        raise PyruncError(f"container {cid}: {exc}") from None
            elif script == "post-restore":
                restored["pid"] = pid
                undo.callback(kill_quietly, pid)
                record.update(status=st.RUNNING, pid=pid, pid_start=procfs.start_time(pid))
                cdir.save(record)
                if values.get("pid-file"):
                    write_pid_file(values["pid-file"], pid)
            elif script == "orphan-pts-master":
                console.take(fds)

        from pyrunc.criu import swrk, wire
        swrk.run({"type": wire.RESTORE, "opts": req_opts}, log_path=os.path.join(work_path, "restore.log"),
                 stdio=(0, 1, 2), extra_fds=extra, on_start=on_start, notify=notify, what=f"container {cid}",
                 show_log=bool(flags.work_path))
        if not restored:
            raise PyruncError(f"container {cid}: criu restore: no restored process announced")
        pid = restored["pid"]
        undo.pop_all()
        _unbind_root(root)
        for fd in (image_fd, work_fd, *extra):
            os.close(fd)
        cdir.close()
    if detach:
        console.close()
        return 0
    from pyrunc.lifecycle import run
    run.forward_signals(pid)
    status = run.wait(pid, console.master)
    run.cleanup(opts, cid)
    return status


def _descriptors(image_path):
    path = os.path.join(image_path, DESCRIPTORS)
    try:
        with open(path) as f:
            fds = json.load(f)
    except FileNotFoundError:
        what = "no such directory" if not os.path.isdir(image_path) else f"no {DESCRIPTORS}: not a checkpoint"
        raise PyruncError(f"image path {image_path}: {what}") from None
    except (OSError, ValueError) as exc:
        raise PyruncError(f"image path {image_path}: {DESCRIPTORS}: {exc}") from None
    if not isinstance(fds, list) or not all(isinstance(f, str) for f in fds):
        raise PyruncError(f"image path {image_path}: {DESCRIPTORS}: not a list of paths")
    return fds


def _bind_root(rootfs, state_dir, undo):
    """The rootfs bound at <state dir>/criu-root: CRIU's root must be a mount
    point whose parent is not mounted over."""
    from pyrunc.kernel import flags, syscalls
    root = os.path.join(state_dir, "criu-root")
    os.mkdir(root, 0o755)
    undo.callback(os.rmdir, root)
    try:
        syscalls.mount(rootfs, root, None, flags.MS_BIND | flags.MS_REC)
    except OSError as exc:
        raise PyruncError(f"rootfs {rootfs}: bind mount for criu: {describe_oserror(exc)}") from None
    undo.callback(_unbind_root, root, False)
    return root


def _unbind_root(root, remove=True):
    from pyrunc.kernel import flags, syscalls
    try:
        syscalls.umount2(root, flags.MNT_DETACH)
    except OSError:
        pass
    if remove:
        os.rmdir(root)


def _make_mountpoints(cfg, rootfs):
    """The config's mount points, made as create makes them (a fresh rootfs,
    say an imported checkpoint's, may lack them), except on a tmpfs, whose
    content CRIU restores itself."""
    mounts = cfg.get("mounts") or ()
    tmpfs = [m["destination"].rstrip("/") + "/" for m in mounts if m.get("type") == "tmpfs"]
    real_root = os.path.realpath(rootfs)
    for m in mounts:
        dest = m.get("destination") or ""
        if any(dest.startswith(t) for t in tmpfs) or m.get("type") == "cgroup":
            continue
        target = os.path.join(real_root, dest.lstrip("/"))
        if os.path.lexists(target) or not os.path.realpath(target).startswith(real_root + "/"):
            continue
        try:
            if is_bind(m) and m.get("source") and not os.path.isdir(m["source"]):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
            else:
                os.makedirs(target, 0o755, exist_ok=True)
        except OSError as exc:
            raise PyruncError(f"mount point {dest}: {describe_oserror(exc)}") from None


def _external_mounts(cfg, cgroup_record):
    """CRIU's ext_mnt at restore: the key the dump wrote -> the host path
    (a `cgroup` mount's: the new container's own cgroup dirs)."""
    linux = cfg.get("linux") or {}
    out = [{"key": m["destination"], "val": m["source"]} for m in cfg.get("mounts") or () if is_bind(m)]
    out += [{"key": point, "val": d} for point, d in cgroup_binds(cfg, cgroup_record)]
    if linux.get("maskedPaths"):
        out.append({"key": "/dev/null", "val": "/dev/null"})
    out += [{"key": d["path"], "val": d["path"]} for d in linux.get("devices") or ()]
    return out


def _cgroup_roots(criu_pid):
    """cgroup v1: each controller's root is the cgroup CRIU was placed in
    (v2 restores below CRIU's own cgroup without being told)."""
    roots = []
    try:
        with open(f"/proc/{criu_pid}/cgroup") as f:
            for line in f:
                _, ctrls, path = line.rstrip("\n").split(":", 2)
                if ctrls:
                    roots.append({"ctrl": ctrls, "path": path})
    except (OSError, ValueError):
        return {}
    return {"cg_root": roots} if roots else {}


def _open_ns(path):
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise PyruncError(f"namespace {path}: {describe_oserror(exc)}") from None


class _Console:
    """The restored pty master: to --console-socket, or kept for us to proxy."""

    def __init__(self, socket_path):
        self.socket_path = socket_path
        self.master = None

    def take(self, fds):
        from pyrunc.kernel import fdpass
        if not fds:
            raise PyruncError("criu restore: orphan-pts-master came without the pty master")
        fd = fds.pop(0)
        if self.socket_path:
            conn = connect_console(self.socket_path)
            try:
                fdpass.send_fd(conn, b"/dev/ptmx", fd)
            finally:
                os.close(conn)
                os.close(fd)
        else:
            self.master = fd

    def close(self):
        if self.master is not None:
            os.close(self.master)
            self.master = None

