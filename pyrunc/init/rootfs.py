"""Building the container's filesystem view, in the container's init (stage-2).

Order (runc's prepareRootfs/finalizeRootfs; each step says why it is here):
  prepare()   make / a slave so nothing leaks to the host (rshared: shared, and
              the rootfs's mount private); bind the rootfs on itself so
              pivot_root has a mount point; mounts from the config in order;
              default devices and /dev links (needs /dev mounted first)
  pivot()     pivot_root (or MS_MOVE + chroot), drop the old root
  finalize()  `ro` tmpfs and /dev mounts made read-only (prepare mounted them
              read-write: mount points, devices, links and the console go
              into them first), masked and read-only paths (need the
              container's /proc), then the read-only root last
linux.mountLabel (plan.mount_label, set only where SELinux runs) labels the
mounts runc labels: tmpfs (the config's, a v1 cgroup tmpfs, masked
directories) and every other new filesystem but proc, sysfs and cgroup2
(devpts...) with `context="LABEL"`; mqueue, whose mount takes no context=,
gets the label on its root directory; bind mounts keep their own labels.
Child-side, import-light.
"""
import errno
import os
import stat

from pyrunc.init import copyup
from pyrunc.init.paths import (create_file, ensure_target, fd_path, mkdir_all,
                               open_in_root, parent_dir_fd)
from pyrunc import testhooks as testguards
from pyrunc.errors import InitError
from pyrunc.kernel import procfs, syscalls as k
from pyrunc.plan import DEFAULT_DEVICES, DEFAULT_SYMLINKS

PROC_SUPER_MAGIC = 0x9FA0
# statvfs f_flag bits that mount(2) keeps locked in a user namespace
_LOCKED = k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC | k.MS_RDONLY | k.MS_NOATIME | k.MS_NODIRATIME | k.MS_RELATIME


def _err(what, exc):
    reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else str(exc)
    return InitError(f"{what}: {reason.lower()}")


def open_bind_sources(plan):
    """Detached copies of the bind sources, taken while we are still the host's
    root (stage-1, before a new user namespace): {index in plan.mounts: fd}.

    In the new user namespace the container's root may not traverse the path
    to a source (a host directory of mode 0000 on the way), so a bind by
    path would fail with EACCES; runc opens its sources on the host side for
    the same reason. The copies are made slaves at once: a copy of a shared
    host mount would otherwise peer with it, and what the container mounts
    below it would reach the host."""
    trees = {}
    if not ("user" in plan.new_namespaces and "mount" in plan.new_namespaces):
        return trees
    if os.geteuid() != 0:
        # rootless: open_tree(OPEN_TREE_CLONE) needs CAP_SYS_ADMIN over the host's
        # mount namespace, and the container's root is this very user, who
        # reaches the same paths from inside: bind by path
        return trees
    try:
        for i, op in enumerate(plan.mounts):
            if not op.bind or op.cgroup:
                continue
            if op.source_in_root is not None:
                # the container's own tree, and maybe made by an earlier mount in
                # the list (runc's mount-order test): opened in the rootfs in its turn
                continue
            flags = k.OPEN_TREE_CLONE | k.OPEN_TREE_CLOEXEC
            if op.flags & k.MS_REC:
                flags |= k.AT_RECURSIVE
            try:
                fd = k.open_tree(k.AT_FDCWD, op.source, flags)
            except OSError as exc:
                raise _err(f"mount {op.source} on {op.destination}: open source", exc) from None
            trees[i] = fd
            try:
                k.mount_setattr(fd, "", k.AT_EMPTY_PATH | k.AT_RECURSIVE, 0, 0, k.MS_SLAVE)
            except OSError as exc:
                raise _err(f"mount {op.source} on {op.destination}: make source a slave", exc) from None
    except BaseException:
        for fd in trees.values():
            os.close(fd)
        raise
    return trees


def prepare(plan, in_userns, bind_trees=None):
    # every mount we inherited becomes a slave: host mount events still reach
    # us, ours never reach the host, and a bind of a host mount that is shared
    # (systemd makes / shared) cannot join the host's peer group. The config's
    # rootfsPropagation is applied to the new root after pivot_root.
    # Except rshared (containerd's CRI sets it for a Bidirectional volume):
    # as runc does, it goes on every mount first, so a bind of a shared host
    # mount joins the host's peer group and what the container mounts below
    # it reaches the host, as Bidirectional means.
    both_ways = plan.rootfs_propagation == k.MS_SHARED | k.MS_REC
    try:
        k.mount(None, "/", None, (k.MS_SHARED if both_ways else k.MS_SLAVE) | k.MS_REC)
    except OSError as exc:
        raise _err("make / a shared mount" if both_ways else "make / a slave mount", exc) from None
    # (with nothing shared, pivot_root's rule that neither the new root nor
    # its parent be shared holds without making anything private, which would
    # cut binds of host mounts off from the host's mount events)
    if both_ways:
        _make_rootfs_holder_private(plan.rootfs)
    try:
        k.mount(plan.rootfs, plan.rootfs, "bind", k.MS_BIND | k.MS_REC)
    except OSError as exc:
        raise _err(f"bind rootfs {plan.rootfs}", exc) from None
    rootfd = os.open(plan.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        trees = bind_trees or {}
        for i, op in enumerate(plan.mounts):
            try:
                _mount_one(rootfd, op, plan, in_userns, trees.pop(i, -1))
            except OSError as exc:  # one no step worded (e.g. a cgroup mount's mount point)
                raise _err(f"mount {op.source or op.fstype} on {op.destination}", exc) from None
        if plan.setup_dev:
            _default_devices(rootfd, in_userns)
        for dev in plan.devices:
            _device(rootfd, dev, in_userns)
        if plan.setup_dev:
            _dev_links(rootfd)
        try:
            cwd = mkdir_all(rootfd, plan.cwd)  # runc creates a missing cwd
        except OSError as exc:
            raise _err(f"mkdir cwd {plan.cwd}", exc) from None
        os.close(cwd)
    finally:
        os.close(rootfd)


def _make_rootfs_holder_private(rootfs):
    """The mount holding the rootfs made private (runc's rootfsParentMount*):
    pivot_root refuses a shared parent, and the rootfs bind and every mount
    below it would otherwise propagate to the host's peers."""
    path = rootfs
    while True:
        try:
            k.mount(None, path, None, k.MS_PRIVATE)
            return
        except OSError as exc:
            if exc.errno != errno.EINVAL or path == "/":  # EINVAL: not a mount point
                raise _err(f"make the mount holding rootfs {rootfs} private", exc) from None
        path = os.path.dirname(path)


def _mount_one(rootfd, op, plan, in_userns, tree=-1):
    """One config mount; `tree`: the bind source as open_bind_sources took it (it is closed here)."""
    source = -1
    try:
        if op.bind and op.source_in_root is not None:
            source = _open_source_in_root(rootfd, op)
        _mount_config(rootfd, op, plan, in_userns, tree, source)
    finally:
        if tree >= 0:
            os.close(tree)
        if source >= 0:
            os.close(source)


def _open_source_in_root(rootfd, op):
    """A bind source below the rootfs, opened now (after the earlier mounts
    of the list, which it may be made of: runc's mount-order tests) and
    inside the rootfs, so that a symlink in the image cannot lead it to the
    host (CVE-2021-30465's rule for targets, applied to such sources)."""
    try:
        return open_in_root(rootfd, op.source_in_root)
    except OSError as exc:
        raise _err(f"mount {op.source} on {op.destination}", exc) from None


def with_mount_label(data, label):
    """Mount data with SELinux's `context=` for `label` (runc's go-selinux
    FormatMountLabel): every file of the new mount gets that label. Quoted:
    an MCS level has commas ("s0:c1,c2"), which the kernel keeps inside quotes."""
    if not label:
        return data
    option = f'context="{label}"'
    return f"{data},{option}" if data else option


def _label_mount_root(rootfd, dest, label):
    """mqueue takes no context= option: runc labels its root directory
    instead (label.SetFileLabel), as an SELinux xattr."""
    if not label:
        return
    fd = open_in_root(rootfd, dest)  # the new mount's root, not the covered directory
    try:
        os.setxattr(fd_path(fd), "security.selinux", label.encode())
    except OSError as exc:
        raise _err(f"label {dest} {label}", exc) from None
    finally:
        os.close(fd)


def _mount_config(rootfd, op, plan, in_userns, tree, source=-1):
    """`tree`: a detached copy of the bind source, `source`: an O_PATH fd of
    it (one below the rootfs); else the bind source is the host path."""
    dest = op.destination
    if op.fstype in ("proc", "sysfs") and not op.bind:
        _refuse_symlinked(rootfd, dest)
    if op.cgroup:
        return _mount_cgroup(rootfd, op, plan)
    is_dir = True
    if op.bind:
        try:
            fd = tree if tree >= 0 else source
            st = os.fstat(fd) if fd >= 0 else os.stat(op.source)
            is_dir = stat.S_ISDIR(st.st_mode)
        except OSError as exc:
            raise _err(f"mount {op.source} on {dest}", exc) from None
    if op.fstype == "tmpfs" and not op.bind:
        return _mount_tmpfs(rootfd, op, plan.mount_label)
    what = f"mount {op.source or op.fstype} on {dest}"
    target = _mount_point(rootfd, dest, is_dir, what)
    where = fd_path(target)
    try:
        if op.bind and tree >= 0:
            k.move_mount(tree, "", target, "", k.MOVE_MOUNT_F_EMPTY_PATH | k.MOVE_MOUNT_T_EMPTY_PATH)
        elif op.bind:
            src = fd_path(source) if source >= 0 else op.source
            k.mount(src, where, None, op.flags & (k.MS_BIND | k.MS_REC))
        if op.bind:
            extra = op.flags & ~(k.MS_BIND | k.MS_REC | k.MS_REMOUNT)
            if extra:
                # a bind ignores most flags on the first call: remount to apply
                os.close(target)
                target = open_in_root(rootfd, dest)
                where = fd_path(target)
                if in_userns:
                    extra |= os.statvfs(where).f_flag & _LOCKED
                k.mount(None, where, None, k.MS_BIND | k.MS_REMOUNT | extra)
        else:
            flags = op.flags & ~k.MS_RDONLY if readonly_later(op) else op.flags
            # SELinux kernels cannot label proc or sysfs; mqueue: below
            labelled = op.fstype not in ("proc", "sysfs", "mqueue")
            data = with_mount_label(op.data, plan.mount_label) if labelled else op.data
            k.mount(op.source or op.fstype, where, op.fstype, flags, data or None)
            if op.fstype == "mqueue":
                _label_mount_root(rootfd, dest, plan.mount_label)
        if op.propagation:
            os.close(target)
            target = open_in_root(rootfd, dest)
            for flag in op.propagation:
                k.mount(None, fd_path(target), None, flag)
        if op.recursive_attrs:
            # rro & co. reach every submount of an rbind (mount(2) cannot)
            os.close(target)
            target = open_in_root(rootfd, dest)
            attr_set, attr_clr = _recursive_attrs(op.recursive_attrs)
            k.mount_setattr(target, "", k.AT_EMPTY_PATH | k.AT_RECURSIVE, attr_set, attr_clr)
    except OSError as exc:
        raise _err(what, exc) from None
    finally:
        os.close(target)


def _mount_point(rootfd, dest, is_dir, what):
    """O_PATH fd of the mount point, made if missing; errors worded with `what`."""
    try:
        return ensure_target(rootfd, dest, is_dir)
    except InitError:
        raise
    except OSError as exc:
        raise _err(f"{what}: create mount point", exc) from None


def _mount_tmpfs(rootfd, op, label=None):
    """A tmpfs keeps the mode of the directory it covers unless the config
    says `mode=` (runc and crun: an image's 0712 /data stays 0712, not 1777);
    with `tmpcopyup` it starts with that directory's contents."""
    dest = op.destination
    what = f"mount {op.source or op.fstype} on {dest}"
    data = with_mount_label(op.data, label)
    try:
        existing = open_in_root(rootfd, dest)
    except FileNotFoundError:
        existing = -1
    except OSError as exc:
        raise _err(what, exc) from None
    if existing >= 0:
        try:
            mode = stat.S_IMODE(os.fstat(existing).st_mode)
        finally:
            os.close(existing)
        # first, so that a mode= of the config (later in the list) wins
        data = f"mode={mode:04o}" + (f",{data}" if data else "")
    target = _mount_point(rootfd, dest, True, what)
    lower = -1
    try:
        # a `ro` tmpfs is mounted read-write (readonly_later): finalize()
        # remounts it once the copied tree and later mounts' mount points are in it
        flags = op.flags & ~k.MS_RDONLY
        if op.copy_up:
            # opened before the mount: this fd keeps seeing the image's directory
            lower = os.open(fd_path(target), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        k.mount(op.source or op.fstype, fd_path(target), "tmpfs", flags, data or None)
        os.close(target)
        target = -1
        target = open_in_root(rootfd, dest, os.O_RDONLY | os.O_DIRECTORY)  # the new mount's root
        if op.copy_up:
            try:
                copyup.copy_tree(lower, target)
            except OSError as exc:
                name = f" ({exc.filename})" if exc.filename else ""
                raise InitError(f"tmpcopyup {dest}{name}: {os.strerror(exc.errno).lower()}") from None
        for flag in op.propagation:
            k.mount(None, fd_path(target), None, flag)
        if op.recursive_attrs:
            attr_set, attr_clr = _recursive_attrs(op.recursive_attrs)
            k.mount_setattr(target, "", k.AT_EMPTY_PATH | k.AT_RECURSIVE, attr_set, attr_clr)
    except OSError as exc:
        raise _err(what, exc) from None
    finally:
        if target >= 0:
            os.close(target)
        if lower >= 0:
            os.close(lower)


# r-option -> (MOUNT_ATTR bit, clear it instead of setting it); runc's table
_RATTR = {
    "rro": (k.MOUNT_ATTR_RDONLY, False), "rrw": (k.MOUNT_ATTR_RDONLY, True),
    "rnosuid": (k.MOUNT_ATTR_NOSUID, False), "rsuid": (k.MOUNT_ATTR_NOSUID, True),
    "rnodev": (k.MOUNT_ATTR_NODEV, False), "rdev": (k.MOUNT_ATTR_NODEV, True),
    "rnoexec": (k.MOUNT_ATTR_NOEXEC, False), "rexec": (k.MOUNT_ATTR_NOEXEC, True),
    "rnodiratime": (k.MOUNT_ATTR_NODIRATIME, False), "rdiratime": (k.MOUNT_ATTR_NODIRATIME, True),
    "rnosymfollow": (k.MOUNT_ATTR_NOSYMFOLLOW, False), "rsymfollow": (k.MOUNT_ATTR_NOSYMFOLLOW, True),
    "rrelatime": (k.MOUNT_ATTR_RELATIME, False), "rnorelatime": (k.MOUNT_ATTR_RELATIME, True),
    "rnoatime": (k.MOUNT_ATTR_NOATIME, False), "ratime": (k.MOUNT_ATTR_NOATIME, True),
    "rstrictatime": (k.MOUNT_ATTR_STRICTATIME, False), "rnostrictatime": (k.MOUNT_ATTR_STRICTATIME, True),
}
# features.py advertises the r-options only once they are really applied
APPLIES_RECURSIVE_ATTRS = True


def _recursive_attrs(names):
    attr_set = attr_clr = 0
    for name in names:
        bit, clear = _RATTR[name]
        if bit == k.MOUNT_ATTR_RELATIME or bit & k.MOUNT_ATTR__ATIME:
            # the atime modes are one field: the kernel wants it cleared whole
            attr_clr |= k.MOUNT_ATTR__ATIME
            attr_set = (attr_set & ~k.MOUNT_ATTR__ATIME) | (0 if clear else bit)
        elif clear:
            attr_clr |= bit
            attr_set &= ~bit
        else:
            attr_set |= bit
            attr_clr &= ~bit
    return attr_set, attr_clr


def _refuse_symlinked(rootfd, dest):
    """CVE-2019-16884/19921: /proc or /sys as a symlink could redirect the mount."""
    if testguards.off("proc-symlink"):
        return
    parent, name = os.path.split(dest)
    try:
        pfd = open_in_root(rootfd, parent, os.O_PATH | os.O_DIRECTORY)
    except OSError:
        return
    try:
        st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise InitError(f"mount destination {dest}: is a symlink, refusing")
    except FileNotFoundError:
        pass
    finally:
        os.close(pfd)


def _mount_cgroup(rootfd, op, plan):
    """A `cgroup` mount: the container's own cgroup dirs, never the host tree."""
    if not plan.cgroup_dirs:
        return
    in_userns = plan.has("user")
    flags = op.flags
    if testguards.off("cgroupfs-ro"):
        flags &= ~k.MS_RDONLY  # the vulnerable runtime (runc < 1.1.5) dropped the config's ro
    pure_v2 = len(plan.cgroup_dirs) == 1 and plan.cgroup_dirs[0][0] == ""
    if pure_v2:
        if cgroupfs_forced_read_only(plan):
            flags |= k.MS_RDONLY
        # pure cgroup v2: the container's directory is the whole view
        _bind(rootfd, plan.cgroup_dirs[0][1], op.destination, flags,
              f"mount cgroup on {op.destination}", in_userns)
        return
    target = ensure_target(rootfd, op.destination, True)
    try:
        k.mount("tmpfs", fd_path(target), "tmpfs", k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC,
                with_mount_label("mode=755", plan.mount_label))
    except OSError as exc:
        raise _err(f"mount tmpfs on {op.destination}", exc) from None
    finally:
        os.close(target)
    for name, hostdir in plan.cgroup_dirs:
        sub = os.path.join(op.destination, name)
        os.close(mkdir_all(rootfd, sub))
        _bind(rootfd, hostdir, sub, flags, f"mount cgroup {name} on {sub}", in_userns)
    if flags & k.MS_RDONLY:
        dfd = open_in_root(rootfd, op.destination)
        try:
            k.mount(None, fd_path(dfd), None,
                    k.MS_REMOUNT | k.MS_RDONLY | k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC)
        except OSError as exc:
            raise _err(f"remount {op.destination} read-only", exc) from None
        finally:
            os.close(dfd)


def cgroupfs_forced_read_only(plan):
    """CVE-2023-25809: on a cgroup v2 host, a container with a user namespace
    but no cgroup namespace gets its cgroupfs read-only whatever the config
    says. Its root could otherwise create cgroups and raise its own limits
    (runc since 1.1.5 only makes the config's `ro` stick in that case, and
    masks the mount when rootless; the cgroup v1 layout follows the config
    in both)."""
    return plan.has("user") and not plan.has("cgroup") and not testguards.off("cgroupfs-ro")


def _bind(rootfd, source, dest, flags, what, in_userns=False):
    """Bind `source` on `dest` (inside the root), then apply ro/nosuid/... ."""
    target = ensure_target(rootfd, dest, True)
    try:
        k.mount(source, fd_path(target), None, k.MS_BIND | k.MS_REC)
    except OSError as exc:
        raise _err(what, exc) from None
    finally:
        os.close(target)
    extra = flags & (k.MS_RDONLY | k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC)
    if not extra:
        return
    target = open_in_root(rootfd, dest)  # now the new mount's root, not the dir beneath
    try:
        where = fd_path(target)
        if in_userns:
            # a remount in a user namespace must keep the flags the host locked
            extra |= os.statvfs(where).f_flag & _LOCKED
        k.mount(None, where, None, k.MS_BIND | k.MS_REMOUNT | extra)
    except OSError as exc:
        raise _err(what, exc) from None
    finally:
        os.close(target)


def _default_devices(rootfd, in_userns):
    for path, kind, major, minor, mode in DEFAULT_DEVICES:
        _make_node(rootfd, path, kind, major, minor, mode, 0, 0, in_userns)


def _device(rootfd, dev, in_userns):
    _make_node(rootfd, dev.path, dev.kind, dev.major, dev.minor, dev.mode, dev.uid, dev.gid, in_userns)


_KINDS = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def _make_node(rootfd, path, kind, major, minor, mode, uid, gid, in_userns):
    if in_userns and kind != "p":
        # mknod is not allowed in a user namespace: bind the host's node instead
        try:
            target = create_file(rootfd, path, 0o644)
        except OSError as exc:
            raise _err(f"create device {path}", exc) from None
        try:
            k.mount(path, fd_path(target), None, k.MS_BIND)
        except OSError as exc:
            raise _err(f"bind device {path}", exc) from None
        finally:
            os.close(target)
        return
    dfd, name = parent_dir_fd(rootfd, path)
    try:
        try:
            os.mknod(name, _KINDS[kind] | (mode & 0o7777), os.makedev(major, minor), dir_fd=dfd)
        except FileExistsError:
            return
        os.chown(name, uid, gid, dir_fd=dfd, follow_symlinks=False)
        os.chmod(name, mode & 0o7777, dir_fd=dfd, follow_symlinks=False)
    except OSError as exc:
        raise _err(f"mknod {path}", exc) from None
    finally:
        os.close(dfd)


def _dev_links(rootfd):
    links = list(DEFAULT_SYMLINKS)
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "/dev/core"))
    dfd = open_in_root(rootfd, "/dev", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for src, dst in links:
            try:
                os.symlink(src, os.path.basename(dst), dir_fd=dfd)
            except FileExistsError:
                pass
        # /dev/ptmx must be the container's own devpts instance
        try:
            os.stat("pts/ptmx", dir_fd=dfd, follow_symlinks=False)
            has_pts = True
        except OSError:
            has_pts = False
        if has_pts:
            try:
                os.unlink("ptmx", dir_fd=dfd)
            except FileNotFoundError:
                pass
            os.symlink("pts/ptmx", "ptmx", dir_fd=dfd)
    except OSError as exc:
        raise _err("create /dev links", exc) from None
    finally:
        os.close(dfd)


def pivot(plan):
    try:
        if plan.no_pivot:
            # rshared left / shared: unmounts below it and the move onto it
            # would propagate to the host's /
            k.mount(None, "/", None, k.MS_SLAVE)
            hide_host_procfs_and_sysfs(plan.rootfs)
            os.chdir(plan.rootfs)
            k.mount(plan.rootfs, "/", None, k.MS_MOVE)
            os.chroot(".")
            os.chdir("/")
            return
        oldroot = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        newroot = os.open(plan.rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fchdir(newroot)
            # pivot_root(".", ".") stacks the old root on top of the new one;
            # unmounting "." from the old root's fd then drops it without a
            # temporary directory in the rootfs
            k.pivot_root(".", ".")
            os.fchdir(oldroot)
            k.mount(None, ".", None, k.MS_SLAVE | k.MS_REC)
            k.umount2(".", k.MNT_DETACH)
            os.chdir("/")
        finally:
            os.close(oldroot)
            os.close(newroot)
    except OSError as exc:
        raise _err("pivot_root" if not plan.no_pivot else "move rootfs to /", exc) from None


def readonly_later(op):
    """A `ro` mount that things still go into: any tmpfs (a later mount's
    mount point), /dev whatever its type (devices, links, the console).
    prepare() mounts it read-write, finalize() remounts it (runc's rule)."""
    return (op.flags & k.MS_RDONLY and not op.bind and not op.cgroup
            and (op.fstype == "tmpfs" or op.destination.rstrip("/") == "/dev"))


def _remount_readonly(op):
    try:
        # MS_BIND with MS_REMOUNT changes only the per-mount flags, which a
        # user namespace may do as long as no locked flag is dropped
        locked = os.statvfs(op.destination).f_flag & _LOCKED
        flags = op.flags & ~(k.MS_BIND | k.MS_REC)  # nosuid, strictatime...: kept as asked
        k.mount(None, op.destination, None, k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | flags | locked)
    except OSError as exc:
        raise _err(f"remount {op.destination} read-only", exc) from None
def hide_host_procfs_and_sysfs(rootfs):
    """--no-pivot: detach every full procfs and sysfs mount outside the rootfs.

    Without pivot_root the host's mounts stay in our mount namespace, merely
    out of the chroot's sight. The kernel lets a new user namespace mount
    procfs or sysfs only where a fully visible one exists in the mount
    namespace: the host's /proc would be that one, so `unshare -mrpf mount
    -t proc` inside the container would get a bare, unmasked /proc. runc's
    msMoveRoot does the same: unmount (or, where that is refused, cover with
    a tmpfs) each mount whose root is the filesystem's root."""
    top = os.path.realpath(rootfs).rstrip("/") + "/"
    points = []
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f.read().decode(errors="replace").splitlines():
            left, sep, right = line.partition(" - ")
            fields, kind = left.split(), right.split()[:1]
            if not sep or len(fields) < 5 or kind not in (["proc"], ["sysfs"]) or fields[3] != "/":
                continue
            point = procfs.unescape_mountinfo(fields[4])
            if not (point + "/").startswith(top):
                points.append(point)
    for point in points:
        try:
            # (a slave, if rshared left it shared: unmounting what is below it
            # must not reach the host's)
            k.mount(None, point, None, k.MS_SLAVE | k.MS_REC)
        except FileNotFoundError:
            continue  # under one detached already
        except OSError as exc:
            raise _err(f"hide host {point}", exc) from None
        try:
            k.umount2(point, k.MNT_DETACH)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EPERM):
                raise _err(f"unmount host {point}", exc) from None
            try:
                k.mount("tmpfs", point, "tmpfs", 0, None)
            except OSError as exc2:
                raise _err(f"cover host {point}", exc2) from None


def finalize(plan):
    """After pivot: stdio on the host's /dev/null moved to the container's,
    `ro` mounts prepare() left writable, masked and read-only paths, a
    read-only root, then rootfsPropagation."""
    reopen_dev_null()
    for op in plan.mounts:
        if readonly_later(op):
            _remount_readonly(op)
    for path in plan.readonly_paths:
        _readonly(path)
    for path in plan.masked_paths:
        _mask(path, plan.mount_label)
    if plan.readonly_root:
        try:
            flags = os.statvfs("/").f_flag & _LOCKED
            k.mount(None, "/", None, k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | flags)
        except OSError as exc:
            raise _err("remount / read-only", exc) from None
    if plan.rootfs_propagation:
        # Last: before the pivot it would reach the host's mounts, and before the
        # binds above (read-only and masked paths, the console) (r)unbindable
        # would make them fail with EINVAL
        try:
            k.mount(None, "/", None, plan.rootfs_propagation)
        except OSError as exc:
            raise _err("set rootfs propagation", exc) from None


def reopen_dev_null():
    """Stdio that is a /dev/null (a podman's conmon, `run -d </dev/null`)
    is the host's, on a mount the container cannot see: CRIU cannot dump a
    file it cannot find a mount for. As runc's reOpenDevNull, such an fd
    becomes the container's own /dev/null (when that is the real 1:3)."""
    try:
        null = os.open("/dev/null", os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # no /dev/null of its own: stdio stays as given
    try:
        if not _dev_null_ok(null):
            return
        rdev = os.fstat(null).st_rdev
        for fd in range(3):
            try:
                st = os.fstat(fd)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == rdev:
                try:
                    os.dup2(null, fd)
                except OSError as exc:
                    raise _err(f"reopen /dev/null as fd {fd}", exc) from None
    finally:
        os.close(null)


def _readonly(path):
    try:
        k.mount(path, path, None, k.MS_BIND | k.MS_REC)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _err(f"make {path} read-only", exc) from None
    try:
        flags = os.statvfs(path).f_flag & _LOCKED
        k.mount(None, path, None, k.MS_BIND | k.MS_REMOUNT | k.MS_RDONLY | k.MS_REC | flags)
    except OSError as exc:
        raise _err(f"make {path} read-only", exc) from None


def _dev_null_ok(fd=None):
    """CVE-2025-31133: /dev/null used for masking must be the real 1:3 char device."""
    try:
        st = os.fstat(fd) if fd is not None else os.stat("/dev/null", follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3


def _mask(path, label=None):
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _err(f"mask {path}", exc) from None
    try:
        if stat.S_ISDIR(st.st_mode):
            k.mount("tmpfs", path, "tmpfs", k.MS_RDONLY, with_mount_label(None, label))
        else:
            # check and mount the same inode: an fd, not the path twice
            null = os.open("/dev/null", os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                if not _dev_null_ok(null) and not testguards.off("dev-null-check"):
                    raise InitError(f"mask {path}: /dev/null is not the null device, refusing")
                k.mount(f"/proc/self/fd/{null}", path, None, k.MS_BIND)
            finally:
                os.close(null)
    except OSError as exc:
        raise _err(f"mask {path}", exc) from None
