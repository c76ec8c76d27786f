"""`pyrunc features`: the runtime-spec features document (features.md).

Clients turn things on from this document (containerd: user namespaces and
`rro` mounts; Docker: a time namespace), so it must be honest: every entry is
derived from the tables the code actually uses (plan.py's mount options,
seccomp.py's actions/operators/arches/flags, the capability table) and then
narrowed by what this host's kernel offers (probed without side effects).
Parent-side and cheap: no child, no config.
"""
from __future__ import annotations

import ctypes
import errno
import os

from pyrunc import SPEC_VERSION, __version__

OCI_VERSION_MIN = "1.0.0"
HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")

SYS_SECCOMP = 317          # x86_64
SYS_MOUNT_SETATTR = 442
SECCOMP_SET_MODE_FILTER = 1


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _syscall_errno(nr: int, *args) -> int:
    """errno of a probing syscall that must fail (0 if it unexpectedly succeeded)."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    ret = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    return ctypes.get_errno() if ret < 0 else 0


def has_mount_setattr() -> bool:
    """mount_setattr(2) (Linux 5.12) carries the recursive r* options like rro.

    Probed with a bad fd: EBADF means the call exists, ENOSYS that it does not."""
    return _syscall_errno(SYS_MOUNT_SETATTR, -1, 0, 0, 0, 0) != errno.ENOSYS


def seccomp_flag_supported(flag: int) -> bool:
    """runc's probe: seccomp(SET_MODE_FILTER, flag, NULL) fails with EFAULT
    (the NULL program) only when the kernel knows the flag, EINVAL otherwise."""
    return _syscall_errno(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, flag, 0) == errno.EFAULT


def host_namespaces() -> list[str]:
    from pyrunc.kernel import syscalls as k
    names = {"cgroup": "cgroup", "ipc": "ipc", "mount": "mnt", "network": "net",
             "pid": "pid", "user": "user", "uts": "uts", "time": "time"}
    out = []
    for oci, proc in names.items():
        if oci not in k.NAMESPACE_FLAGS or not os.path.exists(f"/proc/self/ns/{proc}"):
            continue
        if oci == "user" and not _user_namespaces_enabled():
            continue
        out.append(oci)
    return sorted(out)


def _user_namespaces_enabled() -> bool:
    try:
        with open("/proc/sys/user/max_user_namespaces") as f:
            return int(f.read()) > 0
    except (OSError, ValueError):
        return False


def _lsm_enabled(name: str) -> bool:
    try:
        with open("/sys/kernel/security/lsm") as f:
            return name in f.read().strip().split(",")
    except OSError:
        return False


def recursive_attrs_applied() -> bool:
    """Does the init really apply rro/rnosuid/... (mount_setattr)?

    plan.py parses them, but a client that sees `rro` advertised mounts
    read-only volumes with it and would get writable ones if the init
    ignored it. init/rootfs.py sets APPLIES_RECURSIVE_ATTRS once it applies
    them; until then they are not advertised."""
    from pyrunc.init import rootfs
    return bool(getattr(rootfs, "APPLIES_RECURSIVE_ATTRS", False))


def mount_options() -> list[str]:
    from pyrunc import plan
    opts = set(plan.MOUNT_FLAGS) | set(plan.PROPAGATION_FLAGS) | set(plan.EXTENSION_OPTIONS)
    if recursive_attrs_applied() and has_mount_setattr():
        opts |= set(plan.RECURSIVE_ATTRS)
    return sorted(opts)


def capabilities() -> list[str]:
    from pyrunc import capabilities as caps
    return [caps.cap_name(nr) for nr in range(caps.kernel_last_cap() + 1)]


def seccomp_features() -> dict:
    try:
        from pyrunc import seccomp
    except (ImportError, OSError):  # libseccomp missing: we cannot load filters at all
        return {"enabled": False}
    out = {
        "enabled": True,
        "actions": sorted(seccomp.ACTIONS),
        "operators": sorted(seccomp.OPERATORS),
        "archs": seccomp.known_arches(),  # only what this libseccomp can add
        "knownFlags": sorted(seccomp.FLAGS),
        "supportedFlags": sorted(name for name, bit in seccomp.FLAGS.items()
                                 if seccomp_flag_supported(_probe_bits(seccomp, bit))),
    }
    return out


def _probe_bits(seccomp, bit: int) -> int:
    # WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER (EINVAL alone)
    if bit == seccomp.FLAG_WAIT_KILLABLE_RECV:
        return bit | seccomp.FLAG_NEW_LISTENER
    return bit


def annotations() -> dict:
    out = {"org.pyrunc.version": __version__}
    try:
        import pyseccomp
        lib = ctypes.CDLL("libseccomp.so.2")
        lib.seccomp_version.restype = ctypes.POINTER(ctypes.c_uint * 3)
        major, minor, micro = lib.seccomp_version().contents
        out["io.github.seccomp.libseccomp.version"] = f"{major}.{minor}.{micro}"
        del pyseccomp
    except (ImportError, OSError, AttributeError):
        pass
    return out


def document() -> dict:
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": SPEC_VERSION,
        "hooks": list(HOOKS),
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": host_namespaces(),
            "capabilities": capabilities(),
            # the fs driver serves v1 and hybrid hosts, fs2 pure v2, the systemd
            # driver both; a user (rootless) systemd manager is not supported
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": False,
                       "rdma": True},
            "seccomp": seccomp_features(),
            "apparmor": {"enabled": _lsm_enabled("apparmor")},
            "selinux": {"enabled": _lsm_enabled("selinux")},
            "intelRdt": {"enabled": False},
            # plan.py refuses idmap/ridmap mount options
            "mountExtensions": {"idmap": {"enabled": False}},
            # pyrunc.netdevices moves them in at create and out at delete
            "netDevices": {"enabled": True},
        },
        "annotations": annotations(),
    }
