"""The in-container probe of the lifecycle conformance suite.

A test describes what it wants to see from inside the container as named
shell snippets; `probe()` runs them all in ONE busybox container (one `run`,
so the suite stays fast) and returns each snippet's output by name. Parsers
for what the kernel shows there (/proc/self/status, /proc/self/mountinfo,
`ls -l /dev`, /proc/self/ns/*) turn it into data to assert on. The same
helpers drive runc (PYRUNC_TEST_RUNTIME=runc): nothing here knows which
runtime it runs.

Every container a test makes carries a unique environment marker, so
`leftovers()` can find its processes on the host afterwards.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests import support

MARK_VAR = "PYRUNC_TEST_MARK"
_SECTION = "@@probe@@ "


# -- configs -------------------------------------------------------------------

def prepare(bundle: support.Bundle, cid: str, args=None) -> dict:
    """Point the bundle's config at the test cgroup parent and tag it with a
    marker for `cid`; returns the config dict to tweak before `bundle.write()`."""
    cfg = bundle.config
    cfg.setdefault("linux", {})["cgroupsPath"] = support.cgroup_path_for(cid)
    env = [e for e in cfg["process"].get("env", []) if not e.startswith(MARK_VAR + "=")]
    env.append(f"{MARK_VAR}={marker(cid)}")
    cfg["process"]["env"] = env
    if args is not None:
        cfg["process"]["args"] = list(args)
    return cfg


def marker(cid: str) -> str:
    return f"mark-{cid}"


def namespace_types(cfg: dict) -> list[str]:
    return [ns["type"] for ns in cfg.get("linux", {}).get("namespaces", [])]


def set_namespace(cfg: dict, kind: str, path: str | None = None) -> None:
    nss = [ns for ns in cfg["linux"].setdefault("namespaces", []) if ns["type"] != kind]
    nss.append({"type": kind, **({"path": path} if path else {})})
    cfg["linux"]["namespaces"] = nss


def drop_namespace(cfg: dict, kind: str) -> None:
    cfg["linux"]["namespaces"] = [ns for ns in cfg["linux"].get("namespaces", []) if ns["type"] != kind]


def user_namespace(runtime: support.Runtime, bundle: support.Bundle, host_id: int = 100000) -> None:
    """A new user namespace mapping the container's ids 0-65535 to `host_id`
    on. Those ids must reach the bundle and state dirs (pytest's tmp dirs
    are 0700): every parent up to /tmp gets search permission for others."""
    for target in (bundle.rootfs / "x", runtime.root / "x"):
        os.makedirs(target.parent, exist_ok=True)
        p = os.path.dirname(os.path.abspath(target))
        while p not in ("/", "/tmp"):
            mode = os.stat(p).st_mode
            if not mode & 0o001:
                os.chmod(p, (mode & 0o7777) | 0o011)
            p = os.path.dirname(p)
    cfg = bundle.config
    set_namespace(cfg, "user")
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": host_id, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": host_id, "size": 65536}]


# -- running -------------------------------------------------------------------

def script(checks: dict[str, str]) -> str:
    """One shell script printing each check's output under its own header."""
    parts = []
    for name, cmd in checks.items():
        parts.append(f"echo '{_SECTION}{name}'; {cmd} 2>&1")
    return "; ".join(parts)


def sections(stdout: str) -> dict[str, str]:
    out: dict[str, list[str]] = {}
    current = None
    for line in stdout.splitlines():
        if line.startswith(_SECTION):
            current = line[len(_SECTION):]
            out[current] = []
        elif current is not None:
            out[current].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def run(runtime: support.Runtime, bundle: support.Bundle, cid: str | None = None, args=None,
        extra=(), **kw) -> subprocess.CompletedProcess:
    """`run` the bundle in the foreground (config written first)."""
    cid = cid or support.unique_id("p")
    prepare(bundle, cid, args)
    bundle.write()
    kw.setdefault("env", runtime_env(("run", cid)))
    return runtime.run("run", "-b", bundle.path, *extra, cid, **kw)


@contextlib.contextmanager
def running(runtime: support.Runtime, bundle: support.Bundle, prefix: str):
    """A container of the bundle running `sleep` (run -d) for the body to
    exec into; yields its id, force-deleted afterwards."""
    cid = support.unique_id(prefix)
    prepare(bundle, cid, ["sleep", "1000"])
    bundle.write()
    call(runtime, "run", "-d", "-b", bundle.path, cid, check=True)
    try:
        yield cid
    finally:
        runtime.run("delete", "--force", cid)


def create_error(runtime: support.Runtime, bundle: support.Bundle, prefix: str) -> str:
    """`create` of the bundle (running `true`) must fail with one error line
    and leave nothing behind: returns that line."""
    cid = support.unique_id(prefix)
    prepare(bundle, cid, ["true"])
    bundle.write()
    proc = call(runtime, "create", "-b", bundle.path, cid)
    assert proc.returncode != 0
    lines = error_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert_no_leftovers(runtime, cid, bundle.path)
    return lines[0]


def runtime_env(args) -> dict:
    """The runtime's environment, marked for the container that create/run
    makes: its processes carry our environment until they execve the
    container's (so leftovers of a failed create are found too)."""
    env = dict(os.environ)
    if args and str(args[0]) in ("create", "run"):
        env[MARK_VAR] = marker(str(args[-1]))
    return env


def cgroup_procs(cid: str) -> list[int]:
    """Pids in the container's pids cgroup, as the host sees them."""
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")  # one tree
    for d in support.cgroup_dirs_named(cid):
        if v2 or "/pids/" in d:
            with open(os.path.join(d, "cgroup.procs")) as f:
                return sorted(int(x) for x in f.read().split())
    return []


def probe(runtime: support.Runtime, bundle: support.Bundle, checks: dict[str, str],
          cid: str | None = None, extra=()) -> dict[str, str]:
    """Run every check in one container; fail with its stderr if it fails."""
    proc = run(runtime, bundle, cid, ["sh", "-c", script(checks)], extra)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    got = sections(proc.stdout)
    missing = set(checks) - set(got)
    assert not missing, f"probe sections missing: {missing}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return got


def call(runtime: support.Runtime, *args, check=False, timeout=60, fd3=None) -> subprocess.CompletedProcess:
    """The runtime with stdout/stderr in files, not pipes: a container that
    outlives the command (create, run -d) inherits them, and a pipe would
    keep the reader waiting until the container exits."""
    import tempfile
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        argv = runtime.argv(*args)
        if fd3 is not None:
            argv = ["sh", "-c", 'exec 3<"$0"; exec "$@"', str(fd3), *argv]
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                              timeout=timeout, env=runtime_env(args))
        out.seek(0)
        err.seek(0)
        proc.stdout = out.read().decode(errors="replace")
        proc.stderr = err.read().decode(errors="replace")
    support.assert_no_traceback(proc.stderr)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {proc.returncode}\n"
                             f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def error_lines(stderr: str) -> list[str]:
    """stderr without the runtime's warnings (pyrunc's or runc's logrus ones)."""
    return [l for l in stderr.splitlines()
            if l.strip() and not re.match(r"^\S+: warning: ", l) and "level=warning" not in l]


def wait_for(predicate, timeout=10.0, what="condition"):
    """Poll (no fixed sleeps): returns predicate()'s truthy value or fails."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def wait_status(runtime: support.Runtime, cid: str, status: str, timeout=10.0) -> dict:
    return wait_for(lambda: (s := runtime.state(cid))["status"] == status and s,
                    timeout, f"{cid} to be {status}")


def messages(stderr: str) -> str:
    """stderr with runc's logrus lines (`time=.. level=error msg="..."`) reduced
    to their unescaped msg, so one expected text fits both runtimes."""
    out = []
    for line in stderr.splitlines():
        m = re.search(r'level=\w+ msg=("(?:[^"\\]|\\.)*")', line)
        out.append(json.loads(m.group(1)) if m else line)
    return "\n".join(out)


def stderr_says(proc: subprocess.CompletedProcess, text: str) -> None:
    assert proc.returncode != 0, f"expected a failure, got exit 0\nstdout: {proc.stdout}"
    assert text in messages(proc.stderr), f"{text!r} not in stderr: {proc.stderr!r}"


def exists_message(cid: str) -> str:
    # runc >= 1.2 and pyrunc: "container with id exists: ID"; runc 1.1.5 words it differently
    return "container with given ID already exists" if support.is_runc() else f"container with id exists: {cid}"


# -- leftovers -----------------------------------------------------------------

def leftovers(runtime: support.Runtime, cid: str, bundle_path: Path | str | None = None) -> list[str]:
    """Everything a container may leave behind on the host, as readable strings."""
    found = []
    if (Path(runtime.root) / cid).exists():
        found.append(f"state dir {Path(runtime.root) / cid}")
    found += [f"cgroup {d}" for d in support.cgroup_dirs_named(cid)]
    if bundle_path is not None:
        found += [f"mount {line}" for line in support.host_mounts().splitlines()
                  if str(bundle_path) in line]
    found += [f"process {pid}" for pid in support.live_pids_with_env(marker(cid))]
    return found


def assert_no_leftovers(runtime, cid, bundle_path=None, timeout=5.0):
    # a killed process may need a moment to be reaped by its reaper
    try:
        wait_for(lambda: not leftovers(runtime, cid, bundle_path), timeout, "no leftovers")
    except AssertionError:
        raise AssertionError(f"leftovers of {cid}: {leftovers(runtime, cid, bundle_path)}") from None


# -- parsers -------------------------------------------------------------------

def parse_status(text: str) -> dict[str, str]:
    """/proc/<pid>/status -> {field: value}."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def status_ids(value: str) -> list[int]:
    return [int(x) for x in value.split()]


@dataclass
class Mount:
    mount_id: int
    parent_id: int
    dev: str
    root: str
    point: str
    options: set = field(default_factory=set)
    optional: list = field(default_factory=list)
    fstype: str = ""
    source: str = ""
    super_options: set = field(default_factory=set)

    def propagation(self) -> str:
        tags = [o.split(":")[0] for o in self.optional]
        if "shared" in tags:
            return "shared"
        if "master" in tags:
            return "slave"
        if "unbindable" in tags:
            return "unbindable"
        return "private"


def _unescape(s: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        if " - " not in line:
            continue
        left, right = line.split(" - ", 1)
        f = left.split()
        r = right.split()
        if len(f) < 6 or len(r) < 2:
            continue
        mounts.append(Mount(int(f[0]), int(f[1]), f[2], _unescape(f[3]), _unescape(f[4]),
                            set(f[5].split(",")), f[6:], r[0], _unescape(r[1]),
                            set(r[2].split(",")) if len(r) > 2 else set()))
    return mounts


def mount_at(mounts: list[Mount], point: str) -> Mount | None:
    """The topmost mount at `point` (the last one listed)."""
    hits = [m for m in mounts if m.point == point]
    return hits[-1] if hits else None


def parse_ls_dev(text: str) -> dict[str, dict]:
    """`ls -l /dev` (busybox) -> {name: {"mode": "crw-rw-rw-", "dev": (1, 3) | None, "link": target}}."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 9 or not parts[0][0] in "-dlcbps":
            continue
        mode = parts[0]
        entry = {"mode": mode, "dev": None, "link": None}
        if mode[0] in "cb":
            # crw-rw-rw-  1 root root  1,   3 Nov 28 20:35 null
            m = re.search(r"(\d+),\s*(\d+)\s+\S+\s+\d+\s+[\d:]+\s+(\S+)$", line)
            if not m:
                continue
            entry["dev"] = (int(m.group(1)), int(m.group(2)))
            name = m.group(3)
        elif mode[0] == "l":
            name, _, target = " ".join(parts[8:]).partition(" -> ")
            entry["link"] = target
        else:
            name = parts[-1]
        out[name] = entry
    return out


def parse_ns_links(text: str) -> dict[str, str]:
    """Output of `for n in ...; do echo $n $(readlink /proc/self/ns/$n); done`."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = parts[1]
    return out


NS_NAMES = ("cgroup", "ipc", "mnt", "net", "pid", "user", "uts", "time")
NS_SCRIPT = "for n in " + " ".join(NS_NAMES) + "; do echo $n $(readlink /proc/self/ns/$n); done"


def host_ns_links() -> dict[str, str]:
    out = {}
    for n in NS_NAMES:
        try:
            out[n] = os.readlink(f"/proc/self/ns/{n}")
        except OSError:
            pass
    return out


# -- a console-socket receiver (runc's protocol) -------------------------------

class ConsoleReceiver:
    """A unix socket server that takes the pty master sent with SCM_RIGHTS
    and collects everything the container writes to its terminal."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.name = None
        self.master = None
        self.output = b""
        self._got_master = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
            self.name = msg.decode(errors="replace")
            self.master = fds[0] if fds else None
            self._got_master.set()
            while self.master is not None:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: every slave fd is closed
                    break
                if not chunk:
                    break
                self.output += chunk
        finally:
            self._got_master.set()
            self._done.set()

    def write(self, data: bytes) -> None:
        assert self._got_master.wait(10), "no pty master received"
        os.write(self.master, data)

    def wait_output(self, timeout=10.0) -> str:
        assert self._done.wait(timeout), f"terminal output did not end: {self.output!r}"
        return self.output.decode(errors="replace")

    def close(self):
        self.sock.close()
        if self._done.is_set() and self.master is not None:
            try:
                os.close(self.master)
            except OSError:
                pass


# -- running the runtime with extra inherited fds -----------------------------

def run_with_fd3(runtime: support.Runtime, fd3_file: Path, *args) -> subprocess.CompletedProcess:
    """The runtime with `fd3_file` open on fd 3 (for --preserve-fds)."""
    return call(runtime, *args, fd3=fd3_file)


def run_in_pty(argv, timeout=30.0, env=None, size=None) -> tuple[int, str]:
    """Run argv with a new pty as its controlling terminal and stdio (as a
    user at a terminal would); returns (exit status, everything it printed)."""
    import fcntl
    import pty
    import select
    import termios
    master, slave = pty.openpty()
    if size:
        import struct
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))

    def take_ctty():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=take_ctty, env=env)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every slave end is closed
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None and not ready:
                # drained and exited (a leftover holder of the slave would keep us here)
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, out.decode(errors="replace")


def quote(args) -> str:
    return " ".join(shlex.quote(a) for a in args)


def load_json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
