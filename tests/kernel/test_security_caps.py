"""Capabilities, no_new_privs, keep-caps across the uid change, and the other
process attributes, each applied in a throwaway forked child and read back
from the kernel (/proc/self/status, ioprio_get, sched_getattr, ...)."""
from __future__ import annotations

import ctypes
import os
import subprocess
from types import SimpleNamespace

import pytest

from pyrunc.errors import SecurityError
from pyrunc.security import capabilities as capmod
from pyrunc.init import apply_security as security
from tests.kernel.security_helpers import capmask, in_child, status_fields

pytestmark = pytest.mark.requires("root")

CAP = capmod.CAPABILITY_NUMBERS
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def caps_of(**sets):
    return {s: [CAP[n] for n in sets.get(s, ())] for s in SETS}


def read_sets():
    f = status_fields()
    return {k: sorted(capmask(f[k])) for k in ("CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb")}


def nums(*names):
    return sorted(CAP[n] for n in names)


def test_all_five_sets_as_root():
    caps = caps_of(bounding=["CAP_CHOWN", "CAP_KILL", "CAP_SETPCAP", "CAP_NET_RAW"],
                   effective=["CAP_KILL"], permitted=["CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"],
                   inheritable=["CAP_KILL", "CAP_NET_RAW"], ambient=["CAP_NET_RAW"])

    def child():
        security.drop_bounding(caps)
        security.apply_capabilities(caps)
        return read_sets()

    got = in_child(child).ok()
    assert got == {"CapBnd": nums("CAP_CHOWN", "CAP_KILL", "CAP_SETPCAP", "CAP_NET_RAW"),
                   "CapEff": nums("CAP_KILL"), "CapPrm": nums("CAP_KILL", "CAP_CHOWN", "CAP_NET_RAW"),
                   "CapInh": nums("CAP_KILL", "CAP_NET_RAW"), "CapAmb": nums("CAP_NET_RAW")}


def test_inheritable_stays_empty_unless_asked():
    # CVE-2022-29162: nothing may land in the inheritable set by default
    caps = caps_of(bounding=list(CAP)[:41], effective=["CAP_KILL"], permitted=["CAP_KILL"])

    def child():
        security.drop_bounding(caps)
        security.apply_capabilities(caps)
        return read_sets()

    got = in_child(child).ok()
    assert got["CapInh"] == [] and got["CapAmb"] == []


def test_raw_capset_path_matches_python_prctl():
    caps = caps_of(effective=["CAP_KILL"], permitted=["CAP_KILL", "CAP_CHOWN", "CAP_SYS_ADMIN"],
                   inheritable=["CAP_CHOWN"])

    def child(raw):
        sets = {n: set(caps[n]) for n in ("effective", "permitted", "inheritable")}
        (security.capset_raw if raw else security.capset_prctl)(sets)
        return read_sets()

    assert in_child(child, True).ok() == in_child(child, False).ok()


def test_switch_user_keeps_caps_and_exec_gets_ambient(tmp_path):
    """Non-root user: keep-caps carries permitted across setuid; after execve
    only the ambient set survives into effective (kernel rules for non-root)."""
    caps = caps_of(bounding=["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
                   effective=["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                   permitted=["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                   inheritable=["CAP_NET_BIND_SERVICE"], ambient=["CAP_NET_BIND_SERVICE"])
    plan = SimpleNamespace(capabilities=caps, user=SimpleNamespace(uid=1000, gid=1000, additional_gids=(44,)))

    def child():
        security.switch_user(plan)
        before = read_sets()
        ids = [os.getuid(), os.geteuid(), os.getgid(), os.getgroups()]
        import prctl
        keep = prctl.get_keepcaps()
        out = subprocess.run(["/bin/cat", "/proc/self/status"], capture_output=True, text=True).stdout
        f = status_fields(out)
        after = {k: sorted(capmask(f[k])) for k in ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd")}
        return [before, ids, keep, after]

    before, ids, keep, after = in_child(child).ok()
    assert ids == [1000, 1000, 1000, [44]]
    assert keep is False
    assert before["CapEff"] == nums("CAP_KILL", "CAP_NET_BIND_SERVICE")
    assert before["CapPrm"] == nums("CAP_KILL", "CAP_NET_BIND_SERVICE")
    assert after["CapEff"] == after["CapPrm"] == after["CapAmb"] == nums("CAP_NET_BIND_SERVICE")
    assert after["CapInh"] == nums("CAP_NET_BIND_SERVICE")
    assert after["CapBnd"] == nums("CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN")


def test_root_after_exec_gets_the_bounding_set():
    caps = caps_of(bounding=["CAP_KILL", "CAP_CHOWN"], effective=["CAP_KILL", "CAP_CHOWN"],
                   permitted=["CAP_KILL", "CAP_CHOWN"])
    plan = SimpleNamespace(capabilities=caps, user=SimpleNamespace(uid=0, gid=0, additional_gids=()))

    def child():
        security.switch_user(plan)
        out = subprocess.run(["/bin/cat", "/proc/self/status"], capture_output=True, text=True).stdout
        f = status_fields(out)
        return {k: sorted(capmask(f[k])) for k in ("CapEff", "CapPrm", "CapInh", "CapAmb")}

    got = in_child(child).ok()
    assert got == {"CapEff": nums("CAP_KILL", "CAP_CHOWN"), "CapPrm": nums("CAP_KILL", "CAP_CHOWN"),
                   "CapInh": [], "CapAmb": []}


def test_no_capabilities_config_leaves_sets_alone():
    def child():
        before = read_sets()
        security.drop_bounding(None)
        security.apply_capabilities(None)
        return before == read_sets()

    assert in_child(child).ok() is True


def test_effective_outside_permitted_is_a_one_line_error():
    caps = caps_of(effective=["CAP_KILL"], permitted=[])

    def child():
        try:
            security.apply_capabilities(caps)
        except SecurityError as exc:
            return str(exc)

    assert in_child(child).ok() == "apply capabilities (capset): operation not permitted"


def test_no_new_privs():
    def child():
        security.set_no_new_privs()
        return status_fields()["NoNewPrivs"]

    assert in_child(child).ok() == "1"


# ---------------------------------------------------------------- process attributes

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
x86_64_only = pytest.mark.skipif(os.uname().machine != "x86_64", reason="ioprio_get is called by its x86_64 number")


@x86_64_only
@pytest.mark.parametrize("cfg,expected", [
    ({"class": "IOPRIO_CLASS_IDLE"}, 3 << 13),
    ({"class": "IOPRIO_CLASS_BE", "priority": 5}, (2 << 13) | 5),
    ({"class": "IOPRIO_CLASS_RT", "priority": 1}, (1 << 13) | 1),
])
def test_io_priority(cfg, expected):
    def child():
        security.set_io_priority(cfg)
        return libc.syscall(ctypes.c_long(252), ctypes.c_long(1), ctypes.c_long(0))  # ioprio_get

    assert in_child(child).ok() == expected


def test_scheduler_batch_with_nice():
    def child():
        security.set_scheduler({"policy": "SCHED_BATCH", "nice": 7})
        return [os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0)]

    assert in_child(child).ok() == [os.SCHED_BATCH, 7]


def test_scheduler_reset_on_fork_flag():
    def child():
        security.set_scheduler({"policy": "SCHED_IDLE", "flags": ["SCHED_FLAG_RESET_ON_FORK"]})
        return os.sched_getscheduler(0)

    assert in_child(child).ok() == os.SCHED_IDLE | os.SCHED_RESET_ON_FORK


def test_scheduler_fifo_priority():
    def child():
        try:
            security.set_scheduler({"policy": "SCHED_FIFO", "priority": 10})
        except SecurityError as exc:
            return str(exc)
        return [os.sched_getscheduler(0), os.sched_getparam(0).sched_priority]

    got = in_child(child).ok()
    if isinstance(got, str):
        pytest.skip(f"no realtime budget for this cgroup: {got}")
    assert got == [os.SCHED_FIFO, 10]


def test_scheduler_refusal_is_one_line():
    def child():
        try:
            security.set_scheduler({"policy": "SCHED_DEADLINE", "runtime": 1, "deadline": 0, "period": 0})
        except SecurityError as exc:
            return str(exc)

    assert in_child(child).ok() == "error setting scheduler: invalid argument"


def test_personality_linux32():
    def child():
        security.set_personality({"domain": "LINUX32"})
        return [libc.personality(ctypes.c_ulong(0xFFFFFFFF)) & 0xFF, os.uname().machine]

    pers, machine = in_child(child).ok()
    assert pers == 0x0008
    if os.uname().machine == "x86_64":
        assert machine in ("i686", "i386")


def test_cpu_affinity():
    def child():
        security.set_cpu_affinity({0})
        return sorted(os.sched_getaffinity(0))

    assert in_child(child).ok() == [0]


@x86_64_only
def test_prepare_process_applies_all():
    plan = SimpleNamespace(scheduler={"policy": "SCHED_BATCH"}, io_priority={"class": "IOPRIO_CLASS_IDLE"},
                           personality={"domain": "LINUX"})

    def child():
        security.prepare_process(plan)
        return [os.sched_getscheduler(0),
                libc.syscall(ctypes.c_long(252), ctypes.c_long(1), ctypes.c_long(0))]

    assert in_child(child).ok() == [os.SCHED_BATCH, 3 << 13]


@pytest.mark.requires("no_apparmor")
def test_lsm_without_the_lsm_fails_like_runc():
    plan = SimpleNamespace(apparmor_profile="docker-default", selinux_label=None)

    def child():
        try:
            security.apply_lsm(plan)
        except SecurityError as exc:
            return str(exc)

    # the config checks refuse the field before the fork (tests/unit); the
    # child only writes, and a kernel without AppArmor refuses the write
    message = in_child(child).ok()
    assert message.startswith("apparmor failed to apply profile: write /proc/thread-self/attr/"), message


def test_lsm_nothing_asked_is_a_no_op():
    assert in_child(security.apply_lsm, SimpleNamespace(apparmor_profile="", selinux_label=None)).ok() is None


def test_cpu_affinity_from_a_spec_string():
    def child():
        security.set_cpu_affinity("0, ,0-0")
        return sorted(os.sched_getaffinity(0))

    assert in_child(child).ok() == [0]


def test_bounding_drop_beyond_python_prctl_uses_raw_prctl():
    """A kernel newer than python-prctl's headers: the caps it does not know
    are dropped with the raw prctl (simulated by hiding the top ones)."""
    caps = caps_of(bounding=["CAP_CHOWN", "CAP_BPF"])

    def child():
        security.PRCTL_LAST_CAP = 29
        security.drop_bounding(caps)
        return read_sets()["CapBnd"]

    assert in_child(child).ok() == nums("CAP_CHOWN", "CAP_BPF")
