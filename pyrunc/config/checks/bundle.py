"""Rules about the document and the bundle as a whole: ociVersion, root,
hooks, annotations. Part of pyrunc.config's one pipeline (checks/pipeline.py),
run by create and `validate` alike. Import-light: os.
"""
from __future__ import annotations

import os

from pyrunc.config.findings import error, jpath, os_reason, show, warning


def semver_major(version) -> int | None:
    """The major number of a SemVer 2.0.0 string (1.3.0, 1.0.0-rc5+dev), else None.

    Hand-parsed: compiling a regex here would cost each create ~1 ms.
    """
    if not isinstance(version, str) or not version.isascii():
        return None
    core, plus, build = version.partition("+")
    core, dash, pre = core.partition("-")
    if (plus and not build) or (dash and not pre):
        return None
    parts = core.split(".")
    if len(parts) != 3 or not all(p.isdigit() and (p == "0" or p[0] != "0") for p in parts):
        return None
    return int(parts[0])


def check_oci_version(cfg, ctx):
    version = cfg.get("ociVersion")
    major = semver_major(version)
    if major is None:
        yield error("ociVersion", f"{show(version)} is not a SemVer version like 1.3.0")
    elif major != 1:
        yield error("ociVersion", f"{show(version)} is not supported: pyrunc implements runtime-spec 1.x")
    elif int(version.split(".")[1]) > 3:
        # a later 1.x only adds fields; those are ignored like any unknown field
        yield warning("ociVersion", f"{show(version)} is newer than runtime-spec 1.3.0; fields added since are ignored")


def check_root(cfg, ctx):
    root = cfg.get("root")
    if root is None:
        yield error("root", "is required on Linux")
        return
    path = root["path"]
    if not path:
        yield error("root.path", "must not be empty")
        return
    rootfs = path if os.path.isabs(path) else os.path.join(ctx.bundle_dir, path)
    try:
        st = os.stat(rootfs)
    except OSError as exc:
        yield error("root.path", f"{rootfs}: {os_reason(exc)}")
        return
    if not _isdir(st.st_mode):
        yield error("root.path", f"{rootfs}: not a directory")


def _isdir(mode: int) -> bool:
    return (mode & 0o170000) == 0o040000


_HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def check_hooks(cfg, ctx):
    hooks = cfg.get("hooks") or {}
    # prestart is deprecated in the spec, which asks for no warning; runc gives
    # none either, and clients still send it: accept it quietly
    for kind in _HOOK_KINDS:
        for i, hook in enumerate(hooks.get(kind) or []):
            if not hook["path"].startswith("/"):
                yield error(jpath("hooks", kind, i, "path"), f"{show(hook['path'])} must be an absolute path")


def check_annotations(cfg, ctx):
    if "" in (cfg.get("annotations") or {}):
        yield error("annotations", "a key must not be empty")
