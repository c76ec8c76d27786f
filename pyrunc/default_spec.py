"""The config `pyrunc spec` writes: runc's default, at our spec version.

As runc 1.1.5's specconv.Example/ToRootless: a cgroup namespace only on a
cgroup v2 (unified) host, and `--rootless` rewrites the mounts in place.
"""
import copy
import os

from pyrunc import SPEC_VERSION

_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

_BASE: dict = {
    "ociVersion": SPEC_VERSION,
    "process": {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
        "cwd": "/",
        "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "pyrunc",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    ],
    "linux": {
        "resources": {"devices": [{"allow": False, "access": "rwm"}]},
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
}


def default_spec(rootless=False):
    spec = copy.deepcopy(_BASE)
    linux = spec["linux"]
    from pyrunc.cgroups.layout import mode
    if mode() == "v2":  # runc: cgroups.IsCgroup2UnifiedMode()
        linux["namespaces"].append({"type": "cgroup"})
    if rootless:
        uid, gid = os.geteuid(), os.getegid()
        linux.pop("resources")
        linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] not in ("network", "user")]
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
        linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
        mounts = []
        for m in spec["mounts"]:
            if m["destination"] == "/sys":  # sysfs needs a netns of one's own: bind the host's
                m = {"destination": "/sys", "type": "none", "source": "/sys",
                     "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
            elif "options" in m:  # ids a user namespace cannot map
                m["options"] = [o for o in m["options"] if not o.startswith(("uid=", "gid="))]
            mounts.append(m)
        spec["mounts"] = mounts
    return spec
