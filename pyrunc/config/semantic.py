"""Semantic checks: what the schema cannot say, one small function per rule.

THE pipeline of config checks: `create` (through config.load) and `validate`
(through check_bundle) both run exactly CHECKS, so whatever create refuses
before the first fork, validate refuses too, with the same line. Runs after
the schema step (so every value has its schema type) and on every create,
cache hit or not: several rules look at the filesystem or the kernel. Each
check takes (cfg, ctx) and yields Findings; CHECKS lists them in the order
their findings are reported (rules owned by other modules — pyrunc.security.checks
— are listed here too). Errors stop the create; warnings are the spec's
"SHOULD accept and warn" cases. The seccomp profile is compiled last, only
when nothing else failed, and the result is kept in ctx for create.
Import-light: os, errno, fcntl (libseccomp only for a profile the cache
does not hold).
"""
from __future__ import annotations

import errno
import fcntl
import os

from pyrunc import mountpaths
from pyrunc.security import checks as security
from pyrunc.config import linux_fields
from pyrunc.config.findings import ERROR, Finding, error, finding_of, jpath, show, warning
from pyrunc.errors import ConfigError
from pyrunc.kernel.capnames import CAPABILITY_NUMBERS
from pyrunc.kernel.flags import NAMESPACE_FLAGS


class Context:
    """What checks may look at besides the config: the bundle and kernel facts (read lazily).

    `cache_dir` (create's verdict cache directory) lets the seccomp rule reuse
    compiled filters; `debug` takes runc's debug-level lines. The seccomp rule
    leaves the compiled filter in `seccomp` for create.
    """

    def __init__(self, bundle_dir: str, *, cache_dir: str | None = None, debug=None):
        self.bundle_dir = bundle_dir
        self.cache_dir = cache_dir
        self.debug = debug
        self.seccomp = None
        self._cap_last_cap = -2

    @property
    def cap_last_cap(self) -> int | None:
        if self._cap_last_cap == -2:
            try:
                with open("/proc/sys/kernel/cap_last_cap") as f:
                    self._cap_last_cap = int(f.read())
            except (OSError, ValueError):
                self._cap_last_cap = None
        return self._cap_last_cap


def _oserror_text(exc: OSError) -> str:
    text = exc.strerror or os.strerror(exc.errno or 0)
    return text[:1].lower() + text[1:]


def _namespaces(cfg) -> list[dict]:
    return (cfg.get("linux") or {}).get("namespaces") or []


def _has_ns(cfg, kind: str) -> bool:
    # an entry of no known type (the schema refuses it) may have meant this one:
    # say nothing rather than a second, misleading problem
    return any(ns.get("type") in (kind, None) or ns.get("type") not in NAMESPACE_FLAGS for ns in _namespaces(cfg))


# --- platform-independent -------------------------------------------------------------

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
        yield error("root.path", f"{rootfs}: {_oserror_text(exc)}")
        return
    if not _isdir(st.st_mode):
        yield error("root.path", f"{rootfs}: not a directory")


def _isdir(mode: int) -> bool:
    return (mode & 0o170000) == 0o040000


def check_process(cfg, ctx):
    proc = cfg.get("process")
    if proc is None:
        # optional in the spec until `start`, but create already runs the init that waits for it
        yield error("process", "is required to create a container")
        return
    if not proc.get("args"):
        yield error("process.args", "must be a non-empty array")
    if not proc["cwd"].startswith("/"):
        yield error("process.cwd", f"{show(proc['cwd'])} must be an absolute path")
    adj = proc.get("oomScoreAdj")
    if adj is not None and not -1000 <= adj <= 1000:
        yield error("process.oomScoreAdj", f"{adj} is out of range (-1000 to 1000)")


# Linux's resource limits (setrlimit(2)); the spec: unmappable values MUST be an error
_RLIMITS = {"RLIMIT_AS", "RLIMIT_CORE", "RLIMIT_CPU", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_LOCKS",
            "RLIMIT_MEMLOCK", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_NOFILE", "RLIMIT_NPROC",
            "RLIMIT_RSS", "RLIMIT_RTPRIO", "RLIMIT_RTTIME", "RLIMIT_SIGPENDING", "RLIMIT_STACK"}


def check_rlimits(cfg, ctx):
    first: dict[str, int] = {}
    for i, rl in enumerate((cfg.get("process") or {}).get("rlimits") or []):
        where = jpath("process", "rlimits", i)
        kind = rl["type"]
        if kind not in _RLIMITS:
            yield error(f"{where}.type", f"{show(kind)} is not a Linux resource limit")
        elif kind in first:
            yield error(f"{where}.type", f"{show(kind)} is set twice (first at {jpath('process', 'rlimits', first[kind])})")
        else:
            first[kind] = i
        if rl["soft"] > rl["hard"]:
            yield error(f"{where}.soft", f"{rl['soft']} is above the hard limit {rl['hard']}")


def check_capabilities(cfg, ctx):
    """The spec (1.1+): capabilities that cannot be granted are logged as warnings, not errors."""
    caps = (cfg.get("process") or {}).get("capabilities") or {}
    for set_name in ("bounding", "effective", "inheritable", "permitted", "ambient"):
        for i, cap in enumerate(caps.get(set_name) or []):
            number = CAPABILITY_NUMBERS.get(cap)
            if number is None:
                yield warning(jpath("process", "capabilities", set_name, i),
                              f"{show(cap)} is not a Linux capability; ignored")
            elif ctx.cap_last_cap is not None and number > ctx.cap_last_cap:
                yield warning(jpath("process", "capabilities", set_name, i),
                              f"{show(cap)} is not known to this kernel; ignored")


def check_mounts(cfg, ctx):
    for i, mount in enumerate(cfg.get("mounts") or []):
        dest = mount["destination"]
        if not dest:
            yield error(jpath("mounts", i, "destination"), "must not be empty")
        elif not dest.startswith("/"):
            yield warning(jpath("mounts", i, "destination"),
                          f"{show(dest)} is relative (deprecated); taken as relative to /")
        if any(opt in ("idmap", "ridmap") for opt in mount.get("options") or ()):
            yield error(jpath("mounts", i, "options"), "idmapped mounts are not supported")


def _is_bind(mount) -> bool:
    options = mount.get("options") or ()
    return mount.get("type") == "bind" or "bind" in options or "rbind" in options


def _rootfs_forms(cfg, bundle_dir: str) -> tuple:
    return mountpaths.rootfs_forms((cfg.get("root") or {}).get("path") or "", bundle_dir)


def check_bind_sources(cfg, ctx):
    """A missing bind source outside the rootfs can only fail the mount: say so now.

    One inside the rootfs is left to the mount itself, as runc does: an earlier
    mount in the list may provide it (runc's "mount order" tests bind a path
    that exists only once an earlier bind is mounted in the container).
    """
    roots = None
    for i, mount in enumerate(cfg.get("mounts") or []):
        if not _is_bind(mount):
            continue
        source = mount.get("source") or ""
        if not os.path.isabs(source):
            source = os.path.join(ctx.bundle_dir, source)
        if os.path.lexists(source):
            continue
        if roots is None:
            roots = _rootfs_forms(cfg, ctx.bundle_dir)
        # spelled below the rootfs (the init resolves it there), or reaching it
        real = os.path.realpath(source)   # resolves what exists, keeps the rest
        if mountpaths.below_rootfs(source, roots) is None and mountpaths.below_rootfs(real, roots) is None:
            yield error(jpath("mounts", i, "source"), f"{source}: no such file or directory")


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


def check_hostname(cfg, ctx):
    for field in ("hostname", "domainname"):
        if cfg.get(field) and not _has_ns(cfg, "uts"):
            yield error(field, "needs a UTS namespace: add {\"type\": \"uts\"} to linux.namespaces")


# --- linux ----------------------------------------------------------------------------

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


def check_namespaces(cfg, ctx):
    first: dict[str, int] = {}
    for i, ns in enumerate(_namespaces(cfg)):
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
            yield error(where, f"{path}: {_oserror_text(exc)}")
            continue
        if actual is None:
            yield error(where, f"{path}: not a namespace file")
        elif actual != kind:
            yield error(where, f"{path}: is a {actual} namespace, not {kind}")


def check_id_mappings(cfg, ctx):
    linux = cfg.get("linux") or {}
    user = [ns for ns in _namespaces(cfg) if ns["type"] == "user"]
    for field in ("uidMappings", "gidMappings"):
        if linux.get(field) and not user:
            yield error(jpath("linux", field), "needs a user namespace: add {\"type\": \"user\"} to linux.namespaces")
        elif user and not user[0].get("path") and not linux.get(field):
            # runc refuses it up front too; without a map the kernel only says EINVAL later
            yield error(jpath("linux", field), "is required for a new user namespace "
                        "(or give the user namespace a path to join)")


def check_time_offsets(cfg, ctx):
    offsets = (cfg.get("linux") or {}).get("timeOffsets")
    if offsets and not any(ns["type"] == "time" and not ns.get("path") for ns in _namespaces(cfg)):
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


def _is_host_namespace(path: str, kind_dir: str) -> bool:
    try:
        a, b = os.stat(path), os.stat(f"/proc/self/ns/{kind_dir}")
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def check_sysctl(cfg, ctx):
    """Like runc: a sysctl is only written when it is isolated by a namespace the container owns."""
    sysctl = (cfg.get("linux") or {}).get("sysctl") or {}
    by_type = {ns["type"]: ns for ns in _namespaces(cfg)}
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
        elif kind == "network" and by_type[kind].get("path") and _is_host_namespace(by_type[kind]["path"], "net"):
            yield error(where, "would change the host: linux.namespaces joins the host's network namespace")


def check_devices(cfg, ctx):
    for i, dev in enumerate((cfg.get("linux") or {}).get("devices") or []):
        if not dev["path"].startswith("/"):
            yield error(jpath("linux", "devices", i, "path"), f"{show(dev['path'])} must be an absolute path")
        if dev["type"] in ("c", "b", "u"):
            for field in ("major", "minor"):
                if field not in dev:
                    yield error(jpath("linux", "devices", i, field), f"is required for a type {dev['type']} device")


def check_path_lists(cfg, ctx):
    """mounts, maskedPaths, readonlyPaths: each needs a mount namespace."""
    if cfg.get("mounts") and not _has_ns(cfg, "mount"):
        # runc mounts them in the caller's namespace and leaves them there;
        # pyrunc would have to ignore them: neither is what the config asks for
        yield error("mounts", "need a mount namespace: add {\"type\": \"mount\"} to linux.namespaces")
    linux = cfg.get("linux") or {}
    for field in ("maskedPaths", "readonlyPaths"):
        for i, path in enumerate(linux.get(field) or []):
            if not path.startswith("/"):
                yield error(jpath("linux", field, i), f"{show(path)} must be an absolute path")
        if linux.get(field) and not _has_ns(cfg, "mount"):
            # without one they could not be applied (runc refuses too)
            yield error(jpath("linux", field), "needs a mount namespace: add {\"type\": \"mount\"} to linux.namespaces")


def check_cgroup_resources(cfg, ctx):
    """linux.resources as the cgroup driver will translate it (pyrunc.cgroups
    decides; runc's validator refuses the same before anything exists):
    `unified` on a v1 host, a swap limit v2 cannot express, device rules a
    cgroup cannot enforce. Pure: no cgroup is touched (an empty probe)."""
    res = (cfg.get("linux") or {}).get("resources")
    if not res:
        return
    from pyrunc.cgroups import devices, layout, resources
    from pyrunc.errors import CgroupError
    plan = resources.plan_v2 if layout.mode() == "v2" else resources.plan_v1
    for step in (lambda: plan(res, resources.DictProbe()), lambda: devices.from_spec(res.get("devices"))):
        try:
            step()
        except CgroupError as exc:
            yield _cgroup_finding(exc)


def _cgroup_finding(exc) -> Finding:
    """`cgroup memory: linux.resources.memory.swap: text` -> a finding at that path."""
    text = str(exc)
    head, sep, rest = text.partition(": linux.")
    if sep and head.startswith("cgroup"):
        path, sep, message = ("linux." + rest).partition(": ")
        if sep:
            return error(path, message)
    return error("linux.resources", text)


def check_process_security(cfg, ctx):
    """ioPriority, scheduler, personality, execCPUAffinity, LSM labels (pyrunc.security.checks's rules)."""
    for severity, path, message in security.process_problems(cfg):
        yield Finding(path, severity, message)


def check_proc_mounts(cfg, ctx):
    """Only procfs at /proc, only lxcfs's files under it (pyrunc.security.checks's rule)."""
    roots = _rootfs_forms(cfg, ctx.bundle_dir)
    for severity, path, message in security.proc_mount_problems(cfg, roots):
        yield Finding(path, severity, message)


def check_seccomp(cfg, ctx):
    """Compile the profile (pyrunc.security.seccomp.compile decides what it refuses); create keeps the result.

    Listed last and run only when nothing else failed: it may load libseccomp.
    """
    seccomp = (cfg.get("linux") or {}).get("seccomp")
    if not seccomp:
        return
    from pyrunc.security.seccomp import cache as seccomp_cache  # a cache hit skips libseccomp entirely
    try:
        ctx.seccomp = seccomp_cache.compile_cached(seccomp, cache_dir=ctx.cache_dir, debug=ctx.debug)
    except ConfigError as exc:
        yield finding_of(exc)


def check_scheduler(cfg, ctx):
    """runc's rules for process.scheduler (sched_setattr(2))."""
    sched = (cfg.get("process") or {}).get("scheduler")
    if not sched:
        return
    policy = sched.get("policy")
    if "nice" in sched and not -20 <= sched["nice"] <= 19:
        yield error("process.scheduler.nice", f"{sched['nice']} is out of range (-20 to 19)")
    if sched.get("priority"):
        if policy not in ("SCHED_FIFO", "SCHED_RR"):
            yield error("process.scheduler.priority", "can only be set for SCHED_FIFO or SCHED_RR")
        elif sched["priority"] < 0:
            yield error("process.scheduler.priority", f"{sched['priority']} must not be negative")
    if policy != "SCHED_DEADLINE":
        for field in ("runtime", "deadline", "period"):
            if sched.get(field):
                yield error(f"process.scheduler.{field}", "can only be set for SCHED_DEADLINE")


# The one pipeline (see the module docstring). Add a rule by appending it here.
CHECKS = (
    check_oci_version, check_root, check_process, check_rlimits, check_capabilities, check_mounts,
    check_bind_sources, check_proc_mounts, check_hooks, check_annotations, check_hostname,
    check_namespaces, check_id_mappings, check_time_offsets, check_sysctl, check_devices,
    check_path_lists, check_scheduler, check_process_security, check_cgroup_resources,
    *linux_fields.CHECKS,  # memoryPolicy, netDevices, intelRdt
)
# Run after CHECKS, only when they found no error (costly, and they assume a sane config).
FINAL_CHECKS = (check_seccomp,)


def check(cfg, ctx: Context, *, best_effort: bool = False) -> list[Finding]:
    """Every rule's findings. `best_effort`: the schema already failed, so a rule
    that trips over a wrongly typed value is skipped (the schema error says it)."""
    if not isinstance(cfg, dict):
        return []
    found: list[Finding] = []
    for rule in CHECKS:
        if not best_effort:
            found.extend(rule(cfg, ctx))
            continue
        try:
            found.extend(list(rule(cfg, ctx)))
        except (TypeError, KeyError, AttributeError, ValueError):
            pass
    if not best_effort and not any(f.severity == ERROR for f in found):
        for rule in FINAL_CHECKS:
            found.extend(rule(cfg, ctx))
    return found
