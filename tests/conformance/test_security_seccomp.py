"""Conformance: linux.seccomp seen from inside the container — Seccomp and
Seccomp_filters in /proc/self/status, the configured errno of a blocked
syscall, argument filters, podman's and Docker's real profiles, and
SCMP_ACT_NOTIFY delivering the listener fd to an agent at listenerPath."""
from __future__ import annotations

import copy
import errno
import os

import pytest

from tests import seccomp_profiles, seccomp_testagent, support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")

STATUS = {"status": "cat /proc/self/status"}
ENOMSG_TEXT = os.strerror(errno.ENOMSG)  # busybox prints strerror


@pytest.fixture(autouse=True)
def _writable_tmp(bundle):
    # the tests write to /tmp of their private rootfs copy
    bundle.config.setdefault("root", {})["readonly"] = False
    os.makedirs(bundle.rootfs / "tmp", exist_ok=True)


def allow_all(*rules, **extra):
    return dict({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": list(rules)}, **extra)


@pytest.mark.parametrize("nnp", [True, False])
def test_status_shows_filter_mode(runtime, bundle, nnp):
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["linux"]["seccomp"] = allow_all(
        {"names": ["acct"], "action": "SCMP_ACT_ERRNO"})
    st = probe.parse_status(probe.probe(runtime, bundle, STATUS)["status"])
    assert st["Seccomp"] == "2"
    assert st["Seccomp_filters"] == "1"
    assert st["NoNewPrivs"] == ("1" if nnp else "0")


def test_no_seccomp_no_filter(runtime, bundle):
    bundle.config["linux"].pop("seccomp", None)
    st = probe.parse_status(probe.probe(runtime, bundle, STATUS)["status"])
    assert st["Seccomp"] == "0"


@pytest.mark.parametrize("nnp", [True, False])
def test_blocked_syscall_gets_the_configured_errno(runtime, bundle, nnp):
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["linux"]["seccomp"] = allow_all(
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOMSG})
    got = probe.probe(runtime, bundle, {"mkdir": "mkdir /tmp/blocked 2>&1; echo rc=$?",
                                        "touch": "touch /tmp/allowed && echo ok"})
    assert ENOMSG_TEXT in got["mkdir"] and "rc=1" in got["mkdir"]
    assert got["touch"] == "ok"


def test_errno_without_errnoret_is_eperm(runtime, bundle):
    bundle.config["linux"]["seccomp"] = allow_all({"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"})
    got = probe.probe(runtime, bundle, {"mkdir": "mkdir /tmp/blocked 2>&1; echo rc=$?"})
    assert os.strerror(errno.EPERM) in got["mkdir"]


@pytest.mark.requires("shared")
def test_default_errno_ret(runtime, bundle):
    # podman's profile, with mkdir dropped from its allow lists: mkdir now
    # meets the default action, whose errno we set
    prof = copy.deepcopy(seccomp_profiles.podman_seccomp())
    for rule in prof["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in ("mkdir", "mkdirat")] or ["acct"]
    prof["defaultErrnoRet"] = errno.ENOMSG
    bundle.config["linux"]["seccomp"] = prof
    got = probe.probe(runtime, bundle, {"mkdir": "mkdir /tmp/blocked 2>&1; echo rc=$?"})
    assert ENOMSG_TEXT in got["mkdir"]


def test_argument_filter(runtime, bundle):
    # kill(pid, 0) is blocked, kill(pid, SIGCONT) and kill(pid, 64) are not;
    # kill(pid, sig > 60) with sig != 64 is blocked by the second rule
    bundle.config["linux"]["seccomp"] = allow_all(
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOMSG,
         "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOMSG,
         "args": [{"index": 1, "value": 60, "op": "SCMP_CMP_GT"},
                  {"index": 0, "value": 0, "op": "SCMP_CMP_NE"}]},
    )
    got = probe.probe(runtime, bundle, {
        "zero": "kill -0 $$ 2>&1; echo rc=$?",
        "cont": "kill -CONT $$; echo rc=$?",
        "high": "kill -62 $$ 2>&1; echo rc=$?",
    })
    assert ENOMSG_TEXT in got["zero"] and got["zero"].endswith("rc=1")
    assert got["cont"] == "rc=0"
    assert ENOMSG_TEXT in got["high"] and got["high"].endswith("rc=1")


def test_unknown_syscall_name_is_ignored(runtime, bundle):
    bundle.config["linux"]["seccomp"] = allow_all(
        {"names": ["no_such_syscall_at_all", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
         "errnoRet": errno.ENOMSG})
    got = probe.probe(runtime, bundle, {"mkdir": "mkdir /tmp/blocked 2>&1; echo rc=$?"})
    assert ENOMSG_TEXT in got["mkdir"]


def test_unknown_action_fails_create(runtime, bundle):
    bundle.config["linux"]["seccomp"] = allow_all({"names": ["mkdir"], "action": "SCMP_ACT_FROB"})
    proc = probe.run(runtime, bundle, args=["true"])
    assert proc.returncode != 0
    assert "SCMP_ACT_FROB" in proc.stderr


@pytest.mark.requires("shared")
@pytest.mark.parametrize("source", ["podman", "docker-default"])
def test_real_profiles_run_busybox(runtime, bundle, source):
    if source == "podman":
        prof = seccomp_profiles.podman_seccomp()
    else:
        if not seccomp_profiles.MOBY_PROFILE.exists():
            pytest.skip("containers-common's seccomp.json is absent (scripts/deps/security.sh)")
        prof = seccomp_profiles.docker_default_seccomp(
            bundle.config["process"]["capabilities"]["bounding"])
    bundle.config["linux"]["seccomp"] = prof
    got = probe.probe(runtime, bundle, {
        "work": "mkdir /tmp/x && echo hi > /tmp/x/f && cat /tmp/x/f && ls /proc/self/fd >/dev/null && echo ok",
        "status": "cat /proc/self/status",
        # blocked by both profiles without CAP_SYS_ADMIN
        "unshare": "unshare -m true 2>&1; echo rc=$?",
    })
    assert got["work"].splitlines() == ["hi", "ok"]
    assert probe.parse_status(got["status"])["Seccomp"] == "2"
    assert got["unshare"].endswith("rc=1")


@pytest.mark.parametrize("nnp", [True, False])
def test_notify_delivers_the_listener_fd_to_the_agent(runtime, bundle, tmp_path, nnp):
    """The agent gets the ContainerProcessState + fd, and answers mkdir with a
    fake success: the shell sees rc=0 while no directory appears."""
    sock = str(tmp_path / "agent.sock")
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["linux"]["seccomp"] = allow_all(
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"},
        listenerPath=sock, listenerMetadata="probe-metadata")
    cid = support.unique_id("notify")
    with seccomp_testagent.Agent(sock, lambda notif: (0, 0)) as agent:
        got = probe.probe(runtime, bundle, {
            "mkdir": "mkdir /tmp/faked 2>&1; echo rc=$?",
            "ls": "ls -d /tmp/faked 2>&1; echo rc=$?",
        }, cid=cid)
    assert agent.error is None, agent.error
    assert got["mkdir"] == "rc=0"
    assert got["ls"].endswith("rc=1")
    st = agent.state
    assert st["fds"] == ["seccompFd"]
    assert st["metadata"] == "probe-metadata"
    assert st["pid"] > 0 and st["state"]["pid"] == st["pid"]
    assert st["state"]["id"] == cid
    assert st["state"]["bundle"] == str(bundle.path)
    assert st["state"]["status"] == "creating"
    assert len(agent.notifs) >= 1


def test_notify_without_agent_fails_create(runtime, bundle, tmp_path):
    bundle.config["linux"]["seccomp"] = allow_all(
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"},
        listenerPath=str(tmp_path / "nobody-listens.sock"))
    proc = probe.run(runtime, bundle, args=["true"])
    assert proc.returncode != 0
    assert "nobody-listens.sock" in proc.stderr or "seccomp" in proc.stderr.lower()


def test_notify_on_exec_reaches_the_agent(runtime, bundle, tmp_path):
    """An exec'd process loads the container's profile again; its listener
    fd goes to the agent too (runc: state status running, the init's pid)."""
    import subprocess

    sock = str(tmp_path / "agent.sock")
    bundle.config["linux"]["seccomp"] = allow_all(
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}, listenerPath=sock)
    cid = support.unique_id("nexec")
    probe.prepare(bundle, cid, ["sleep", "60"])
    bundle.write()
    states = []
    with seccomp_testagent.Agent(sock, lambda n: (0, 0)) as first:
        assert runtime.run("run", "-d", "-b", bundle.path, cid, capture_output=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
        assert first.got_fd.wait(10)
        states.append(first.state)
    os.unlink(sock)
    try:
        parents = []

        def answer(notif):
            # while the caller waits for us, note its parent (the exec'd shell)
            with open(f"/proc/{notif['pid']}/status") as f:
                parents.append(int(probe.parse_status(f.read())["PPid"]))
            return 0, 0

        with seccomp_testagent.Agent(sock, answer) as second:
            proc = runtime.run("exec", cid, "sh", "-c", "mkdir /tmp/exec-faked; echo rc=$?; ls -d /tmp/exec-faked; echo rc=$?")
            assert second.got_fd.wait(10)
            states.append(second.state)
            notif_pids = [n["pid"] for n in second.notifs] + parents
    finally:
        runtime.run("delete", "--force", cid)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["rc=0", "rc=1"] or proc.stdout.split()[-1] == "rc=1", proc.stdout
    init_pid = states[0]["pid"]
    # the exec'd process's host pid (it ran in the container's pid namespace)
    # the exec'd process's host pid (it runs in the container's pid namespace);
    # the kernel reports the caller's pid in the agent's (host) namespace
    assert states[1]["pid"] != init_pid
    assert states[1]["pid"] in notif_pids, (states[1]["pid"], notif_pids)
    assert states[1]["state"]["status"] == "running"
    assert states[1]["state"]["pid"] == init_pid
    assert states[1]["state"]["id"] == cid
