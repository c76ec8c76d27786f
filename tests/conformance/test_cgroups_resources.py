"""Conformance: more linux.resources fields, and failures that must leave
nothing behind. Same tests on runc (PYRUNC_TEST_RUNTIME=runc); where runc
1.1.5 words an error differently only the outcome is compared."""
from __future__ import annotations

import os

import pytest

from tests import support
from tests.conformance import probe
from tests.conformance.test_cgroups_commands import V2, detached, host, on_host  # noqa: F401

pytestmark = [pytest.mark.requires("root")]
v1_only = pytest.mark.requires("cgroup_v1")


def test_swap_and_oom_killer_switch(detached):
    """v1: memsw is memory + swap; v2's memory.swap.max is the swap alone
    (runc converts), and v2 has no OOM-killer switch (runc ignores it)."""
    if not V2 and not os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"):
        pytest.skip("this kernel accounts no swap (memory.memsw.* absent)")
    c = detached(["sleep", "60"], {"memory": {"limit": 64 << 20, "swap": 128 << 20, "disableOOMKiller": True}},
                 start=False)
    if V2:
        assert host(c.cid, "memory.swap.max") == str(64 << 20)
        return
    assert host(c.cid, "memory.memsw.limit_in_bytes") == str(128 << 20)
    assert "oom_kill_disable 1" in host(c.cid, "memory.oom_control")


def test_throttles_on_a_real_disk(detached):
    """v1's blkio.throttle.* files; v2's io.max line for the device."""
    dev = support_block_device()
    maj, mnr = dev
    c = detached(["sleep", "60"], {"blockIO": {
        "throttleReadBpsDevice": [{"major": maj, "minor": mnr, "rate": 1048576}],
        "throttleWriteIOPSDevice": [{"major": maj, "minor": mnr, "rate": 100}]}}, start=False)
    if V2:
        line = next(ln for ln in host(c.cid, "io.max").splitlines() if ln.startswith(f"{maj}:{mnr} "))
        assert {"rbps=1048576", "wiops=100"} <= set(line.split())
        return
    assert host(c.cid, "blkio.throttle.read_bps_device") == f"{maj}:{mnr} 1048576"
    assert host(c.cid, "blkio.throttle.write_iops_device") == f"{maj}:{mnr} 100"


def support_block_device():
    for dev in sorted(os.listdir("/sys/block")):
        if not dev.startswith(("loop", "zram", "ram")):
            maj, mnr = open(f"/sys/block/{dev}/dev").read().strip().split(":")
            return int(maj), int(mnr)
    pytest.skip("no block device")


def test_device_allow_rule_opens_one_device(runtime, bundle):
    res = bundle.config["linux"]["resources"]
    # /dev/loop-control (10:237): not in the default list, opens without caps
    res["devices"] = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 237,
                                                         "access": "r"}]
    bundle.config["linux"]["devices"] = [{"path": "/dev/loop-control", "type": "c", "major": 10, "minor": 237,
                                          "fileMode": 0o666}]
    got = probe.probe(runtime, bundle, {
        "read": "(exec 3</dev/loop-control) 2>/dev/null && echo ok || echo denied",
        "write": "(exec 3>/dev/loop-control) 2>/dev/null && echo ok || echo denied",
        "null": "echo x > /dev/null && echo ok"})
    assert got == {"read": "ok", "write": "denied", "null": "ok"}


def test_device_access_letters_beyond_rwm_are_ignored(runtime, bundle):
    """runc reads `access` as a set of r, w, m and drops other letters (its
    own integration suite denies /dev/kmsg with "rwa"): the rule still applies."""
    res = bundle.config["linux"]["resources"]
    res["devices"] = [{"allow": False, "access": "rwm"},
                      {"allow": True, "type": "c", "major": 10, "minor": 237, "access": "rx"}]
    bundle.config["linux"]["devices"] = [{"path": "/dev/loop-control", "type": "c", "major": 10, "minor": 237,
                                          "fileMode": 0o666}]
    got = probe.probe(runtime, bundle, {
        "read": "(exec 3</dev/loop-control) 2>/dev/null && echo ok || echo denied",
        "write": "(exec 3>/dev/loop-control) 2>/dev/null && echo ok || echo denied"})
    assert got == {"read": "ok", "write": "denied"}


def _fails_cleanly(runtime, bundle, resources):
    cid = support.unique_id("bad")
    cfg = probe.prepare(bundle, cid, ["true"])
    cfg["linux"]["resources"].update(resources)
    bundle.write()
    proc = runtime.run("create", "-b", bundle.path, cid)
    assert proc.returncode != 0
    # warnings aside (systemd's driver skips devices the host lacks, as runc does)
    assert len(probe.error_lines(proc.stderr)) == 1 or support.is_runc(), proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)
    return proc.stderr.strip()


def test_bad_value_fails_create_and_leaves_no_cgroup(runtime, bundle):
    err = _fails_cleanly(runtime, bundle, {"cpu": {"cpus": "99"}})
    if not support.is_runc():
        assert "cgroup cpuset: write cpuset.cpus=99: " in err


@v1_only
def test_unified_is_rejected_on_v1(runtime, bundle):
    err = _fails_cleanly(runtime, bundle, {"unified": {"memory.high": "1000000"}})
    if not support.is_runc():
        assert "unified: needs cgroup v2" in err


def mounted(ctrl: str) -> bool:
    """Is a v1 hierarchy with this controller mounted (mountinfo super options)?"""
    for line in open("/proc/self/mountinfo"):
        _, _, post = line.partition(" - ")
        fstype, _, opts = post.split()[:3]
        if fstype == "cgroup" and ctrl in opts.split(","):
            return True
    return False


@v1_only
def test_net_cls_follows_the_host(detached, runtime, bundle):
    """Applied where net_cls is mounted; an error naming it where it is not."""
    res = {"network": {"classID": 1048577}}
    if mounted("net_cls"):
        c = detached(["true"], res, start=False)
        assert host(c.cid, "net_cls.classid") == "1048577"
        return
    err = _fails_cleanly(runtime, bundle, res)
    if not support.is_runc():
        assert err.endswith("cgroup net_cls: controller not available on this host: cannot write net_cls.classid=1048577")


def test_systemd_driver_without_systemd_fails_cleanly(runtime, bundle):
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd runs here (the VM test-bed covers the driver)")
    cid = support.unique_id("sd")
    cfg = probe.prepare(bundle, cid, ["true"])
    cfg["linux"]["cgroupsPath"] = f"system.slice:pyrunctest:{cid}"
    bundle.write()
    proc = runtime.run("create", "-b", bundle.path, cid, global_args=("--systemd-cgroup",))
    assert proc.returncode != 0
    if not support.is_runc():
        assert proc.stderr.strip().count("\n") == 0
        assert "cgroup systemd: connect to the D-Bus system bus" in proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)
    assert not os.path.exists(f"/sys/fs/cgroup/memory/system.slice/pyrunctest-{cid}.scope")


@v1_only
def test_hugetlb_limit_follows_the_host(detached, runtime, bundle):
    """Applied where hugetlb is mounted; an error naming it where it is not
    (a plain directory named hugetlb is no hierarchy)."""
    sizes = sorted(os.listdir("/sys/kernel/mm/hugepages")) if os.path.isdir("/sys/kernel/mm/hugepages") else []
    if mounted("hugetlb"):
        if not sizes:
            pytest.skip("hugetlb is mounted but the kernel offers no huge page size")
        kb = int(sizes[0].split("-")[1].rstrip("kB"))
        size = f"{kb // 1024}MB" if kb < 1 << 20 else f"{kb >> 20}GB"
        c = detached(["true"], {"hugepageLimits": [{"pageSize": size, "limit": kb << 11}]}, start=False)
        assert host(c.cid, f"hugetlb.{size}.limit_in_bytes") == str(kb << 11)
        return
    err = _fails_cleanly(runtime, bundle, {"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]})
    if not support.is_runc():
        assert "cgroup hugetlb: controller not available on this host" in err
