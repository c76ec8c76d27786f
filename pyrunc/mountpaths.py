"""Config mount paths that spell out the host path of the rootfs.

Place in the flow: used before the first fork, by pyrunc.plan (what the init
mounts where) and by the /proc rule of pyrunc.config.checks.mounts (which must judge the same
destination the init will use). Pure: no syscalls beyond realpath.

runc takes a mount destination that starts with the rootfs's host path as
the container path below it (`$rootfs/mnt` is `/mnt`); its mount-order tests
write destinations and bind sources that way. A bind source below the rootfs
is the container's own tree, perhaps made by an earlier mount in the list:
the init resolves it inside the rootfs when its turn comes, so a symlink in
the image cannot point it at the host.
"""
import os
import posixpath


def rootfs_forms(root_path: str, bundle: str) -> tuple:
    """The rootfs as a config may spell it: as written (made absolute) and resolved."""
    path = root_path if posixpath.isabs(root_path) else posixpath.join(bundle, root_path)
    lexical = os.path.abspath(path)   # (normalised too)
    real = os.path.realpath(lexical)
    return (lexical,) if real == lexical else (lexical, real)


def below_rootfs(path: str, roots: tuple) -> str | None:
    """`path` (absolute) as a container path when it is lexically the rootfs
    or below it, else None."""
    clean = posixpath.normpath("/" + path.lstrip("/"))  # (normpath keeps a leading //)
    for root in roots:
        if root == "/":
            continue   # every path is "below" /: nothing to strip
        if clean == root:
            return "/"
        if clean.startswith(root + "/"):
            return clean[len(root):]
    return None


def destination(raw: str, roots: tuple) -> str:
    """The container path a config destination names (relative ones are
    taken from /, as runc does)."""
    clean = posixpath.normpath("/" + raw.lstrip("/"))
    return below_rootfs(clean, roots) or clean
