"""Drivers for the real clients in the e2e suite: podman (+ conmon) and a
private containerd, each confined to a directory the test owns.

Nothing host-global is configured: podman gets its containers.conf through
CONTAINERS_CONF and its storage, run and tmp dirs as global flags (podman
copies the flags, not the environment, into the `podman container cleanup`
exit command conmon runs, so flags are what reach every podman process);
containerd gets its own config, root, state, socket and opt dir. The runtime
under test is passed by absolute path (`podman --runtime`, `ctr run
--runc-binary`), and the clients' own traces of a run (/run/runc, pyrunc's
default root, /var/lib/containers/cache) are removed afterwards when the
test made them. `leftovers()` lists what a client left behind; the fixtures
assert it is empty.
"""
from __future__ import annotations

import errno
import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import termios
import time
import uuid
from pathlib import Path

from tests import support
from tests.e2e import images

# cgroups of the containers the e2e suite makes live below this parent (under
# the suite-wide test parent that the session fixture removes)
CGROUP_BASE = "/sys/fs/cgroup"

# default runtime roots the clients make the runtime use (podman passes no
# --root); removed after the suite when the suite made them and they are empty
DEFAULT_RUNTIME_ROOTS = ("/run/runc", "/run/pyrunc")
# the shims' sockets: always /run/containerd/s, whatever containerd's state dir
# and ctr's fifo dir for task stdio
CONTAINERD_HOST_TRACES = ("/run/containerd/s", "/run/containerd/fifo", "/run/containerd")
# c/image's blob-info cache for root: podman import/save writes it, no flag moves it
PODMAN_HOST_TRACES = ("/var/lib/containers/cache", "/var/lib/containers")


class ClientError(AssertionError):
    pass


# what every podman/containerd run calls (clients.md); tests that need more
# (exec, pause, resume, ps) ask for those verbs themselves
CORE_VERBS = ("create", "start", "kill", "delete", "state")


def runtime_lacks(runtime: str, verbs=CORE_VERBS) -> str | None:
    """Why the runtime under test cannot serve the clients yet, or None.

    The e2e suite fails with this reason (never skips: a pyrunc that lost a
    verb is a regression): `--version` must say `NAME version` and `VERB
    --help` must succeed, as runc's do.
    """
    name = os.path.basename(runtime)
    try:
        version = subprocess.run([runtime, "--version"], capture_output=True, text=True,
                                 timeout=30, stdin=subprocess.DEVNULL)
    except OSError as exc:
        return f"{runtime}: {exc.strerror}"
    if not version.stdout.startswith(f"{name} version "):
        return f"{runtime} --version does not print '{name} version ...'"
    for verb in verbs:
        probe = subprocess.run([runtime, verb, "--help"], capture_output=True, timeout=30,
                               stdin=subprocess.DEVNULL)
        if probe.returncode != 0:
            return f"{runtime} has no '{verb}' command yet"
    return None


def _check(proc: subprocess.CompletedProcess, argv: list[str]) -> None:
    if proc.returncode != 0:
        raise ClientError(f"{' '.join(argv)} exited {proc.returncode}\n"
                          f"stdout: {proc.stdout}\nstderr: {proc.stderr}")


def run_in_pty(argv: list[str], *, env: dict | None = None, timeout: float = 30,
               cwd: str | None = None) -> tuple[int, str]:
    """Run argv with a fresh pty as its controlling terminal and stdio.

    Returns (exit status, everything written to the terminal). `-t` clients
    check that their stdin is a terminal and size the container's pty from it.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def become_tty_leader():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd,
                            preexec_fn=become_tty_leader, close_fds=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                proc.kill()
                raise ClientError(f"{' '.join(argv)}: no exit in {timeout}s; output {bytes(out)!r}")
            ready, _, _ = select.select([master], [], [], min(left, 0.2))
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError as exc:  # EIO: every slave fd is closed
                    if exc.errno != errno.EIO:
                        raise
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break  # the client is gone and nothing more is buffered
        rc = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the container's pty and ours both turn \n into \r\n
    return rc, out.decode(errors="replace").replace("\r", "")


def settle(base, seconds=5.0):
    """Wait up to `seconds` for the processes that mention `base` to exit."""
    for _ in range(int(seconds * 10)):
        if not pids_mentioning(str(base)):
            return
        time.sleep(0.1)


def pids_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes whose command line mentions `text` (our private dirs)."""
    hits = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            hits.append((int(entry), cmd.strip()))
    return hits


def mounts_under(path: Path) -> list[str]:
    prefix = str(path)
    return [line for line in support.host_mounts().splitlines()
            if line.split()[4] == prefix or line.split()[4].startswith(prefix + "/")]


def cgroup_mount_points() -> set[str]:
    points = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            if right.split()[:1] in (["cgroup"], ["cgroup2"]):
                points.add(left.split()[4])
    return points


def _remove_plain_tree(ctrl_dir: str, top: str) -> None:
    """podman (cgroupfs manager, v1) MkdirAll's its conmon cgroup in every
    controller it knows, also where the host mounts none (hugetlb, net_cls,
    perf_event... here): on the /sys/fs/cgroup tmpfs that makes plain
    directories, with plain files in them. Ours to remove, with the parents
    it made once they are empty (never a mount point: rmdir of a non-empty or
    mounted directory fails)."""
    shutil.rmtree(top, ignore_errors=True)
    d = os.path.dirname(top)
    while len(d) >= len(ctrl_dir):
        try:
            os.rmdir(d)
        except OSError:
            break
        d = os.path.dirname(d)


def remove_cgroup_tree(rel: str) -> list[str]:
    """rmdir `rel` in every hierarchy, deepest first; returns what would not go."""
    stuck: list[str] = []
    if not os.path.isdir(CGROUP_BASE):
        return stuck
    mounted = cgroup_mount_points()
    for ctrl in sorted(os.listdir(CGROUP_BASE)):
        top = os.path.join(CGROUP_BASE, ctrl, rel.lstrip("/"))
        if not os.path.isdir(top):
            continue
        if os.path.join(CGROUP_BASE, ctrl) not in mounted:
            _remove_plain_tree(os.path.join(CGROUP_BASE, ctrl), top)
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            for attempt in range(50):  # a cgroup empties a moment after its last task dies
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if exc.errno != errno.EBUSY or attempt == 49:
                        stuck.append(f"{dirpath}: {exc.strerror}")
                        break
                    time.sleep(0.1)
    return stuck


def stop_slice(unit: str) -> list[str]:
    """What is still in a systemd slice a test's client used (its
    containers' scopes, and conmons', should be gone), then stop it: systemd
    removes its cgroups (and kills what is left, which is ours)."""
    path = subprocess.run(["systemctl", "show", "--property", "ControlGroup", "--value", unit],
                          capture_output=True, text=True).stdout.strip()
    stuck: list[str] = []
    top = os.path.join(CGROUP_BASE, path.lstrip("/")) if path else ""
    if top and os.path.isdir(top):
        for dirpath, dirnames, _ in os.walk(top):
            stuck += [f"{os.path.join(dirpath, d)}: still there" for d in dirnames if d.endswith(".scope")]
    subprocess.run(["systemctl", "stop", unit], capture_output=True)
    return stuck


class OrphanReaper:
    """Makes this process the subreaper for what the clients daemonize.

    conmon and the containerd shims double-fork and are adopted by PID 1; on
    a machine whose PID 1 does not reap, each one would stay as a zombie. As
    subreaper the test process adopts them instead and reaps them at the end.
    Only for the e2e modules: elsewhere a runtime's container init must not
    become our child.
    """

    PR_SET_CHILD_SUBREAPER = 36

    def __init__(self):
        import ctypes
        self._prctl = ctypes.CDLL(None, use_errno=True).prctl

    def __enter__(self):
        self._prctl(self.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        return self

    def __exit__(self, *exc):
        self._prctl(self.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
        self.reap()

    @staticmethod
    def reap(wait: float = 5.0) -> list[int]:
        """Reap adopted children that have exited; return those still alive."""
        me = os.getpid()
        deadline = time.monotonic() + wait
        while True:
            alive = []
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) != me:
                    continue
                if fields[0] == "Z":
                    try:
                        os.waitpid(int(entry), os.WNOHANG)
                    except ChildProcessError:
                        pass
                else:
                    alive.append(int(entry))
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.1)


class HostTraces:
    """Paths a client run creates outside our private dirs; removed if we made them.

    `caches` are directories where the runtime keeps files per container
    (pyrunc's config-verdict cache in its default root, which podman makes
    it use): the entries the run added are removed, and the directory too
    if the run made it."""

    def __init__(self, paths, caches=()):
        self.absent = [p for p in paths if not os.path.lexists(p)]
        self.caches = {c: set(os.listdir(c)) if os.path.isdir(c) else None for c in caches}

    def remove(self) -> None:
        for cache, before in self.caches.items():
            if not os.path.isdir(cache):
                continue
            for name in set(os.listdir(cache)) - (before or set()):
                path = os.path.join(cache, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
            if before is None:
                try:
                    os.rmdir(cache)
                except OSError:
                    pass
        for p in self.absent:
            if p == "/var/lib/containers/cache":
                shutil.rmtree(p, ignore_errors=True)
            else:
                try:
                    os.rmdir(p)  # only if empty: never someone else's data
                except OSError:
                    pass


class Podman:
    """podman with a private containers.conf, storage, run and tmp dirs."""

    def __init__(self, base: Path, runtime: str):
        self.base = base
        self.runtime = runtime
        self.image = images.IMAGE_NAME
        # configured as on a stock host: where systemd is PID 1 podman's
        # default cgroup manager is systemd's (the runtime gets
        # --systemd-cgroup and "slice:libpod:ID" cgroup paths), cgroupfs elsewhere
        self.cgroup_manager = "systemd" if os.path.isdir("/run/systemd/system") else "cgroupfs"
        # one cgroup parent for everything this instance runs (conmon included):
        # with systemd a slice of its own ('-' would nest it in another slice)
        tag = uuid.uuid4().hex[:8]
        self.cgroup_parent = (f"pyrunc_test_podman_e2e_{tag}.slice" if self.cgroup_manager == "systemd"
                              else f"/{support.TEST_CGROUP_PARENT}/podman-e2e-{tag}")
        self.conf = base / "containers.conf"
        self.env = dict(os.environ, CONTAINERS_CONF=str(self.conf))
        self.traces = HostTraces([*DEFAULT_RUNTIME_ROOTS, *PODMAN_HOST_TRACES],
                                 caches=[os.path.join(r, ".cache") for r in DEFAULT_RUNTIME_ROOTS])

    # --- set-up and tear-down -------------------------------------------------
    def setup(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        name = os.path.basename(self.runtime)
        self.conf.write_text(
            "[containers]\n"
            # root here lacks CAP_SYS_RESOURCE: podman's default 1048576
            # nofile/nproc cannot be set (clients.md)
            'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
            # never the default bridge: it adds NAT rules and ip_forward on the host
            'netns = "none"\n'
            "[engine]\n"
            f'cgroup_manager = "{self.cgroup_manager}"\n'
            'events_logger = "file"\n'
            # conmon passes --log-format=json --log only to runtimes named here
            f'runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "{name}"]\n')
        layer = images.rootfs_tar(self.base / "rootfs.tar")
        self.podman("import", "--change", 'CMD ["/bin/sh"]', str(layer), self.image)
        layer.unlink()

    def leftovers(self) -> list[str]:
        left = []
        out = self.podman("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}", check=False)
        left += [f"container {line}" for line in out.stdout.splitlines() if line.strip()]
        # `podman rm --force` returns before the container's conmon has run its
        # exit command (`podman container cleanup`): a removed container's pair
        # may live on for a moment; only what outlives the grace is left behind
        settle(self.base)
        left += [f"process {pid}: {cmd}" for pid, cmd in pids_mentioning(str(self.base))]
        left += [f"mount {m}" for m in mounts_under(self.base)]
        return left

    def teardown(self) -> list[str]:
        """Remove everything; return what was left behind before the clean-up."""
        left = self.leftovers()
        self.podman("rm", "--all", "--force", "--time", "0", check=False)
        self.podman("rmi", "--all", "--force", check=False)
        settle(self.base)  # conmon exits right after its container; give it a moment
        late = [f"process {pid}: {cmd}" for pid, cmd in pids_mentioning(str(self.base))]
        late += [f"mount {m}" for m in mounts_under(self.base)]
        if self.cgroup_manager == "systemd":
            stuck = stop_slice(self.cgroup_parent)
        else:
            stuck = remove_cgroup_tree(self.cgroup_parent)
        if not late:  # never rm -rf a tree that still has something mounted in it
            shutil.rmtree(self.base, ignore_errors=True)
        self.traces.remove()
        return left + late + [f"cgroup {c}" for c in stuck]

    # --- running podman ---------------------------------------------------------
    def argv(self, *args) -> list[str]:
        return ["podman",
                "--root", str(self.base / "root"),
                "--runroot", str(self.base / "runroot"),
                "--tmpdir", str(self.base / "tmp"),
                "--volumepath", str(self.base / "volumes"),
                "--network-config-dir", str(self.base / "networks"),
                "--storage-driver", "overlay",
                # no bind mount of the storage home onto itself: nothing to unmount later
                "--storage-opt", "overlay.skip_mount_home=true",
                "--cgroup-manager", self.cgroup_manager,
                "--events-backend", "file",
                "--runtime", self.runtime,
                *map(str, args)]

    def podman(self, *args, check=True, timeout=60, input=None, env=None) -> subprocess.CompletedProcess:
        argv = self.argv(*args)
        proc = subprocess.run(argv, env=env or self.env, capture_output=True, text=True,
                              timeout=timeout, input=input,
                              stdin=None if input is not None else subprocess.DEVNULL)
        if check:
            _check(proc, argv)
        return proc

    def container_flags(self) -> list[str]:
        """Flags for every run/create: no network, our cgroup parent."""
        return ["--network", "none", "--cgroup-parent", self.cgroup_parent]

    def run(self, *args, check=True, timeout=60, **kw) -> subprocess.CompletedProcess:
        """`podman run` with the per-container flags; args are options, IMG is added by the caller."""
        return self.podman("run", *self.container_flags(), *args, check=check, timeout=timeout, **kw)

    def run_pty(self, *args, timeout=60) -> tuple[int, str]:
        return run_in_pty(self.argv(*args), env=self.env, timeout=timeout)


def containerd_config(base: Path, socket: Path, *, top: str = "", plugins: str = "") -> str:
    """A containerd config.toml confined to `base`: own root, state and gRPC
    socket, no ttrpc/debug/metrics listeners, and the opt dir in base (the
    default would create /opt/containerd on the host). `top` adds top-level
    keys, `plugins` more tables."""
    return ("version = 2\n"
            f'root = "{base / "root"}"\n'
            f'state = "{base / "state"}"\n'
            + top +
            "[grpc]\n"
            f'  address = "{socket}"\n'
            "[ttrpc]\n"
            '  address = ""\n'
            "[debug]\n"
            '  address = ""\n'
            "[metrics]\n"
            '  address = ""\n'
            '[plugins."io.containerd.internal.v1.opt"]\n'
            f'  path = "{base / "opt"}"\n'
            + plugins)


def log_tail(path: Path, n: int = 30) -> str:
    """The last n lines of a daemon's log, for an error message."""
    try:
        return "\n".join(path.read_text().splitlines()[-n:])
    except OSError:
        return ""


def stop_daemon(proc: subprocess.Popen, name: str, timeout: float = 15) -> list[str]:
    """SIGTERM (a daemon's clean shutdown) to a process we started, by its
    pid; SIGKILL if it does not exit in time. Returns what went wrong."""
    if proc.poll() is not None:
        return []
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
        return []
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return [f"{name} ignored SIGTERM"]


class Containerd:
    """A private containerd (own root, state, socket; CRI off) and ctr against it."""

    def __init__(self, base: Path, runtime: str):
        self.base = base
        self.runtime = runtime
        self.namespace = f"pyrunc-e2e-{uuid.uuid4().hex[:8]}"
        self.socket = base / "containerd.sock"
        self.runc_root = base / "runtime-root"
        self.image = images.IMAGE_NAME
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.traces = HostTraces(CONTAINERD_HOST_TRACES)

    def setup(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        config = self.base / "config.toml"
        config.write_text(containerd_config(
            self.base, self.socket, top='disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'))
        self._log = open(self.base / "containerd.log", "wb")
        self.proc = subprocess.Popen(["containerd", "--config", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise ClientError(f"containerd exited {self.proc.returncode}:\n{self.log_tail()}")
            if self.socket.exists() and self.ctr("version", check=False, timeout=5).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise ClientError(f"containerd did not come up:\n{self.log_tail()}")
            time.sleep(0.05)
        layer = images.rootfs_tar(self.base / "rootfs.tar")
        archive = images.oci_archive(self.base / "image.tar", layer)
        self.ctr("images", "import", str(archive))
        layer.unlink()
        archive.unlink()

    def log_tail(self, n: int = 30) -> str:
        return log_tail(self.base / "containerd.log", n)

    def leftovers(self) -> list[str]:
        left = []
        for what in ("tasks", "containers"):
            out = self.ctr(what, "ls", "-q", check=False)
            left += [f"{what[:-1]} {line}" for line in out.stdout.splitlines() if line.strip()]
        # shims carry our socket path in their argv; containers sit in the namespace's cgroups
        left += [f"process {pid}: {cmd}" for pid, cmd in pids_mentioning(str(self.base))
                 if self.proc is None or pid != self.proc.pid]
        left += [f"mount {m}" for m in mounts_under(self.base)]
        return left

    def teardown(self) -> list[str]:
        left = self.leftovers() if self.proc and self.proc.poll() is None else []
        if self.proc and self.proc.poll() is None:
            for line in self.ctr("tasks", "ls", "-q", check=False).stdout.split():
                self.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", line, check=False)
                self.ctr("tasks", "delete", "--force", line, check=False)
            for line in self.ctr("containers", "ls", "-q", check=False).stdout.split():
                self.ctr("containers", "delete", line, check=False)
            self.ctr("images", "rm", self.image, check=False)
            left += stop_daemon(self.proc, "containerd")
        if self._log:
            self._log.close()
        late = [f"process {pid}: {cmd}" for pid, cmd in pids_mentioning(str(self.base))]
        late += [f"mount {m}" for m in mounts_under(self.base)]
        stuck = remove_cgroup_tree(self.namespace)  # cgroupsPath is /<ns>/<id>
        if not late:
            shutil.rmtree(self.base, ignore_errors=True)
        self.traces.remove()
        return left + late + [f"cgroup {c}" for c in stuck]

    def ctr(self, *args, check=True, timeout=60) -> subprocess.CompletedProcess:
        argv = ["ctr", "--address", str(self.socket), "--namespace", self.namespace, *map(str, args)]
        # ctr run never closes a piped stdin: always /dev/null (clients.md)
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
        if check:
            _check(proc, argv)
        return proc

    def run_flags(self) -> list[str]:
        """`ctr run` options that choose the runtime under test (later task calls reuse them)."""
        return ["--runc-binary", self.runtime, "--runc-root", str(self.runc_root)]
