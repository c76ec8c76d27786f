"""pyrunc.config.checks.mounts.proc_mount_problems: runc's rules for mounts at and under /proc."""
from __future__ import annotations

import pytest

from pyrunc.config.checks.mounts import proc_mount_problems


def check_proc_mounts(cfg):
    """The first problem as the one line create prints."""
    for finding in proc_mount_problems(cfg):
        raise ValueError(finding.text())


def cfg(*mounts):
    return {"mounts": list(mounts)}


@pytest.mark.parametrize("mount", [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/proc", "type": "bind", "source": "/proc", "options": ["rbind"]},
    {"destination": "/proc/cpuinfo", "type": "bind", "source": "/var/lib/lxcfs/proc/cpuinfo",
     "options": ["bind"]},
    {"destination": "/proc/sys/kernel/ns_last_pid", "type": "bind", "source": "/x", "options": ["bind"]},
    {"destination": "/procfoo", "type": "tmpfs", "source": "tmpfs"},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs"},
])
def test_allowed(mount):
    check_proc_mounts(cfg(mount))


@pytest.mark.parametrize("mount,message", [
    ({"destination": "/proc", "type": "bind", "source": "/tmp", "options": ["rbind"]},
     "config.json: mounts[0].destination: '/proc' cannot be mounted because it is not of type proc"),
    ({"destination": "//proc/", "type": "tmpfs", "source": "tmpfs"},
     "config.json: mounts[0].destination: '//proc/' cannot be mounted because it is not of type proc"),
    ({"destination": "/proc/sys/kernel/domainname", "type": "bind", "source": "/tmp/x", "options": ["bind"]},
     "config.json: mounts[0].destination: '/proc/sys/kernel/domainname' cannot be mounted because "
     "it is inside /proc"),
    ({"destination": "/proc/self/../1/attr", "type": "tmpfs", "source": "tmpfs"},
     "config.json: mounts[0].destination: '/proc/self/../1/attr' cannot be mounted because it is inside /proc"),
])
def test_refused(mount, message):
    with pytest.raises(ValueError) as exc:
        check_proc_mounts(cfg(mount))
    assert str(exc.value) == message
