"""Copying a directory tree fd-to-fd: the `tmpcopyup` mount option.

podman asks for it on every --tmpfs and /dev/shm-style mount: the new tmpfs
must start with what the image has at that destination. rootfs.py opens the
destination directory before it mounts the tmpfs over it (that fd keeps
seeing the directory underneath) and calls copy_tree(lower, upper) with the
new mount's root. Every step is relative to a directory fd and refuses to
follow symlinks, so nothing in the (hostile) rootfs can send the copy
outside it; symlinks are copied as symlinks. Modes, owners and times are
kept; sockets are skipped (they cannot be copied), hard links become copies.
Child-side, import-light: os and stat only (no shutil).
"""
import os
import stat

_NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


def copy_tree(src_dir, dst_dir):
    """Copy the contents of directory fd `src_dir` into directory fd `dst_dir`.
    `dst_dir` itself is left as mounted: its mode is the tmpfs's mode= (the
    image directory's unless the config says otherwise), its owner the
    tmpfs's, as runc leaves them. Raises OSError with the failing name as filename."""
    for entry in os.listdir(src_dir):
        _copy_entry(src_dir, dst_dir, entry)


def _copy_dir(src_dir, dst_dir, st):
    copy_tree(src_dir, dst_dir)
    _own(dst_dir, st)


def _copy_entry(src_dir, dst_dir, name):
    try:
        st = os.stat(name, dir_fd=src_dir, follow_symlinks=False)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            os.mkdir(name, 0o700, dir_fd=dst_dir)
            sub_src = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=src_dir)
            try:
                sub_dst = os.open(name, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW, dir_fd=dst_dir)
                try:
                    _copy_dir(sub_src, sub_dst, st)
                    _times(sub_dst, st)
                finally:
                    os.close(sub_dst)
            finally:
                os.close(sub_src)
        elif stat.S_ISREG(mode):
            _copy_file(src_dir, dst_dir, name, st)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(name, dir_fd=src_dir), name, dir_fd=dst_dir)
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_dir, follow_symlinks=False)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            os.mknod(name, mode, st.st_rdev, dir_fd=dst_dir)
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_dir, follow_symlinks=False)
            os.chmod(name, stat.S_IMODE(mode), dir_fd=dst_dir, follow_symlinks=False)
        # a socket has no content to copy: like cp -a, it is left out
    except OSError as exc:
        if exc.filename is None:
            exc.filename = name
        raise


def _copy_file(src_dir, dst_dir, name, st):
    src = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=src_dir)
    try:
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600, dir_fd=dst_dir)
        try:
            left = st.st_size
            while left > 0:
                # in the kernel, without a round trip through our memory
                n = os.sendfile(dst, src, None, min(left, _CHUNK))
                if n == 0:
                    break  # the file shrank while we copied
                left -= n
            _own(dst, st)
            _times(dst, st)
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _own(fd, st):
    # chown first: it clears setuid/setgid bits the chmod then puts back
    os.fchown(fd, st.st_uid, st.st_gid)
    os.fchmod(fd, stat.S_IMODE(st.st_mode))


def _times(fd, st):
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
