"""Conformance: namespaces (new, shared with the host, joined by path), the
user namespace's id maps, the time namespace's offsets, and namespaced
sysctls, all read from inside the container via /proc/self/ns/* and /proc."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")

# ns type in config.json -> name under /proc/self/ns
NS_LINK = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
           "cgroup": "cgroup", "user": "user", "time": "time"}


def test_new_namespaces_differ_from_host_and_others_are_shared(runtime, bundle):
    cfg = bundle.config
    probe.set_namespace(cfg, "cgroup")
    got = probe.probe(runtime, bundle, {"ns": probe.NS_SCRIPT, "cgroup": "cat /proc/self/cgroup"})
    inside = probe.parse_ns_links(got["ns"])
    host = probe.host_ns_links()
    for kind in ("pid", "network", "ipc", "uts", "mount", "cgroup"):
        name = NS_LINK[kind]
        assert inside[name] != host[name], f"{kind} namespace is the host's"
    assert inside["user"] == host["user"]  # not asked for: shared
    # a new cgroup namespace is rooted at the container's own cgroup
    for line in got["cgroup"].splitlines():
        assert line.endswith(":/"), got["cgroup"]


def test_namespace_not_listed_is_the_hosts(runtime, bundle):
    cfg = bundle.config
    for kind in ("network", "ipc", "uts"):
        probe.drop_namespace(cfg, kind)
    cfg.pop("hostname", None)
    # without a network namespace sysfs cannot be mounted fresh (runc binds it)
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    got = probe.probe(runtime, bundle, {"ns": probe.NS_SCRIPT})
    inside, host = probe.parse_ns_links(got["ns"]), probe.host_ns_links()
    for name in ("net", "ipc", "uts"):
        assert inside[name] == host[name], name
    assert inside["pid"] != host["pid"]


def test_loopback_is_up_in_a_new_network_namespace(runtime, bundle):
    got = probe.probe(runtime, bundle, {"flags": "cat /sys/class/net/lo/flags", "ifaces": "ls /sys/class/net"})
    assert int(got["flags"], 16) & 0x1, "lo is down"
    assert got["ifaces"].split() == ["lo"]


@pytest.fixture
def ns_holder():
    """A sleeping process of ours in new net + uts namespaces, to join by path."""
    code = ("import ctypes, os, socket, sys\n"
            "libc = ctypes.CDLL(None, use_errno=True)\n"
            "assert libc.unshare(0x40000000 | 0x04000000) == 0, os.strerror(ctypes.get_errno())\n"
            "socket.sethostname('held-uts')\n"
            "print('ready', flush=True)\n"
            "sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_join_namespaces_by_path(runtime, bundle, ns_holder):
    cfg = bundle.config
    probe.set_namespace(cfg, "network", f"/proc/{ns_holder}/ns/net")
    probe.set_namespace(cfg, "uts", f"/proc/{ns_holder}/ns/uts")
    cfg.pop("hostname", None)
    got = probe.probe(runtime, bundle, {"ns": probe.NS_SCRIPT, "hostname": "hostname"})
    inside = probe.parse_ns_links(got["ns"])
    assert inside["net"] == os.readlink(f"/proc/{ns_holder}/ns/net")
    assert inside["uts"] == os.readlink(f"/proc/{ns_holder}/ns/uts")
    assert got["hostname"] == "held-uts"


def test_join_missing_namespace_path_fails_cleanly(runtime, bundle):
    cid = support.unique_id("nsmiss")
    cfg = probe.prepare(bundle, cid, ["true"])
    probe.set_namespace(cfg, "network", "/proc/999999999/ns/net")
    bundle.write()
    proc = runtime.run("create", "-b", bundle.path, cid)
    probe.stderr_says(proc, "no such file or directory")
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.fixture
def userns_place():
    """(runtime, bundle) in a private dir that ids mapped into a user namespace
    can traverse: pytest keeps its tmp tree 0700 (and a concurrent session
    resets it), so these tests live outside it."""
    import shutil
    import tempfile
    from pathlib import Path
    top = Path(tempfile.mkdtemp(prefix="pyrunc-userns-", dir="/tmp"))
    top.chmod(0o711)
    rt = support.Runtime(top / "root")
    rt.root.mkdir(mode=0o711)
    b = support.Bundle(top / "bundle")
    b.path.chmod(0o711)
    try:
        yield rt, b
    finally:
        for cid in [p.name for p in rt.root.iterdir() if p.is_dir() and not p.name.startswith(".")]:
            rt.run("delete", "--force", cid)
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.requires("userns")
def test_user_namespace_with_mappings(userns_place):
    runtime, bundle = userns_place
    cfg = bundle.config
    probe.set_namespace(cfg, "user")
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    # mknod is refused in a user namespace: the runtime binds the host's node
    # (the host must have it: /dev/kmsg, 1:11, opened read-only below)
    cfg["linux"]["devices"] = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11}]
    cfg["linux"]["resources"]["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 11,
                                                 "access": "r"})
    got = probe.probe(runtime, bundle, {
        "mountinfo": "cat /proc/self/mountinfo",
        "kmsg": "ls -l /dev/kmsg",
        "ns": probe.NS_SCRIPT,
        "uid_map": "cat /proc/self/uid_map",
        "gid_map": "cat /proc/self/gid_map",
        "id": "id -u; id -g",
        "owner": "stat -c '%u %g' /bin/busybox",
        "devnull": "echo x > /dev/null && echo ok",
    })
    assert probe.parse_ns_links(got["ns"])["user"] != probe.host_ns_links()["user"]
    assert got["uid_map"].split() == ["0", "100000", "65536"]
    assert got["gid_map"].split() == ["0", "200000", "65536"]
    assert got["id"].split() == ["0", "0"]
    assert got["owner"] == "65534 65534"  # host root is unmapped: the overflow id
    assert got["devnull"] == "ok"
    assert probe.parse_ls_dev(got["kmsg"])["/dev/kmsg"]["dev"] == (1, 11)
    assert probe.mount_at(probe.parse_mountinfo(got["mountinfo"]), "/dev/kmsg") is not None


@pytest.mark.requires("timens")
def test_time_namespace_offsets(runtime, bundle):
    if support.is_runc():
        pytest.skip("runc 1.1.5 has no time namespace support (linux.timeOffsets)")
    year = 365 * 24 * 3600
    cfg = bundle.config
    probe.set_namespace(cfg, "time")
    cfg["linux"]["timeOffsets"] = {"monotonic": {"secs": year, "nanosecs": 0},
                                   "boottime": {"secs": 2 * year, "nanosecs": 5}}
    got = probe.probe(runtime, bundle, {"ns": probe.NS_SCRIPT, "offsets": "cat /proc/self/timens_offsets",
                                        "uptime": "cat /proc/uptime"})
    assert probe.parse_ns_links(got["ns"])["time"] != probe.host_ns_links()["time"]
    offsets = {line.split()[0]: line.split()[1:] for line in got["offsets"].splitlines()}
    assert offsets["monotonic"] == [str(year), "0"]
    assert offsets["boottime"] == [str(2 * year), "5"]
    assert float(got["uptime"].split()[0]) >= 2 * year  # uptime reads CLOCK_BOOTTIME


def test_namespaced_sysctls(runtime, bundle):
    bundle.config["linux"]["sysctl"] = {"kernel.shmmax": "123456789",
                                        "net.ipv4.ip_forward": "1"}
    got = probe.probe(runtime, bundle, {"shmmax": "cat /proc/sys/kernel/shmmax",
                                        "fwd": "cat /proc/sys/net/ipv4/ip_forward"})
    assert got["shmmax"] == "123456789"
    assert got["fwd"] == "1"
    # the host's values are untouched
    with open("/proc/sys/kernel/shmmax") as f:
        assert f.read().strip() != "123456789"


def test_sysctl_needs_its_namespace(runtime, bundle):
    cid = support.unique_id("sysctl")
    cfg = probe.prepare(bundle, cid, ["true"])
    probe.drop_namespace(cfg, "network")
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] not in ("/sys", "/sys/fs/cgroup")]
    # the host's own value: even a runtime that wrongly wrote it changes nothing
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": f.read().strip()}
    bundle.write()
    proc = runtime.run("create", "-b", bundle.path, cid)
    assert proc.returncode != 0
    assert "sysctl" in proc.stderr and "net.ipv4.ip_forward" in proc.stderr, proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.requires("userns")
def test_user_namespace_non_root_user(userns_place):
    runtime, bundle = userns_place
    cid = support.unique_id("usr")
    cfg = probe.prepare(bundle, cid, ["sleep", "1000"])
    probe.set_namespace(cfg, "user")
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [1001]}
    bundle.write()
    probe.call(runtime, "run", "-d", "-b", bundle.path, cid, check=True)
    pid = runtime.state(cid)["pid"]
    with open(f"/proc/{pid}/status") as f:
        host_view = probe.parse_status(f.read())
    assert probe.status_ids(host_view["Uid"]) == [101000] * 4
    assert probe.status_ids(host_view["Gid"]) == [101000] * 4
    assert probe.status_ids(host_view["Groups"]) == [101001]
    runtime.run("delete", "--force", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_non_namespaced_sysctl_is_refused(runtime, bundle):
    cid = support.unique_id("vmsys")
    cfg = probe.prepare(bundle, cid, ["true"])
    with open("/proc/sys/vm/swappiness") as f:  # the host's own value: nothing can change
        cfg["linux"]["sysctl"] = {"vm.swappiness": f.read().strip()}
    bundle.write()
    proc = probe.call(runtime, "create", "-b", bundle.path, cid)
    assert proc.returncode == 1
    assert "vm.swappiness" in probe.messages(proc.stderr), proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.requires("userns")
def test_user_namespace_with_a_private_state_root(userns_place, tmp_path):
    """The state root may be closed to the container's mapped ids (runc makes
    its own root 0700): the init must not need to walk it to reach its fifo."""
    _, bundle = userns_place
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    runtime = support.Runtime(private / "root")
    cid = support.unique_id("privroot")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", "id -u"])
    probe.set_namespace(cfg, "user")
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.write()
    try:
        probe.call(runtime, "create", "-b", bundle.path, cid, check=True)
        runtime.run("start", cid, check=True)
        probe.wait_status(runtime, cid, "stopped")
        runtime.run("delete", cid, check=True)
    finally:
        runtime.run("delete", "--force", cid)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_masked_paths_without_a_mount_namespace_are_refused(runtime, bundle):
    cid = support.unique_id("nomnt")
    cfg = probe.prepare(bundle, cid, ["true"])
    probe.drop_namespace(cfg, "mount")
    cfg["mounts"] = []
    bundle.write()
    proc = probe.call(runtime, "create", "-b", bundle.path, cid)
    assert proc.returncode == 1
    assert "mnt namespace" in probe.messages(proc.stderr).lower() or \
        "mount namespace" in probe.messages(proc.stderr), proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)
