"""Process attributes as values: process.ioPriority, process.scheduler,
linux.personality parsed into what the kernel takes, and whether an LSM is
enabled (execCPUAffinity's CPU lists: pyrunc.kernel.procfs.parse_cpu_list).

Both sides use them: the parent checks a config with them before anything is
made (pyrunc.config.checks.process), the child applies their results (pyrunc.init.apply_security).
Kept apart from the child's module, which needs ctypes and python-prctl, so a
parent can check a config without importing either (~4.5 ms): the child loads
those itself after the fork, while the parent moves it into its cgroup.
"""
import struct

IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
IOPRIO_WHO_PROCESS = 1
SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3,
                  "SCHED_ISO": 4, "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02,
               "SCHED_FLAG_DL_OVERRUN": 0x04, "SCHED_FLAG_KEEP_POLICY": 0x08,
               "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
PERSONALITY_DOMAINS = {"LINUX": 0x0000, "LINUX32": 0x0008}
_SCHED_ATTR_SIZE = 56  # SCHED_ATTR_SIZE_VER1 (with the util clamp fields)


def ioprio_value(cfg):
    """process.ioPriority -> the ioprio_set(2) value; ValueError if invalid."""
    cls = IOPRIO_CLASSES.get(cfg.get("class"))
    if cls is None:
        raise ValueError(f"invalid io priority class: {cfg.get('class')}")
    prio = cfg.get("priority", 0)
    if not isinstance(prio, int) or not 0 <= prio <= 7:
        raise ValueError(f"invalid io priority: {prio} (must be 0..7)")
    return (cls << 13) | prio


def sched_attr(cfg):
    """process.scheduler -> struct sched_attr bytes; ValueError if invalid."""
    policy = SCHED_POLICIES.get(cfg.get("policy"))
    if policy is None:
        raise ValueError(f"invalid scheduler policy: {cfg.get('policy')}")
    flags = 0
    for name in cfg.get("flags") or ():
        if name not in SCHED_FLAGS:
            raise ValueError(f"invalid scheduler flag: {name}")
        flags |= SCHED_FLAGS[name]
    return struct.pack("=IIQiIQQQII", _SCHED_ATTR_SIZE, policy, flags, cfg.get("nice", 0),
                       cfg.get("priority", 0), cfg.get("runtime", 0), cfg.get("deadline", 0),
                       cfg.get("period", 0), 0, 0)


def personality_value(cfg):
    domain = PERSONALITY_DOMAINS.get(cfg.get("domain"))
    if domain is None:
        raise ValueError(f"invalid personality domain {cfg.get('domain')}")
    return domain  # flags: ignored with a warning by the parent, as runc does


def lsm_enabled(name):
    """Whether this host runs the LSM `name`. AppArmor answers in sysfs
    (runc's test: the module parameter says Y), which is there even where
    securityfs is not mounted: podman runs the runtime of a user-namespaced
    container in a mount namespace without /sys/kernel/security. SELinux
    answers as runc's go-selinux asks it: selinux_enabled()."""
    if name == "selinux":
        return selinux_enabled()
    if name == "apparmor":
        try:
            with open("/sys/module/apparmor/parameters/enabled") as f:
                return f.read().startswith("Y")
        except OSError:
            pass
    try:
        with open("/sys/kernel/security/lsm") as f:
            return name in f.read().split(",")
    except OSError:
        return False


def selinux_enabled():
    """SELinux as runc (go-selinux GetEnabled) tells it: a read-write
    selinuxfs is mounted and this process has a label other than "kernel"
    (which is every process's until a policy is loaded). The LSM list alone
    would say yes on a kernel that has SELinux but no policy, where labels
    cannot be written."""
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            mounts = f.read()
    except OSError:
        return False
    for line in mounts.splitlines():
        left, sep, right = line.partition(b" - ")
        fields = left.split()
        if sep and right.split()[:1] == [b"selinuxfs"] and len(fields) > 5 \
                and b"rw" in fields[5].split(b","):
            break
    else:
        return False
    try:
        with open("/proc/self/attr/current", "rb") as f:
            return f.read().rstrip(b"\0\n") not in (b"", b"kernel")
    except OSError:
        return False
