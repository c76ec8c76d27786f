"""Rootless: the runtime run directly by a user who is not root (issue 18).

Each test drops to a throwaway user (made here with useradd, with the
subordinate id ranges Debian's useradd gives a new user, removed after) or
to `nobody`, in the child subprocess forks (setuid/setgid before exec), and
runs the runtime under test there with the environment a login gives:
$XDG_RUNTIME_DIR (so the default --root is the user's), $USER, $HOME.
The config is what `spec --rootless` writes for that user. Where systemd is
PID 1 on cgroup v2 (the tests/vm guest), the user's systemd manager runs
(tests/usersession.py): $XDG_RUNTIME_DIR is /run/user/UID with the user's
bus, and `--systemd-cgroup` gets the container a delegated cgroup with
limits. The same tests
run against runc (PYRUNC_TEST_RUNTIME=runc); where runc 1.1.5 words a
failure its own way, the expected text says so.
"""
from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests import support, usersession
from tests.conformance import probe

pytestmark = [pytest.mark.requires("root", "unprivileged_userns")]

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class User:
    """A non-root user, a directory of its own (its XDG_RUNTIME_DIR and
    bundles), and the runtime under test run as it."""

    def __init__(self, name: str, base: Path, session: dict | None = None):
        """`session`: the environment of the user's running systemd manager
        (usersession.start), whose runtime dir is then the user's."""
        pw = pwd.getpwnam(name)
        self.name, self.uid, self.gid = name, pw.pw_uid, pw.pw_gid
        self.base = base
        self.session = session or {}
        if session:
            self.xdg = Path(session["XDG_RUNTIME_DIR"])
        else:
            self.xdg = base / "xdg"
            self.xdg.mkdir(mode=0o700)
            os.chown(self.xdg, self.uid, self.gid)
        self.binary = support.runtime_binary()

    @property
    def state_root(self) -> Path:
        """The default --root for this user: $XDG_RUNTIME_DIR/<runtime>."""
        return self.xdg / ("runc" if support.is_runc() else "pyrunc")

    def run(self, *args, env=None, timeout=60, before=None, after=None, wrap=()) -> subprocess.CompletedProcess:
        """`runtime ARGS` as this user. Its stdout and stderr are files the user
        owns: a detached container keeps them, and runc chowns a container's
        stdio to the container's root, which only their owner may do.
        `before()` runs in the forked child, still root, before it drops to the
        user; `after()` once it is the user. `wrap`: the command that runs
        the runtime (e.g. systemd-run)."""
        environ = {"PATH": PATH, "HOME": str(self.base), "USER": self.name, "LOGNAME": self.name,
                   "XDG_RUNTIME_DIR": str(self.xdg), **self.session}
        environ.update(env or {})
        environ = {k: v for k, v in environ.items() if v is not None}
        outs = []
        for name in ("out", "err"):
            fd, path = tempfile.mkstemp(prefix=f"{name}-", dir=self.base)
            os.fchown(fd, self.uid, self.gid)
            outs.append((fd, path))
        try:
            def drop():
                if before is not None:
                    before()
                os.setgroups([])
                os.setresgid(self.gid, self.gid, self.gid)
                os.setresuid(self.uid, self.uid, self.uid)
                if after is not None:
                    after()

            proc = subprocess.run([*wrap, self.binary, *map(str, args)], preexec_fn=drop,
                                  env=environ, cwd=self.base, stdin=subprocess.DEVNULL,
                                  stdout=outs[0][0], stderr=outs[1][0], timeout=timeout)
            proc.stdout, proc.stderr = (Path(path).read_text(errors="replace") for _, path in outs)
        finally:
            for fd, path in outs:
                os.close(fd)
                os.unlink(path)
        support.assert_no_traceback(proc.stderr)
        return proc

    def bundle(self, cid: str, args=("true",)) -> tuple[Path, dict]:
        """A bundle whose config is the runtime's own `spec --rootless` for this
        user, with no terminal, `args`, and the test's process marker."""
        path = self.base / cid
        path.mkdir(mode=0o755)
        support.make_rootfs(path / "rootfs")
        os.chown(path, self.uid, self.gid)  # `spec` writes config.json as the user
        proc = self.run("spec", "--rootless", "--bundle", path)
        assert proc.returncode == 0, proc.stderr
        cfg = json.loads((path / "config.json").read_text())
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = list(args)
        cfg["process"]["env"].append(f"{probe.MARK_VAR}={probe.marker(cid)}")
        return path, cfg

    def leftovers(self, cid: str) -> list[str]:
        found = [f"state dir {d}" for d in [self.state_root / cid] if d.exists()]
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            for parent in ("", "pyrunc", support.TEST_CGROUP_PARENT):
                d = hierarchy / parent / cid
                if d.is_dir():
                    found.append(f"cgroup {d}")
        if self.session:  # a scope of the user's manager, named after the container
            found += [f"cgroup {d}" for d in usersession.manager_cgroup(self.uid).rglob(f"*{cid}*")
                      if d.is_dir()]
        found += [f"process {pid}" for pid in support.live_pids_with_env(probe.marker(cid))]
        return found

    def assert_no_leftovers(self, cid: str) -> None:
        try:
            probe.wait_for(lambda: not self.leftovers(cid), 5.0, "no leftovers")
        except AssertionError:
            raise AssertionError(f"leftovers of {cid}: {self.leftovers(cid)}") from None


def write(path: Path, cfg: dict) -> None:
    (path / "config.json").write_text(json.dumps(cfg, indent=2))


@pytest.fixture(scope="module")
def user():
    """A throwaway user with subordinate id ranges (useradd's SUB_UID_* in
    /etc/login.defs), in a directory every user may traverse."""
    if shutil.which("useradd") is None:
        pytest.fail("useradd is not installed (Debian package passwd)")
    name = f"pyrunc-t{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name],
                   check=True, capture_output=True)
    base = Path(tempfile.mkdtemp(prefix="pyrunc-rootless-", dir="/tmp"))
    uid = pwd.getpwnam(name).pw_uid
    session = False
    try:
        base.chmod(0o755)
        session = usersession.available()
        u = User(name, base, session=usersession.start(uid) if session else None)
        if not _executable_by(u.binary, u.uid, u.gid):
            pytest.skip(f"{u.binary} cannot be run by other users: its interpreter is not theirs to "
                        "execute (scripts/install.sh builds the venv from one that is; README: Rootless)")
        yield u
    finally:
        left = usersession.stop(uid) if session else []
        subprocess.run(["userdel", name], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    assert not left, left


@pytest.fixture
def nobody(user):
    """`nobody`: an existing unprivileged user, used where it must have no subuid range."""
    base = Path(tempfile.mkdtemp(prefix="pyrunc-nobody-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield User("nobody", base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _executable_by(binary: str, uid: int, gid: int) -> bool:
    """Can `uid` run `binary`? It and, for a script, its interpreter (by the
    shebang), with every directory on the way searchable by that user."""
    proc = subprocess.run(["true"], user=uid, group=gid, extra_groups=[], env={"PATH": PATH})
    assert proc.returncode == 0
    with open(binary, "rb") as f:
        head = f.read(256)
    paths = [binary]
    if head.startswith(b"#!"):
        paths.append(head[2:].split(b"\n")[0].split()[0].decode())
    for p in paths:
        real = os.path.realpath(p)
        probe_run = subprocess.run(["test", "-x", real], user=uid, group=gid, extra_groups=[],
                                   env={"PATH": PATH})
        if probe_run.returncode != 0:
            return False
    return True


def _subid_range(path: str, user: User) -> tuple[int, int] | None:
    for line in Path(path).read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in (user.name, str(user.uid)):
            first, _, count = rest.partition(":")
            return int(first), int(count)
    return None


def _single_error(proc: subprocess.CompletedProcess, text: str) -> None:
    probe.stderr_says(proc, text)
    assert len(probe.error_lines(proc.stderr)) == 1, proc.stderr


# -- installed for every user --------------------------------------------------------

def test_a_non_root_user_runs_version(user):
    proc = user.run("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith(f"{support.runtime_name()} version"), proc.stdout


# -- running ------------------------------------------------------------------------

def test_run_maps_root_inside_to_the_user_outside(user):
    cid = support.unique_id("rl")
    script = ("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; "
              "cat /proc/self/setgroups; ls -ln /dev/null; touch /sys/x 2>&1; grep ' /sys ' /proc/self/mounts")
    path, cfg = user.bundle(cid, ["sh", "-c", script])
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["0", str(user.uid), "1"], proc.stdout
    assert lines[1].split() == ["0", str(user.gid), "1"], proc.stdout
    assert lines[2:4] == ["0", "0"], proc.stdout
    # the runtime wrote a single mapping of the user's own gid: only after setgroups was denied
    assert lines[4] == "deny", proc.stdout
    # no mknod in a user namespace: the host's node, bound
    dev_null = lines[5].split()
    assert dev_null[0].startswith("c") and dev_null[4:6] == ["1,", "3"], lines[5]
    assert "Read-only file system" in lines[6], proc.stdout
    assert " ro," in lines[7] or lines[7].split()[3].startswith("ro"), proc.stdout
    user.assert_no_leftovers(cid)


def test_lifecycle_and_exec_in_the_default_root(user):
    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid, ["sleep", "1000"])
    write(path, cfg)
    proc = user.run("create", "--bundle", path, cid)
    try:
        assert proc.returncode == 0, proc.stderr
        assert (user.state_root / cid).is_dir()  # $XDG_RUNTIME_DIR/<runtime>, by default
        state = json.loads(user.run("state", cid).stdout)
        assert state["status"] == "created"
        pid = state["pid"]
        assert os.stat(f"/proc/{pid}").st_uid == user.uid  # root inside is the user outside
        assert user.run("start", cid).returncode == 0
        assert json.loads(user.run("state", cid).stdout)["status"] == "running"
        proc = user.run("exec", cid, "cat", "/proc/self/uid_map")
        assert proc.returncode == 0 and proc.stdout.split() == ["0", str(user.uid), "1"], proc.stderr
        listed = user.run("list", "--format", "json")
        assert [c["id"] for c in json.loads(listed.stdout)] == [cid], listed.stdout
        assert user.run("kill", cid, "KILL").returncode == 0
        probe.wait_for(lambda: json.loads(user.run("state", cid).stdout)["status"] == "stopped",
                       10, f"{cid} to stop")
        proc = user.run("delete", cid)
        assert proc.returncode == 0, proc.stderr
    finally:
        user.run("delete", "--force", cid)
    user.assert_no_leftovers(cid)


@pytest.mark.requires("uidmap")
def test_subordinate_ranges_are_mapped_through_newuidmap(user):
    subuid, subgid = _subid_range("/etc/subuid", user), _subid_range("/etc/subgid", user)
    if subuid is None or subgid is None:
        pytest.fail(f"useradd gave {user.name} no subordinate ids: is SUB_UID_COUNT 0 in /etc/login.defs?")
    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid, ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; "
                                              "cat /proc/self/setgroups; chown 1:1 /tmp/f; ls -ln /tmp/f"])
    cfg["root"]["readonly"] = False
    for caps in cfg["process"]["capabilities"].values():
        caps.append("CAP_CHOWN")
    size = min(subuid[1], subgid[1], 65536)
    cfg["linux"]["uidMappings"].append({"containerID": 1, "hostID": subuid[0], "size": size})
    cfg["linux"]["gidMappings"].append({"containerID": 1, "hostID": subgid[0], "size": size})
    (path / "rootfs" / "tmp" / "f").write_text("")
    os.chown(path / "rootfs" / "tmp" / "f", user.uid, user.gid)  # root's inside
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid)
    assert proc.returncode == 0, proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines()]
    assert lines[:4] == [["0", str(user.uid), "1"], ["1", str(subuid[0]), str(size)],
                         ["0", str(user.gid), "1"], ["1", str(subgid[0]), str(size)]], proc.stdout
    assert lines[4] == ["allow"], proc.stdout  # newgidmap's map: setgroups left as it was
    assert lines[5][2:4] == ["1", "1"], proc.stdout + proc.stderr
    # container id 1 is the first subordinate id outside
    st = os.stat(path / "rootfs" / "tmp" / "f")
    assert (st.st_uid, st.st_gid) == (subuid[0], subgid[0])
    user.assert_no_leftovers(cid)


@pytest.mark.skipif(support.is_runc(), reason="runc 1.1.5 remounts the bind read-only without the flags "
                    "the kernel locked and gets EPERM (opencontainers/runc#1229)")
def test_a_bind_mount_keeps_the_flags_the_kernel_locked(user):
    """A read-only bind of a directory on a nosuid,nodev,noexec mount: in the
    container's user namespace the kernel locks those flags, and the ro
    remount must keep them or it is refused. The mount is the test's own, in
    a mount namespace of the runtime's process only (the host's is untouched)."""
    from pyrunc.kernel import flags as kf
    from pyrunc.kernel import syscalls as k
    src = user.base / "locked"
    src.mkdir(mode=0o755)

    def locked_mount():
        k.unshare(kf.CLONE_NEWNS)
        k.mount(None, "/", None, kf.MS_REC | kf.MS_PRIVATE)
        k.mount("tmpfs", str(src), "tmpfs", kf.MS_NOSUID | kf.MS_NODEV | kf.MS_NOEXEC, "mode=755")

    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid, ["sh", "-c", "grep ' /tmp ' /proc/self/mounts"])
    cfg["mounts"].append({"destination": "/tmp", "type": "bind", "source": str(src), "options": ["bind", "ro"]})
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid, before=locked_mount)
    assert proc.returncode == 0, proc.stderr
    options = set(proc.stdout.split()[3].split(","))
    assert {"ro", "nosuid", "nodev", "noexec"} <= options, proc.stdout
    user.assert_no_leftovers(cid)


@pytest.mark.skipif(support.is_runc(), reason="runc 1.1.5 mounts sysfs as asked and fails with EPERM "
                    "without a network namespace of its own (opencontainers/runc#3672)")
def test_sysfs_without_a_network_namespace_is_the_hosts_bound(user):
    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid, ["sh", "-c", "grep ' /sys ' /proc/self/mounts; ls /sys/kernel >/dev/null && echo ok"])
    for m in cfg["mounts"]:
        if m["destination"] == "/sys":
            m.update(type="sysfs", source="sysfs", options=["nosuid", "noexec", "nodev", "ro"])
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[3].startswith("ro,"), proc.stdout
    assert proc.stdout.splitlines()[-1] == "ok", proc.stdout
    user.assert_no_leftovers(cid)


def test_root_of_a_user_namespace_with_a_config_that_makes_none(user):
    """What rootless podman does: the runtime runs as root of a user namespace
    the user made (the user outside, mapped by itself), and the config asks
    for no user namespace. Root there may not mknod: the devices are the
    host's, bound (runc: RunningInUserNS)."""
    from pyrunc.kernel import flags as kf
    from pyrunc.kernel import syscalls as k

    def become_root_of_a_user_namespace():
        k.set_dumpable(True)  # setresuid cleared it: /proc/self would stay root's
        k.unshare(kf.CLONE_NEWUSER)
        for name, text in (("setgroups", "deny"), ("uid_map", f"0 {user.uid} 1"), ("gid_map", f"0 {user.gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)

    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid, ["sh", "-c", "id -u; cat /proc/self/uid_map; ls -ln /dev/null; echo > /dev/null && echo written"])
    cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "user"]
    for field in ("uidMappings", "gidMappings"):
        cfg["linux"].pop(field)
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid, after=become_root_of_a_user_namespace)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "0" and lines[1].split() == ["0", str(user.uid), "1"], proc.stdout
    dev_null = lines[2].split()
    assert dev_null[0].startswith("c") and dev_null[4:6] == ["1,", "3"], lines[2]
    assert lines[3] == "written", proc.stdout
    user.assert_no_leftovers(cid)


# -- bad input: one line, nothing left -----------------------------------------------

def test_a_config_without_a_user_namespace(user):
    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid)
    cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"]["namespaces"] if ns["type"] != "user"]
    for field in ("uidMappings", "gidMappings"):
        cfg["linux"].pop(field)
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid)
    _single_error(proc, "rootless container requires user namespaces" if support.is_runc()
                  else "config.json: linux.namespaces: rootless containers need a user namespace")
    user.assert_no_leftovers(cid)
    if not support.is_runc():  # `validate` run by the user says the same (runc has none)
        proc = user.run("validate", "--bundle", path)
        assert proc.returncode != 0 and "linux.namespaces: rootless containers need a user namespace" in proc.stdout + proc.stderr


@pytest.mark.requires("uidmap")
def test_a_range_the_user_does_not_have(nobody):
    if _subid_range("/etc/subuid", nobody) is not None:
        pytest.skip("nobody has a subuid range on this host")
    cid = support.unique_id("rl")
    path, cfg = nobody.bundle(cid)
    cfg["linux"]["uidMappings"].append({"containerID": 1, "hostID": 100000, "size": 1000})
    write(path, cfg)
    proc = nobody.run("run", "--bundle", path, cid)
    if support.is_runc():  # runc leaves the words to newuidmap, several lines of them
        assert proc.returncode != 0 and "newuidmap" in proc.stderr, proc.stderr
    else:
        _single_error(proc, "config.json: linux.uidMappings[1]: no subuid range for user nobody in /etc/subuid")
    nobody.assert_no_leftovers(cid)


def test_a_limit_without_a_delegated_cgroup(user):
    """The cgroupfs driver, run from a cgroup that is not the user's (root's
    test process): no cgroup to put a limit in."""
    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid)
    cfg["linux"]["resources"] = {"pids": {"limit": 10}}
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid)
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    if support.is_runc() and v2:  # runc: the mkdir's error, and how to avoid it
        assert proc.returncode != 0 and "rootless needs no limits" in proc.stderr, proc.stderr
    elif support.is_runc():
        _single_error(proc, "cannot set pids limit: container could not join or create cgroup")
    elif v2:
        _single_error(proc, "cgroup v2: resource limits need a cgroup delegated to this user "
                      "(linux.resources sets pids.max)")
    else:
        _single_error(proc, "cgroup v1: resource limits need root (linux.resources sets pids.max)")
    user.assert_no_leftovers(cid)


# -- the user's systemd manager: a delegated cgroup v2 (the guest) ---------------------

def _limited_bundle(user, cid, script):
    """A bundle with pids and memory limits, in a cgroup namespace of its own
    so that /sys/fs/cgroup inside is the container's cgroup."""
    path, cfg = user.bundle(cid, ["sh", "-c", script])
    if {"type": "cgroup"} not in cfg["linux"]["namespaces"]:  # spec adds it on cgroup v2 only
        cfg["linux"]["namespaces"].append({"type": "cgroup"})
    cfg["linux"]["resources"] = {"pids": {"limit": 20}, "memory": {"limit": 64 << 20}}
    return path, cfg


@pytest.mark.requires("systemd", "cgroup_v2")
def test_limits_through_the_users_systemd_manager(user):
    """--systemd-cgroup, rootless: the scope is the user manager's
    (user@UID.service/user.slice, runc's default slice for rootless), its
    limits are seen inside, and it goes with the container."""
    cid = support.unique_id("rl")
    path, cfg = _limited_bundle(user, cid, "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max; "
                                           "cat /proc/self/cgroup; sleep 1000")
    write(path, cfg)
    manager = usersession.manager_cgroup(user.uid)
    proc = user.run("--systemd-cgroup", "create", "--bundle", path, cid)
    try:
        assert proc.returncode == 0, proc.stderr
        pid = json.loads(user.run("state", cid).stdout)["pid"]
        with open(f"/proc/{pid}/cgroup") as f:
            where = f.read().strip().split("::", 1)[1]
        scope = Path("/sys/fs/cgroup" + where)
        assert scope.parent == manager / "user.slice", where
        assert scope.name.endswith(f"{cid}.scope"), where
        assert os.stat(scope).st_uid == user.uid   # the user's manager made it
        assert (scope / "pids.max").read_text().strip() == "20"
        assert user.run("start", cid).returncode == 0
        proc = user.run("exec", cid, "sh", "-c", "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["20", str(64 << 20)], proc.stdout
        assert user.run("kill", cid, "KILL").returncode == 0
        probe.wait_for(lambda: json.loads(user.run("state", cid).stdout)["status"] == "stopped",
                       10, f"{cid} to stop")
        proc = user.run("delete", cid)
        assert proc.returncode == 0, proc.stderr
        assert not scope.exists()
    finally:
        user.run("delete", "--force", cid)
    user.assert_no_leftovers(cid)


@pytest.mark.requires("systemd", "cgroup_v2")
def test_run_sees_its_limits_inside(user):
    cid = support.unique_id("rl")
    path, cfg = _limited_bundle(user, cid, "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max")
    write(path, cfg)
    proc = user.run("--systemd-cgroup", "run", "--bundle", path, cid)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["20", str(64 << 20)], proc.stdout
    user.assert_no_leftovers(cid)


@pytest.mark.requires("systemd", "cgroup_v2")
def test_cgroupfs_uses_a_cgroup_the_user_owns(user):
    """Without --systemd-cgroup, run from a scope of the user's manager
    (`systemd-run --user --scope`, as a login shell's processes are): the
    parent of the caller's cgroup is the user's, so the container gets a
    cgroup of its own there, with its limits (runc's fs2 driver)."""
    cid = support.unique_id("rl")
    path, cfg = _limited_bundle(user, cid, "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max")
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid,
                    wrap=("systemd-run", "--user", "--scope", "--quiet", "-p", "Delegate=yes", "--"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["20", str(64 << 20)], proc.stdout
    user.assert_no_leftovers(cid)


@pytest.mark.requires("systemd", "cgroup_v2")
def test_systemd_cgroup_without_the_users_bus(user):
    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid)
    write(path, cfg)
    xdg = user.base / "xdg-no-bus"
    xdg.mkdir(mode=0o700)
    os.chown(xdg, user.uid, user.gid)
    proc = user.run("--systemd-cgroup", "run", "--bundle", path, cid,
                    env={"DBUS_SESSION_BUS_ADDRESS": None, "XDG_RUNTIME_DIR": str(xdg)})
    if support.is_runc():  # runc 1.1.5 asks `systemctl --user`, and says so in its own words
        assert proc.returncode != 0, proc.stdout
    else:
        _single_error(proc, "cgroup systemd: rootless --systemd-cgroup needs the user's D-Bus session bus: "
                      "set DBUS_SESSION_BUS_ADDRESS, or XDG_RUNTIME_DIR with its bus socket")
    user.assert_no_leftovers(cid)
    assert not list(xdg.glob(f"*/{cid}")), list(xdg.iterdir())


# a limit per controller systemd's user@.service does not delegate by default
_UNDELEGATED = {"cpuset": ({"cpu": {"cpus": "0"}}, "cpuset.cpus"),
                "hugetlb": ({"hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}]}, "hugetlb.2MB.max")}


@pytest.mark.requires("systemd", "cgroup_v2")
def test_a_limit_the_user_was_not_delegated(user):
    """A controller user@UID.service was not delegated (its Delegate=): one
    line, before any unit is started, and nothing left."""
    delegated = usersession.delegated(user.uid)
    missing = [c for c in _UNDELEGATED if c not in delegated and c in
               Path("/sys/fs/cgroup/cgroup.controllers").read_text().split()]
    if not missing:
        pytest.skip(f"user@.service is delegated every controller tried here ({' '.join(delegated)})")
    controller = missing[0]
    resources, file = _UNDELEGATED[controller]
    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid)
    cfg["linux"]["resources"] = resources
    write(path, cfg)
    proc = user.run("--systemd-cgroup", "run", "--bundle", path, cid)
    if support.is_runc():  # runc 1.1.5: the write's error
        assert proc.returncode != 0 and file in proc.stderr, proc.stderr
    else:
        _single_error(proc, f"cgroup v2: linux.resources sets {file}, but controller {controller} is not "
                      "delegated to this user")
    user.assert_no_leftovers(cid)


def test_a_named_cgroup_the_user_cannot_write(user):
    """runc's rootless manager skips only a cgroup it picked: a cgroupsPath is a demand."""
    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid)
    cfg["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid)
    if support.is_runc():  # runc: the mkdir's own error
        assert proc.returncode != 0 and "permission denied" in proc.stderr, proc.stderr
    else:
        _single_error(proc, f"linux.cgroupsPath {support.cgroup_path_for(cid)}: ")
        assert "is not writable by this user" in proc.stderr
    user.assert_no_leftovers(cid)


def test_an_unmapped_gid_mount_option(user):
    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid)
    for m in cfg["mounts"]:
        if m["destination"] == "/dev/pts":
            m["options"].append("gid=5")
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid)
    _single_error(proc, "cannot specify gid= mount options for unmapped gid in rootless containers"
                  if support.is_runc() else "gid=5: not mapped by linux.gidMappings")
    user.assert_no_leftovers(cid)


@pytest.mark.parametrize("xdg", [None, "/nonexistent-xdg"])
def test_no_usable_xdg_runtime_dir(user, xdg):
    cid = support.unique_id("rl")
    path, cfg = user.bundle(cid)
    write(path, cfg)
    proc = user.run("run", "--bundle", path, cid, env={"XDG_RUNTIME_DIR": xdg})
    if support.is_runc():  # runc falls back to /run/runc, or dies making the dir
        assert proc.returncode != 0, proc.stdout
    elif xdg is None:
        _single_error(proc, "XDG_RUNTIME_DIR is not set: a non-root user's containers live in $XDG_RUNTIME_DIR/pyrunc")
    else:
        _single_error(proc, f"XDG_RUNTIME_DIR {xdg}: not a directory this user can write")
    user.assert_no_leftovers(cid)
    assert not Path(xdg or "/nonexistent").exists()


def test_spec_needs_no_runtime_dir(user):
    dest = user.base / "spec-only"
    dest.mkdir()
    os.chown(dest, user.uid, user.gid)
    proc = user.run("spec", "--rootless", "--bundle", dest, env={"XDG_RUNTIME_DIR": None})
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads((dest / "config.json").read_text())
    assert cfg["linux"]["uidMappings"] == [{"containerID": 0, "hostID": user.uid, "size": 1}]
    assert stat.S_IMODE((dest / "config.json").stat().st_mode) & 0o200
