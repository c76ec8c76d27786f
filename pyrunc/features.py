"""`pyrunc features`: the runtime-spec features document (features.md).

Clients turn things on from this document (containerd: user namespaces and
`rro` mounts; Docker: a time namespace), so it must be honest, in the spec's
and runc's meaning of each field: what the RUNTIME supports, "irrelevant to
the availability of the features in the host operating system". So:
`namespaces`, `capabilities` and `mountOptions` are every name a config may
use and create recognizes (a namespace or capability this kernel lacks
included); `apparmor.enabled`/`selinux.enabled` say pyrunc applies
process.apparmorProfile / selinuxLabel (a host without the LSM refuses them
at create, as runc does); `cgroup.*` the drivers pyrunc has. The exceptions
the spec itself makes: seccomp `supportedFlags` (and `archs`) are what this
kernel and libseccomp take. Entries come from the tables the code uses
(plan.py, seccomp.py, capabilities.py); tests/unit/test_features_behaviour.py
checks each against create, not against those tables.
Parent-side and cheap: no child, no config.
"""
from __future__ import annotations

import errno
import struct

from pyrunc import SPEC_VERSION, __version__
from pyrunc.errors import UnsupportedArchitecture
from pyrunc.kernel import arch, libc

OCI_VERSION_MIN = "1.0.0"
HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")

SECCOMP_SET_MODE_FILTER = 1


def _syscall_errno(name: str, *args) -> int:
    """errno of a probing syscall that must fail (0 if it unexpectedly succeeded)."""
    syscall = libc.function("syscall", libc.c_long)
    ret = syscall(libc.c_long(arch.nr(name)), *[libc.c_long(a) for a in args])
    return libc.get_errno() if ret < 0 else 0


def seccomp_flag_supported(flag: int) -> bool:
    """runc's probe: seccomp(SET_MODE_FILTER, flag, NULL) fails with EFAULT
    (the NULL program) only when the kernel knows the flag, EINVAL otherwise."""
    try:
        return _syscall_errno("seccomp", SECCOMP_SET_MODE_FILTER, flag, 0) == errno.EFAULT
    except UnsupportedArchitecture:
        return False  # no number to probe with: advertise no flag rather than fail `features`


def namespaces() -> list[str]:
    """Every namespace type create recognizes, whether this kernel has it or not."""
    from pyrunc.kernel import flags
    return sorted(flags.NAMESPACE_FLAGS)


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
    # The r* options need mount_setattr (Linux 5.12) at run time, like runc's.
    opts = set(plan.MOUNT_FLAGS) | set(plan.PROPAGATION_FLAGS) | set(plan.EXTENSION_OPTIONS)
    if recursive_attrs_applied():
        opts |= set(plan.RECURSIVE_ATTRS)
    return sorted(opts)


def capabilities() -> list[str]:
    """Every capability name create recognizes (one this kernel lacks is
    skipped with runc's warning, never an error)."""
    from pyrunc.kernel.capnames import CAPABILITY_NAMES
    return list(CAPABILITY_NAMES)


def seccomp_features() -> dict:
    try:
        from pyrunc.security.seccomp import compile as seccomp
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
        # const struct scmp_version *seccomp_version(void): three unsigned ints
        version = libc.function("seccomp_version", libc.c_void_p,
                                library=libc.library("libseccomp.so.2"))
        major, minor, micro = struct.unpack("=3I", libc.read_memory(version(), 12))
        out["io.github.seccomp.libseccomp.version"] = f"{major}.{minor}.{micro}"
        del pyseccomp
    except (ImportError, OSError, AttributeError):
        pass
    # runc's key for checkpoint/restore; runc sets it wherever it was built
    # with CRIU support, pyrunc only where CRIU works here (`criu check`)
    from pyrunc.criu import host
    if host.check()[0]:
        out["org.opencontainers.runc.checkpoint.enabled"] = "true"
    return out


def document() -> dict:
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": SPEC_VERSION,
        "hooks": list(HOOKS),
        "mountOptions": mount_options(),
        "linux": {
            "namespaces": namespaces(),
            "capabilities": capabilities(),
            # the fs driver serves v1 and hybrid hosts, fs2 pure v2, the systemd
            # driver both; a user (rootless) systemd manager is not supported
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": False,
                       "rdma": True},
            "seccomp": seccomp_features(),
            # the init writes the profile / label (init/apply_security.py) wherever
            # the host runs that LSM: support, not this host's state (runc: true)
            "apparmor": {"enabled": True},
            "selinux": {"enabled": True},
            "intelRdt": {"enabled": False},
            # plan.py refuses idmap/ridmap mount options
            "mountExtensions": {"idmap": {"enabled": False}},
            # pyrunc.lifecycle.netdevices moves them in at create and out at delete
            "netDevices": {"enabled": True},
        },
        "annotations": annotations(),
    }
