"""bpf(2) through pyrunc.kernel.libc: load a cgroup device program and attach it to a cgroup.

Imported only by the v2 driver when it applies device rules. Attaching follows
runc's `LoadAttachCgroupDeviceFilter`: find the programs already attached,
attach ours with BPF_F_ALLOW_MULTI (with BPF_F_REPLACE when exactly one old
program is there), then detach the old ones, so the cgroup is never without a
filter in between. Errors are CgroupError with the operation and errno.
"""
from __future__ import annotations

import errno as _errno
import os
import resource
import struct

from pyrunc.errors import CgroupError, UnsupportedArchitecture
from pyrunc.kernel import arch, libc

BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 1 << 1
BPF_F_REPLACE = 1 << 2

_ATTR_SIZE = 128
_syscall = libc.function("syscall", libc.c_long)


def _attr():
    """A zeroed union bpf_attr."""
    return libc.buffer(bytes(_ATTR_SIZE))


def _bpf(cmd: int, attr, what: str) -> int:
    try:
        nr = arch.nr("bpf")
    except UnsupportedArchitecture as exc:
        raise CgroupError(f"cgroup devices: {exc}") from None
    while True:
        ret = _syscall(libc.c_long(nr), libc.c_int(cmd), attr, libc.c_uint(_ATTR_SIZE))
        if ret >= 0:
            return ret
        err = libc.get_errno()
        if err == _errno.EINTR:
            continue
        raise CgroupError(f"cgroup devices: {what}: {os.strerror(err).lower()}")


def load(program: bytes, license: str = "Apache") -> int:
    """BPF_PROG_LOAD a BPF_PROG_TYPE_CGROUP_DEVICE program; returns its fd."""
    # kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK (runc raises it too)
    try:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass
    insns = libc.buffer(program)
    lic = libc.buffer(license.encode() + b"\0")
    log = libc.buffer(bytes(65536))
    attr = _attr()
    # prog_type, insn_cnt, insns, license, log_level, log_size, log_buf
    struct.pack_into("<IIQQIIQ", attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE, len(program) // 8,
                     libc.addressof(insns), libc.addressof(lic), 1, len(log), libc.addressof(log))
    try:
        return _bpf(BPF_PROG_LOAD, attr, "load device program")
    except CgroupError as exc:
        verifier = log.raw.split(b"\0", 1)[0].decode(errors="replace").strip().splitlines()
        if verifier:
            raise CgroupError(f"{exc}: {verifier[-1]}") from exc
        raise


def query(cgroup_fd: int) -> list[int]:
    """Ids of the device programs attached to the cgroup."""
    ids = libc.buffer(bytes(4 * 64))  # __u32 prog_ids[64]
    attr = _attr()
    # target_fd, attach_type, query_flags, attach_flags, prog_ids, prog_cnt
    struct.pack_into("<IIIIQI", attr, 0, cgroup_fd, BPF_CGROUP_DEVICE, 0, 0, libc.addressof(ids), 64)
    _bpf(BPF_PROG_QUERY, attr, "query device programs")
    count = struct.unpack_from("<I", attr, 24)[0]
    return list(struct.unpack_from(f"<{min(count, 64)}I", ids.raw))


def prog_fd_by_id(prog_id: int) -> int:
    attr = _attr()
    struct.pack_into("<I", attr, 0, prog_id)
    return _bpf(BPF_PROG_GET_FD_BY_ID, attr, f"open program {prog_id}")


def attach(cgroup_fd: int, prog_fd: int, flags: int = BPF_F_ALLOW_MULTI, replace_fd: int = 0) -> None:
    attr = _attr()
    # target_fd, attach_bpf_fd, attach_type, attach_flags, replace_bpf_fd
    struct.pack_into("<IIIII", attr, 0, cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, flags, replace_fd)
    _bpf(BPF_PROG_ATTACH, attr, "attach device program")


def detach(cgroup_fd: int, prog_fd: int) -> None:
    attr = _attr()
    struct.pack_into("<III", attr, 0, cgroup_fd, prog_fd, BPF_CGROUP_DEVICE)
    _bpf(BPF_PROG_DETACH, attr, "detach device program")


def install(cgroup_dir: str, program: bytes) -> None:
    """Load `program` and make it the only device filter of `cgroup_dir`."""
    try:
        dfd = os.open(cgroup_dir, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise CgroupError(f"cgroup devices: open {cgroup_dir}: {exc.strerror.lower()}") from exc
    old_fds: list[int] = []
    prog_fd = -1
    try:
        for pid in query(dfd):
            old_fds.append(prog_fd_by_id(pid))
        prog_fd = load(program)
        if len(old_fds) == 1:
            try:
                attach(dfd, prog_fd, BPF_F_ALLOW_MULTI | BPF_F_REPLACE, old_fds[0])
                return
            except CgroupError:
                pass  # kernel without BPF_F_REPLACE (< 5.6): attach, then detach
        attach(dfd, prog_fd, BPF_F_ALLOW_MULTI)
        for fd in old_fds:
            detach(dfd, fd)
    finally:
        for fd in old_fds + ([prog_fd] if prog_fd >= 0 else []) + [dfd]:
            os.close(fd)
