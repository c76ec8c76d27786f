"""Rootless podman for the e2e suite: a throwaway user and podman run as it.

The user is made with useradd (Debian's useradd gives a new user its
/etc/subuid and /etc/subgid ranges) and removed with userdel, which takes
those ranges away again. Its home and its XDG_RUNTIME_DIR (mode 0700) are
directories in the test's base dir; podman's configuration is where a user
keeps it ($HOME/.config/containers): the file events logger, vfs storage in
the home (no mount to undo), slirp4netns as the network; cgroupfs where
systemd is not PID 1, else podman's default, systemd: the user's systemd
manager is started (tests/usersession.py) and XDG_RUNTIME_DIR is its
/run/user/UID, with the user's bus. podman runs in a forked child that drops to the user
(setgroups/setresgid/setresuid) with a clean environment (HOME,
XDG_RUNTIME_DIR, PATH), with `--runtime` the runtime under test.

Rootless podman keeps a pause process (its user and mount namespace) and
starts conmon, slirp4netns and rootlessport per container: `teardown()`
kills whatever still runs as one of the user's ids, by pid, and lists what
was left behind.
"""
from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
import uuid
from pathlib import Path

from tests import usersession
from tests.e2e import images
from tests.e2e.clients import ClientError, OrphanReaper

PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TUN = "/dev/net/tun"
# Host-wide places a rootless podman or runtime might drop a file of the user's
HOST_SCRATCH = ("/tmp", "/var/tmp", "/dev/shm", "/run")
# podman's own start-up (scopes asked of the user's manager, the pause
# process) is slow where fork/exec are (an emulated guest says how slow in
# PYRUNC_TEST_TIME_SCALE): its commands get a few times longer there
SLOW = min(max(float(os.environ.get("PYRUNC_TEST_TIME_SCALE", "1")), 1.0), 4.0)


def subid_range(path: str, name: str, uid: int) -> tuple[int, int] | None:
    """(first, count) of the user's line in /etc/subuid or /etc/subgid."""
    for line in Path(path).read_text().splitlines():
        parts = line.split(":")
        if len(parts) == 3 and parts[0] in (name, str(uid)):
            return int(parts[1]), int(parts[2])
    return None


def _names(path: str) -> set[str]:
    try:
        return {line.split(":", 1)[0] for line in Path(path).read_text().splitlines()}
    except OSError:
        return set()


def _live_uid(pid: str) -> int | None:
    """The real uid of a live process; None for a zombie (our reaper's to reap)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return None
    if fields.get("State", "").split()[:1] == ["Z"]:
        return None
    return int(fields["Uid"].split()[0])


class ThrowawayUser:
    """A user made for one test module: a name, its ids and subordinate
    ranges, a home and an XDG_RUNTIME_DIR under `base`."""

    def __init__(self, base: Path):
        self.base = base
        self.name = f"pyrunc-p{uuid.uuid4().hex[:8]}"
        self.home = base / "home"
        self.xdg = base / "xdg"
        self.uid = self.gid = -1
        self.subuid: tuple[int, int] = (0, 0)
        self.subgid: tuple[int, int] = (0, 0)
        self.made = False
        self.scratch_before: set[str] = set()
        # the user's systemd manager's environment, when it runs (start_session)
        self.session: dict = {}

    def create(self) -> None:
        if shutil.which("useradd") is None:
            raise ClientError("useradd is not installed (Debian package passwd)")
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(self.home),
                        "--shell", "/usr/sbin/nologin", "--user-group", self.name],
                       check=True, capture_output=True)
        self.made = True
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.base.chmod(0o755)  # the user must reach its home and runtime dir
        if usersession.available():
            self.session = usersession.start(self.uid)
            self.xdg = Path(self.session["XDG_RUNTIME_DIR"])
        for d, mode in ((self.home, 0o700),) + (() if self.session else ((self.xdg, 0o700),)):
            d.mkdir(mode=mode)
            d.chmod(mode)
            os.chown(d, self.uid, self.gid)
        subuid = subid_range("/etc/subuid", self.name, self.uid)
        subgid = subid_range("/etc/subgid", self.name, self.uid)
        if subuid is None or subgid is None:
            raise ClientError(f"useradd gave {self.name} no subordinate ids: "
                              "is SUB_UID_COUNT 0 in /etc/login.defs?")
        self.subuid, self.subgid = subuid, subgid
        # a former user with the same uid may have left files: not ours
        self.scratch_before = set(self.host_files())

    def owns_uid(self, uid: int) -> bool:
        first, count = self.subuid
        return uid == self.uid or first <= uid < first + count

    def session_process(self, pid: int) -> bool:
        """The user's systemd manager or its bus (they run until stop_session)."""
        if not self.session:
            return False
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                where = f.read().strip().split("::", 1)[-1]
        except OSError:
            return False
        manager = f"/user.slice/user-{self.uid}.slice/user@{self.uid}.service/"
        return where.startswith(manager) and (where.endswith("/init.scope") or where.endswith("/dbus.service"))

    def stop_session(self) -> list[str]:
        left = usersession.stop(self.uid) if self.session else []
        self.session = {}
        return left

    def processes(self) -> list[tuple[int, str]]:
        """Live processes running as the user or one of its subordinate uids."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            uid = _live_uid(entry)
            if uid is None or not self.owns_uid(uid):
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                continue
            found.append((int(entry), cmd))
        return found

    def host_files(self) -> list[str]:
        """Entries of the user's (or its subordinate ids') in host-wide scratch
        dirs, but those there before the user was made."""
        found = []
        for d in HOST_SCRATCH:
            try:
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                try:
                    if (self.owns_uid(e.stat(follow_symlinks=False).st_uid)
                            and e.path not in self.scratch_before):
                        found.append(e.path)
                except OSError:
                    pass
        return found

    def remove(self) -> list[str]:
        """userdel, and what still names the user; the base dir goes too."""
        left = []
        if self.made:
            proc = subprocess.run(["userdel", self.name], capture_output=True, text=True)
            if proc.returncode != 0:
                left.append(f"userdel {self.name}: {proc.stderr.strip()}")
            for path in ("/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid"):
                if self.name in _names(path):
                    left.append(f"{path} still names {self.name}")
        shutil.rmtree(self.base, ignore_errors=True)
        return left


class RootlessPodman:
    """podman run by a throwaway user, `--runtime` the runtime under test."""

    def __init__(self, base: Path, runtime: str):
        self.user = ThrowawayUser(base)
        self.base = base
        self.runtime = runtime
        self.image = images.IMAGE_NAME
        # a 0666 tun node bound over /dev/net/tun for podman's processes (see _enter)
        self.tun: Path | None = None

    # --- set-up and tear-down -------------------------------------------------
    def setup(self) -> None:
        self.user.create()
        conf = self.user.home / ".config" / "containers"
        conf.mkdir(parents=True)
        name = os.path.basename(self.runtime)
        (conf / "containers.conf").write_text(
            "[containers]\n"
            'netns = "slirp4netns"\n'
            "[engine]\n"
            # no systemd, no user manager to ask for a cgroup: cgroupfs
            + ("" if self.user.session else 'cgroup_manager = "cgroupfs"\n') +
            'events_logger = "file"\n'
            # conmon passes --log-format=json --log only to runtimes named here
            f'runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "{name}"]\n')
        # vfs: plain directories in the home, nothing mounted to undo
        (conf / "storage.conf").write_text('[storage]\ndriver = "vfs"\n')
        for d in (self.user.home / ".config", conf):
            os.chown(d, self.user.uid, self.user.gid)
        for f in conf.iterdir():
            os.chown(f, self.user.uid, self.user.gid)
        if not self._tun_usable():
            self.tun = self.base / "tun"
            tun = os.stat(TUN)
            os.mknod(self.tun, stat.S_IFCHR | 0o666, tun.st_rdev)
            self.tun.chmod(0o666)  # past the umask
        layer = images.rootfs_tar(self.base / "rootfs.tar")
        layer.chmod(0o644)
        try:
            self.podman("import", "--change", 'CMD ["/bin/sh"]', str(layer), self.image)
        finally:
            layer.unlink()

    @staticmethod
    def _tun_usable() -> bool:
        """Can any user open /dev/net/tun (slirp4netns does, in the container's
        network namespace)? udev's rule makes it 0666; a host without udev
        leaves the kernel's 0600."""
        try:
            return os.stat(TUN).st_mode & 0o006 == 0o006
        except FileNotFoundError:
            return True  # no tun at all: slirp4netns says so itself

    def pause_pid(self) -> int | None:
        try:
            return int((self.user.xdg / "libpod" / "tmp" / "pause.pid").read_text())
        except (OSError, ValueError):
            return None

    def leftovers(self) -> list[str]:
        left = []
        out = self.podman("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}", check=False)
        left += [f"container {line}" for line in out.stdout.splitlines() if line.strip()]
        # conmon runs `podman container cleanup` after its container is gone:
        # what outlives a moment's grace is left behind (the pause process is
        # podman's, kept for the next command)
        pause = self.pause_pid()
        others: list[tuple[int, str]] = []
        for _ in range(50):
            others = [(pid, cmd) for pid, cmd in self.user.processes()
                      if pid != pause and not self.user.session_process(pid)]
            if not others:
                break
            time.sleep(0.1)
        left += [f"process {pid}: {cmd}" for pid, cmd in others]
        lock = self.shm_lock()
        left += [f"file {p}" for p in self.user.host_files() if p != lock]
        return left

    def shm_lock(self) -> str:
        """podman's lock file for the user's containers, kept for its next command"""
        return f"/dev/shm/libpod_rootless_lock_{self.user.uid}"

    def teardown(self) -> list[str]:
        """Remove everything; return what was left behind before the clean-up."""
        left = self.leftovers() if self.user.made else []
        if self.user.made:
            self.podman("rm", "--all", "--force", "--time", "0", check=False)
            left += self.user.stop_session()  # its manager kills what runs in it
            for pid, _ in self.user.processes():  # the pause process, and anything left
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for _ in range(50):
                OrphanReaper.reap(wait=0)  # the daemonized ones are our children
                if not self.user.processes():
                    break
                time.sleep(0.1)
            left += [f"process {pid} survived SIGKILL: {cmd}" for pid, cmd in self.user.processes()]
            for path in self.user.host_files():
                shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.unlink(path)
        return left + self.user.remove()

    # --- running podman ---------------------------------------------------------
    def _enter(self) -> None:
        """In the forked child, still root: a mount namespace of podman's own
        where /dev/net/tun is a 0666 node, when the host's is root's alone;
        then become the user. Every process podman starts (the pause process
        first, which keeps it for later commands) inherits it; the host's
        node and mounts stay as they are."""
        if self.tun is not None:
            from pyrunc.kernel import flags as kf
            from pyrunc.kernel import syscalls as k
            k.unshare(kf.CLONE_NEWNS)
            k.mount(None, "/", None, kf.MS_REC | kf.MS_PRIVATE)
            k.mount(str(self.tun), TUN, None, kf.MS_BIND)
        os.setgroups([])
        os.setresgid(self.user.gid, self.user.gid, self.user.gid)
        os.setresuid(self.user.uid, self.user.uid, self.user.uid)

    def env(self) -> dict:
        return {"HOME": str(self.user.home), "XDG_RUNTIME_DIR": str(self.user.xdg), "PATH": PATH,
                **self.user.session}

    def argv(self, *args) -> list[str]:
        return ["podman", "--runtime", self.runtime, *map(str, args)]

    def user_runs(self, argv, *, timeout=60, input=None) -> subprocess.CompletedProcess:
        """argv as the user, with podman's namespace set-up (_enter)."""
        return subprocess.run(argv, env=self.env(), cwd=self.user.home, preexec_fn=self._enter,
                              capture_output=True, text=True, timeout=timeout * SLOW, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)

    def podman(self, *args, check=True, timeout=60, input=None) -> subprocess.CompletedProcess:
        argv = self.argv(*args)
        proc = self.user_runs(argv, timeout=timeout, input=input)
        if check and proc.returncode != 0:
            raise ClientError(f"{self.user.name}: {' '.join(argv)} exited {proc.returncode}\n"
                              f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def run(self, *args, check=True, timeout=60) -> subprocess.CompletedProcess:
        return self.podman("run", *args, check=check, timeout=timeout)
