"""Execute a resources.Write plan against real (or fake) cgroup directories.

Kept apart from the table so the table stays pure; the drivers hand in a
function that maps a controller to its directory (None: not mounted here).
"""
from __future__ import annotations

import errno

from pyrunc.cgroups import fsio
from pyrunc.cgroups.resources import Write
from pyrunc.errors import CgroupError

_NOT_SUPPORTED = (errno.EOPNOTSUPP, 524)  # 524: the kernel's internal ENOTSUPP


def run(writes: list[Write], dir_for, warn) -> None:
    deferred: Write | None = None
    for w in writes:
        d = dir_for(w.controller)
        if d is None:
            if w.optional:
                warn(f"{w.file} is not available on this host; ignored")
                continue
            raise CgroupError(f"cgroup {w.controller}: controller not available on this host: cannot write {w.file}={w.value}")
        if w.optional and not fsio.exists(d, w.file):
            warn(f"{w.file} is not available on this kernel; ignored")
            continue
        if w.absent_hint and not fsio.exists(d, w.file):
            raise CgroupError(f"cgroup {w.controller}: write {w.file}={w.value}: no such file or directory "
                              f"({w.absent_hint})")
        try:
            fsio.write(d, w.file, w.value, w.controller)
        except CgroupError as exc:
            cause = exc.__cause__
            code = getattr(cause, "errno", None)
            if w.optional and code in _NOT_SUPPORTED + (errno.ENOENT,):
                warn(f"{w.file} is not supported by this kernel; ignored")
                continue
            if w.retry_after_next and code == errno.EINVAL:
                # e.g. a smaller cfs period is only valid once the quota is lower
                deferred = w
                continue
            raise
        if w.optional:
            # Linux 5.16+ accepts memory.kmem.limit_in_bytes and ignores it
            got = (fsio.read_opt(d, w.file) or "").strip()
            if got.lstrip("-").isdigit() and w.value.lstrip("-").isdigit() and int(got) != int(w.value) \
                    and int(w.value) >= 0:
                warn(f"{w.file}={w.value} was ignored by this kernel (it reads {got})")
        if w.verify:
            got = fsio.read(d, w.file, w.controller).strip()
            if got != w.value:
                what = "maximum" if int(w.value) > int(got) else "minimum"
                raise CgroupError(f"cgroup {w.controller}: the {what} allowed {w.file.split('.', 1)[1]} is {got}")
        if deferred is not None and deferred is not w:
            fsio.write(dir_for(deferred.controller), deferred.file, deferred.value, deferred.controller)
            deferred = None
    if deferred is not None:
        fsio.write(dir_for(deferred.controller), deferred.file, deferred.value, deferred.controller)
