"""Paths inside the container's rootfs, opened without ever leaving it.

Every path in a rootfs is hostile: a symlink in it may point anywhere. We
resolve with openat2(RESOLVE_IN_ROOT) relative to an fd of the rootfs, create
missing components one at a time with O_NOFOLLOW, and hand back O_PATH fds
that mount(2) uses through /proc/self/fd/N (CVE-2021-30465, CVE-2024-45310).
Child-side, import-light.
"""
import errno
import os
import stat

from pyrunc import testhooks as testguards
from pyrunc.errors import InitError
from pyrunc.kernel import syscalls as k

O_PATH = os.O_PATH


def fd_path(fd):
    return f"/proc/self/fd/{fd}"


def open_in_root(rootfd, path, flags=O_PATH | os.O_CLOEXEC):
    rel = path.lstrip("/") or "."
    resolve = 0 if testguards.off("resolve-in-root") else k.RESOLVE_IN_ROOT
    return k.openat2(rootfd, rel, flags | os.O_CLOEXEC, 0, resolve)


def resolve_in_root(rootfd, path, max_links=255):
    """The path, with every symlink that exists resolved as if the rootfs were
    `/` (filepath-securejoin's rule): the result names the same place that
    openat2(RESOLVE_IN_ROOT) would, but a dangling link's target is spelled
    out so that it can be created inside the root."""
    if testguards.off("resolve-in-root"):
        return "/" + path.strip("/")
    pending = [p for p in path.split("/") if p and p != "."]
    done = []
    links = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        parent = "/".join(done)
        try:
            dfd = open_in_root(rootfd, parent, O_PATH | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            done.append(part)  # below a missing directory (or a file) nothing is a link
            continue
        try:
            target = os.readlink(part, dir_fd=dfd)
        except (FileNotFoundError, OSError):
            done.append(part)
            continue
        finally:
            os.close(dfd)
        links += 1
        if links > max_links:
            raise InitError(f"resolve {path}: too many levels of symbolic links")
        if target.startswith("/"):
            done = []
        pending = [p for p in target.split("/") if p and p != "."] + pending
    return "/" + "/".join(done)


def mkdir_all(rootfd, path, mode=0o755):
    """mkdir -p inside the root; returns an O_PATH fd of the directory.

    Each prefix is resolved from the root again, so a symlink swapped in at
    any step still cannot lead outside the rootfs. Two shortcuts first, for
    the common cases (one openat2 instead of two per component): the
    directory is there, or only its last component is missing."""
    try:
        return open_in_root(rootfd, path, O_PATH | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        pass  # the walk below finds (and names) what is missing
    fd = _mkdir_leaf(rootfd, path, mode)
    if fd is not None:
        return fd
    parts = [p for p in resolve_in_root(rootfd, path).split("/") if p]
    for i in range(len(parts)):
        sub = "/".join(parts[: i + 1])
        try:
            os.close(open_in_root(rootfd, sub, O_PATH | os.O_DIRECTORY))
            continue
        except FileNotFoundError:
            pass
        except NotADirectoryError:
            raise InitError(f"mkdir /{sub}: not a directory") from None
        dirfd = open_in_root(rootfd, "/".join(parts[:i]), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.mkdir(parts[i], mode, dir_fd=dirfd)
        except FileExistsError:
            pass
        finally:
            os.close(dirfd)
    return open_in_root(rootfd, "/".join(parts), O_PATH | os.O_DIRECTORY)


def _mkdir_leaf(rootfd, path, mode):
    """mkdir of the last component in a parent that exists (resolved in the
    root); its O_PATH fd, or None to take the walk (a missing parent, a
    dangling symlink or anything else already at the name)."""
    head, _, name = path.strip("/").rpartition("/")
    if name in ("", ".", ".."):
        return None
    try:
        pfd = open_in_root(rootfd, head, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        os.mkdir(name, mode, dir_fd=pfd)
        return os.open(name, O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
    except FileExistsError:
        return None
    finally:
        os.close(pfd)


def create_file(rootfd, path, mode=0o644):
    """Ensure a regular file exists at path (a bind target); O_PATH fd of it."""
    # a dangling symlink as the last component: create its target inside the root
    parent, name = os.path.split(resolve_in_root(rootfd, path))
    pfd = mkdir_all(rootfd, parent)
    try:
        try:
            return k.openat2(rootfd, (parent + "/" + name).lstrip("/"), O_PATH | os.O_CLOEXEC, 0,
                             k.RESOLVE_IN_ROOT)
        except FileNotFoundError:
            dfd = os.open(fd_path(pfd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                try:
                    os.close(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                     mode, dir_fd=dfd))
                except FileExistsError:
                    pass
                return os.open(name, O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            finally:
                os.close(dfd)
    finally:
        os.close(pfd)


def ensure_target(rootfd, path, is_dir):
    """The mount point for `path`: a directory, or a file for file binds."""
    try:
        fd = open_in_root(rootfd, path)
    except FileNotFoundError:
        return mkdir_all(rootfd, path) if is_dir else create_file(rootfd, path)
    if is_dir and not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise InitError(f"mount destination {path}: not a directory")
    return fd


def parent_dir_fd(rootfd, path):
    """(O_RDONLY fd of the parent dir inside the root, basename)."""
    parent, name = os.path.split(os.path.normpath("/" + path))
    pfd = mkdir_all(rootfd, parent)
    try:
        return os.open(fd_path(pfd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), name
    finally:
        os.close(pfd)


__all__ = ["open_in_root", "mkdir_all", "create_file", "ensure_target",
           "parent_dir_fd", "fd_path", "errno"]
