"""Rootless podman end to end (issue 18), on the host and in the tests/vm
guest: podman 4 + conmon run by a throwaway user
(tests/e2e/rootless_podman.py), `--runtime` the runtime
under test, which podman starts as root of its user namespace (the user
outside, its /etc/subuid range for the other ids) with a config that asks
for no user namespace of its own, unless --userns=keep-id.

PYRUNC_TEST_RUNTIME=runc runs the same tests against runc. The module
fixture fails if a container, a process of the user's ids (conmon,
slirp4netns, rootlessport, the pause process aside), a file of theirs in
the host's scratch dirs, or the user itself is left behind.
"""
from __future__ import annotations

import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests import support
from tests.e2e.clients import pids_mentioning, settle
from tests.e2e.rootless_podman import RootlessPodman

pytestmark = [pytest.mark.requires("root", "podman", "unprivileged_userns", "uidmap", "slirp4netns")]

# sh as PID 1 ignores SIGTERM unless it traps it: with this, `podman stop`
# sees the container go on the first signal instead of waiting for the timeout
SERVE = ["sh", "-c", 'trap "exit 0" TERM; while :; do sleep 0.1; done']


@pytest.fixture(scope="module")
def rpodman(_reaper):
    client = RootlessPodman(Path(tempfile.mkdtemp(prefix="pyrunc-rpodman-", dir="/tmp")),
                            support.runtime_binary())
    try:
        client.setup()
        version = client.podman("--version", check=False)  # podman itself, as the user
        assert version.returncode == 0, version.stderr
        as_user = client.user_runs([client.runtime, "--version"])
        if as_user.returncode != 0:
            pytest.skip(f"{client.runtime} cannot be run by other users ({as_user.stderr.strip()}): "
                        "scripts/install.sh builds the venv from a Python every user can run")
        yield client
    finally:
        left = client.teardown()
    assert not left, "rootless podman left behind:\n" + "\n".join(left)


def _name() -> str:
    return support.unique_id("rl")


def _status(rpodman, name) -> str:
    return rpodman.podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()


def _gone(name) -> None:
    """conmon (whose argv names the container) has gone with it."""
    settle(name)
    assert not pids_mentioning(name), pids_mentioning(name)


def test_run_maps_root_to_the_user(rpodman):
    user = rpodman.user
    out = rpodman.run("--rm", rpodman.image, "sh", "-c",
                      "id -u; cat /proc/self/uid_map /proc/self/gid_map; "
                      "test -c /dev/null && echo > /dev/null && echo null-ok").stdout
    lines = [line.split() for line in out.splitlines()]
    assert lines[0] == ["0"], out
    # podman's user namespace: root is the user, 1.. its subordinate range
    assert lines[1] == ["0", str(user.uid), "1"], out
    assert lines[2] == ["1", str(user.subuid[0]), str(user.subuid[1])], out
    assert lines[3] == ["0", str(user.gid), "1"], out
    assert lines[4] == ["1", str(user.subgid[0]), str(user.subgid[1])], out
    # no mknod as root of a user namespace: the host's node, bound
    assert lines[5] == ["null-ok"], out


def test_exit_codes(rpodman):
    assert rpodman.run("--rm", rpodman.image, "sh", "-c", "exit 3", check=False).returncode == 3
    # the runtime's "no such file or directory" is 127 to podman
    missing = rpodman.run("--rm", rpodman.image, "/no/such/command", check=False)
    assert missing.returncode == 127, missing
    support.assert_no_traceback(missing.stderr)


def test_run_exec_stop_rm(rpodman):
    name = _name()
    try:
        rpodman.run("-d", "--name", name, rpodman.image, *SERVE)
        assert _status(rpodman, name) == "running"
        out = rpodman.podman("exec", name, "sh", "-c", "echo from-exec; echo $$; id -u").stdout.splitlines()
        assert out[0] == "from-exec" and int(out[1]) > 1 and out[2] == "0", out
        assert rpodman.podman("exec", name, "sh", "-c", "exit 4", check=False).returncode == 4
        t0 = time.monotonic()
        # podman's own work takes seconds in an emulated guest: a stop well
        # short of the 30 s timeout is the SIGTERM's
        rpodman.podman("stop", "--time", "30", name)
        assert time.monotonic() - t0 < 25, "the container ignored SIGTERM"
        assert _status(rpodman, name) == "exited"
        assert rpodman.podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
        rpodman.podman("rm", name)
        assert rpodman.podman("container", "exists", name, check=False).returncode == 1
    finally:
        rpodman.podman("rm", "--force", "--time", "0", name, check=False)
    _gone(name)


def test_keep_id(rpodman):
    """--userns=keep-id: a user namespace in the config, the user's own ids inside."""
    user = rpodman.user
    out = rpodman.run("--rm", "--userns=keep-id", rpodman.image, "sh", "-c", "id -u; id -g").stdout
    assert out.split() == [str(user.uid), str(user.gid)], out
    name = _name()
    try:
        rpodman.run("-d", "--userns=keep-id", "--name", name, rpodman.image, *SERVE)
        out = rpodman.podman("exec", name, "id", "-u").stdout
        assert out.split() == [str(user.uid)], out
    finally:
        rpodman.podman("rm", "--force", "--time", "0", name, check=False)
    _gone(name)


@pytest.mark.parametrize("userns", [[], ["--userns=keep-id"]], ids=["default", "keep-id"])
def test_volume_is_the_users(rpodman, userns):
    """A directory of the user's, written from inside: the user's file outside."""
    user = rpodman.user
    vol = user.home / support.unique_id("vol")
    vol.mkdir(mode=0o700)
    os.chown(vol, user.uid, user.gid)
    rpodman.run("--rm", *userns, "-v", f"{vol}:/data", rpodman.image, "sh", "-c",
                "echo from-inside > /data/f")
    st = os.stat(vol / "f")
    assert (st.st_uid, st.st_gid) == (user.uid, user.gid)
    assert (vol / "f").read_text() == "from-inside\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fetch(url: str, seconds: float = 15) -> str:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_published_port(rpodman):
    """-p on loopback through slirp4netns (podman 4.3's rootless network) and
    rootlessport: the test reaches the container's server on 127.0.0.1."""
    name, port = _name(), _free_port()
    try:
        rpodman.run("-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", rpodman.image, "sh", "-c",
                    'trap "exit 0" TERM; mkdir -p /www; echo served-from-inside > /www/index.html; '
                    "httpd -f -p 8080 -h /www & wait")
        mode = rpodman.podman("inspect", "--format", "{{.HostConfig.NetworkMode}}", name).stdout.strip()
        assert mode == "slirp4netns", mode
        assert rpodman.podman("port", name).stdout.split() == ["8080/tcp", "->", f"127.0.0.1:{port}"]
        assert _fetch(f"http://127.0.0.1:{port}/") == "served-from-inside\n"
        rpodman.podman("stop", "--time", "10", name)
    finally:
        rpodman.podman("rm", "--force", "--time", "0", name, check=False)
    _gone(name)
    with socket.socket() as s:  # the port went with the container
        assert s.connect_ex(("127.0.0.1", port)) != 0


def _controllers(text: str, names=("memory", "pids")) -> dict:
    out = {}
    for line in text.splitlines():
        if line.count(":") < 2:
            continue
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(","):
            if c in names:
                out[c] = path
    return out


@pytest.mark.requires("cgroup_v1")
def test_limits_are_dropped_on_cgroup_v1(rpodman):
    """No delegation on cgroup v1: podman warns and gives the runtime no
    limits; the runtime makes no cgroup the user could not write, and the
    container stays in the cgroups podman ran in (this test's)."""
    proc = rpodman.run("--rm", "--memory", "64m", "--pids-limit", "20", rpodman.image,
                       "sh", "-c", "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes")
    assert "Resource limits are not supported and ignored on cgroups V1 rootless systems" in proc.stderr, proc.stderr
    with open("/proc/self/cgroup") as f:
        ours = _controllers(f.read())
    assert _controllers(proc.stdout) == ours, proc.stdout
    assert proc.stdout.splitlines()[-1] != str(64 * 1024 * 1024), proc.stdout


@pytest.mark.requires("systemd", "cgroup_v2")
def test_limits_in_the_users_delegated_cgroup(rpodman):
    """podman's default systemd cgroup manager: the runtime (root of podman's
    user namespace) asks the user's systemd manager for a scope below
    user@UID.service, whose limits the container sees."""
    user = rpodman.user
    name = _name()
    try:
        rpodman.run("-d", "--name", name, "--memory", "64m", "--pids-limit", "20", rpodman.image, *SERVE)
        out = rpodman.podman("exec", name, "cat", "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/memory.max").stdout
        assert out.split() == ["20", str(64 << 20)], out
        pid = int(rpodman.podman("inspect", "--format", "{{.State.Pid}}", name).stdout)
        with open(f"/proc/{pid}/cgroup") as f:
            where = f.read().strip().split("::", 1)[1]
        manager = f"/user.slice/user-{user.uid}.slice/user@{user.uid}.service/"
        assert where.startswith(manager) and where.endswith(".scope"), where
        assert Path("/sys/fs/cgroup" + where, "pids.max").read_text().strip() == "20"
        rpodman.podman("stop", "--time", "10", name)
    finally:
        rpodman.podman("rm", "--force", "--time", "0", name, check=False)
    _gone(name)
    assert not Path("/sys/fs/cgroup" + where).exists(), where


def test_a_runtime_failure_is_one_line_and_leaves_nothing(rpodman):
    """What the user may not do (lower its oom_score_adj) fails in the
    runtime: podman shows one line, and the container, its processes and
    its state dir are gone (--rm)."""
    name = _name()
    proc = rpodman.run("--rm", "--name", name, "--oom-score-adj", "-500", rpodman.image, "true", check=False)
    assert proc.returncode == 126, proc
    errors = [line for line in proc.stderr.splitlines() if "shared mount" not in line]
    assert len(errors) == 1 and errors[0].startswith("Error: "), proc.stderr
    support.assert_no_traceback(proc.stderr)
    if not support.is_runc():  # runc 1.1.5: "can't get final child's PID from pipe: EOF"
        assert "oom_score_adj: permission denied" in errors[0], errors
    assert rpodman.podman("container", "exists", name, check=False).returncode == 1
    _gone(name)
    state_root = rpodman.user.xdg / support.runtime_name()
    left = [p.name for p in state_root.iterdir() if not p.name.startswith(".")] if state_root.exists() else []
    assert not left, left
