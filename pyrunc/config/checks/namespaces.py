"""Rules about linux.namespaces, and about the fields that need one
(hostname, domainname, id mappings, timeOffsets, sysctl). Part of
pyrunc.config's one pipeline (checks/pipeline.py). Some look at the host: a
namespace path must be a namespace file of the named type (NS_GET_NSTYPE),
a network sysctl must not reach the host's own namespace.
Import-light: os, errno, fcntl.
"""
from __future__ import annotations

import errno
import fcntl
import os

from pyrunc.config.findings import error, jpath, os_reason, show
from pyrunc.kernel.flags import NAMESPACE_FLAGS


def namespaces(cfg) -> list[dict]:
    """linux.namespaces, or [] when there is none."""
    return (cfg.get("linux") or {}).get("namespaces") or []


def has_ns(cfg, kind: str) -> bool:
    """Does the config list a `kind` namespace (or maybe meant one)?"""
    # an entry of no known type (the schema refuses it) may have meant this one:
    # say nothing rather than a second, misleading problem
    return any(ns.get("type") in (kind, None) or ns.get("type") not in NAMESPACE_FLAGS for ns in namespaces(cfg))


_NS_OF_FLAG = {v: k for k, v in NAMESPACE_FLAGS.items()}
NS_GET_NSTYPE = 0xB703   # _IO(0xb7, 0x3): which CLONE_NEW* a namespace file is (Linux 4.11+)


def namespace_type_of(path: str) -> str | None:
    """The namespace type of an nsfs file (/proc/<pid>/ns/net, a bind mount of it), else None.

    Raises OSError when the path cannot be opened. The ioctl answers ENOTTY for
    any file that is not a namespace, which is what makes it the right test.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        flag = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError as exc:
        if exc.errno in (errno.ENOTTY, errno.EINVAL):
            return None
        raise
    finally:
        os.close(fd)
    return _NS_OF_FLAG.get(flag, f"unknown ({flag:#x})")


def check_hostname(cfg, ctx):
    for field in ("hostname", "domainname"):
        if cfg.get(field) and not has_ns(cfg, "uts"):
            yield error(field, "needs a UTS namespace: add {\"type\": \"uts\"} to linux.namespaces")


def check_namespaces(cfg, ctx):
    first: dict[str, int] = {}
    for i, ns in enumerate(namespaces(cfg)):
        kind = ns["type"]
        if kind in first:
            yield error(jpath("linux", "namespaces", i, "type"),
                        f"{show(kind)} appears twice (first at {jpath('linux', 'namespaces', first[kind])})")
        else:
            first[kind] = i
        path = ns.get("path")
        if not path:
            continue
        where = jpath("linux", "namespaces", i, "path")
        if not path.startswith("/"):
            yield error(where, f"{show(path)} must be an absolute path")
            continue
        try:
            actual = namespace_type_of(path)
        except OSError as exc:
            yield error(where, f"{path}: {os_reason(exc)}")
            continue
        if actual is None:
            yield error(where, f"{path}: not a namespace file")
        elif actual != kind:
            yield error(where, f"{path}: is a {actual} namespace, not {kind}")


def check_id_mappings(cfg, ctx):
    linux = cfg.get("linux") or {}
    user = [ns for ns in namespaces(cfg) if ns["type"] == "user"]
    for field in ("uidMappings", "gidMappings"):
        if linux.get(field) and not user:
            yield error(jpath("linux", field), "needs a user namespace: add {\"type\": \"user\"} to linux.namespaces")
        elif user and not user[0].get("path") and not linux.get(field):
            # runc refuses it up front too; without a map the kernel only says EINVAL later
            yield error(jpath("linux", field), "is required for a new user namespace "
                        "(or give the user namespace a path to join)")


def check_time_offsets(cfg, ctx):
    offsets = (cfg.get("linux") or {}).get("timeOffsets")
    if offsets and not any(ns["type"] == "time" and not ns.get("path") for ns in namespaces(cfg)):
        yield error("linux.timeOffsets", "needs a new time namespace: add {\"type\": \"time\"} to linux.namespaces")


# sysctls isolated by the IPC namespace (ipc_namespaces(7), mq_overview(7))
_IPC_SYSCTLS = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"}


def _sysctl_namespace(name: str) -> str | None:
    if name.startswith("net."):
        return "network"
    if name in _IPC_SYSCTLS or name.startswith("fs.mqueue."):
        return "ipc"
    if name == "kernel.domainname":
        return "uts"
    if name.startswith("user."):
        return "user"   # the ucounts limits belong to the user namespace
    return None


def is_host_namespace(path: str, kind_dir: str) -> bool:
    """Is `path` the namespace of `kind_dir` (net, ipc, ...) this process is in?"""
    try:
        a, b = os.stat(path), os.stat(f"/proc/self/ns/{kind_dir}")
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def check_sysctl(cfg, ctx):
    """Like runc: a sysctl is only written when it is isolated by a namespace the container owns."""
    sysctl = (cfg.get("linux") or {}).get("sysctl") or {}
    by_type = {ns["type"]: ns for ns in namespaces(cfg)}
    for name in sysctl:
        where = jpath("linux", "sysctl", name)
        key = name.replace("/", ".")
        if key == "kernel.hostname":
            # isolated by the UTS namespace, but the OCI `hostname` field owns it (runc)
            yield error(where, "is not allowed: it conflicts with the OCI \"hostname\" field; set that instead")
            continue
        kind = _sysctl_namespace(key)
        if kind is None:
            yield error(where, "is not isolated by any namespace: setting it would change the host")
        elif kind not in by_type:
            yield error(where, f"needs a {kind} namespace: add {{\"type\": \"{kind}\"}} to linux.namespaces")
        elif kind == "network" and by_type[kind].get("path") and is_host_namespace(by_type[kind]["path"], "net"):
            yield error(where, "would change the host: linux.namespaces joins the host's network namespace")
