"""`exec` and `features` driven the way podman/conmon and containerd's shim
call them (clients.md), against the runtime binary directly, so a failure
points at the runtime rather than at a client. Runs against runc too
(PYRUNC_TEST_RUNTIME=runc) to prove the tests.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests import support
from tests.e2e.clients import runtime_lacks

pytestmark = [pytest.mark.requires("root")]


@pytest.fixture(scope="module", autouse=True)
def _has_exec():
    why = runtime_lacks(support.runtime_binary(), ("create", "start", "delete", "exec"))
    if why:
        pytest.fail(why)  # a regression, never a skip


def run_to_file(runtime, tmp_path, *args, **kw) -> tuple[int, str]:
    """Run the runtime with stdout/stderr in a file, not a pipe.

    A container's init (create) or a detached exec'd process inherits the
    runtime's stdio: with pipes, reading them to EOF would wait for that
    process to exit."""
    out = tmp_path / f"out-{time.monotonic_ns()}.txt"
    with open(out, "w") as f:
        proc = runtime.run(*args, capture_output=False, stdout=f, stderr=subprocess.STDOUT, **kw)
    text = out.read_text()
    support.assert_no_traceback(text)
    return proc.returncode, text


@pytest.fixture
def running(runtime, bundle, tmp_path):
    """A started container whose init sleeps; deleted afterwards."""
    cid = support.unique_id("ex")
    cfg = bundle.config
    cfg["process"]["args"] = ["sleep", "1000"]
    cfg["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    bundle.write()
    rc, out = run_to_file(runtime, tmp_path, "create", "--bundle", bundle.path, cid)
    assert rc == 0, out
    try:
        runtime.run("start", cid, check=True)
        yield cid
    finally:
        runtime.run("delete", "--force", cid)


def _init_pid(runtime, cid) -> int:
    return runtime.state(cid)["pid"]


def _process_file(tmp_path, **fields) -> str:
    process = {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0},
               "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "terminal": False}
    process.update(fields)
    path = tmp_path / f"process-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(process))
    return str(path)


def test_exec_foreground_output_and_status(runtime, running):
    proc = runtime.run("exec", running, "sh", "-c", "echo out; echo err >&2; exit 4")
    assert proc.returncode == 4
    assert proc.stdout == "out\n"
    assert proc.stderr == "err\n"


def test_exec_joins_every_namespace_and_the_cgroup(runtime, running, tmp_path):
    pid_file = tmp_path / "exec.pid"
    rc, out = run_to_file(runtime, tmp_path, "exec", "--process",
                          _process_file(tmp_path, args=["sleep", "30"]),
                          "--detach", "--pid-file", pid_file, running)
    assert rc == 0, out
    pid = int(pid_file.read_text())
    init = _init_pid(runtime, running)
    try:
        for ns in ("pid", "net", "ipc", "uts", "mnt", "cgroup", "user", "time"):
            mine, theirs = (os.stat(f"/proc/{p}/ns/{ns}").st_ino for p in (pid, init))
            assert mine == theirs, ns
        with open(f"/proc/{pid}/cgroup") as a, open(f"/proc/{init}/cgroup") as b:
            assert a.read() == b.read()
        with open(f"/proc/{pid}/status") as f:
            nspid = [line.split()[1:] for line in f if line.startswith("NSpid:")][0]
        assert len(nspid) == 2 and int(nspid[1]) > 1  # inside the container's pid namespace
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass


def test_exec_process_file_fields(runtime, running, tmp_path):
    caps = ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
    path = _process_file(tmp_path, args=["sh", "-c", 'id -u; id -g; id -G; pwd; echo "$GREETING"; '
                                               'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; ulimit -n'],
                         cwd="/tmp", user={"uid": 1000, "gid": 1000, "additionalGids": [5]},
                         env=["PATH=/bin", "GREETING=hi there"], noNewPrivileges=True,
                         capabilities={"bounding": caps, "effective": caps, "permitted": caps},
                         rlimits=[{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 321}])
    proc = runtime.run("exec", "--process", path, running)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:5] == ["1000", "1000", "1000 5", "/tmp", "hi there"]
    fields = dict(line.split(":\t") for line in lines[5:7])
    assert int(fields["CapEff"], 16) == 0  # a non-root uid keeps no effective caps
    assert fields["NoNewPrivs"] == "1"
    assert lines[7] == "321"


def test_exec_flags(runtime, running):
    proc = runtime.run("exec", "--user", "1000:1000", "--cwd", "/tmp", "--env", "A=1", "--env", "B=2",
                       "--additional-gids", "7", running,
                       "sh", "-c", 'id -u; id -g; id -G; pwd; echo "$A$B"')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["1000", "1000", "1000 7", "/tmp", "12"]


def test_exec_inherits_container_rlimits_and_caps(runtime, running):
    # bundles/busybox/config.json: RLIMIT_NOFILE 1024, three capabilities
    proc = runtime.run("exec", running, "sh", "-c", "ulimit -n; grep ^CapBnd /proc/self/status")
    assert proc.returncode == 0, proc.stderr
    limit, capbnd = proc.stdout.splitlines()
    assert limit == "1024"
    want = (1 << 29) | (1 << 5) | (1 << 10)  # AUDIT_WRITE, KILL, NET_BIND_SERVICE
    assert int(capbnd.split()[1], 16) == want


@pytest.mark.parametrize("cmd, phrase", [
    ("no-such-command", "executable file not found in $PATH"),
    ("/no/such/file", "no such file or directory"),
])
def test_exec_missing_command_exits_255(runtime, running, cmd, phrase):
    proc = runtime.run("exec", running, cmd)
    assert proc.returncode == 255
    assert phrase in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_exec_failure_goes_to_json_log(runtime, running, tmp_path):
    log = tmp_path / "log.json"
    proc = runtime.run("exec", running, "/no/such/file",
                       global_args=("--log", str(log), "--log-format", "json"))
    assert proc.returncode == 255
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    errors = [r for r in records if r.get("level") == "error"]
    assert errors and "no such file or directory" in errors[-1]["msg"]


def test_exec_without_arguments_is_a_usage_error(runtime):
    """runc: `"exec" requires a minimum of 1 argument(s)`, exit 1, not 255."""
    proc = runtime.run("exec")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip(), "no message"


def test_exec_in_missing_container_exits_255(runtime):
    proc = runtime.run("exec", "no-such-container", "true")
    assert proc.returncode == 255
    assert "does not exist" in proc.stderr


def test_exec_in_stopped_container_fails(runtime, bundle, tmp_path):
    cid = support.unique_id("ex")
    bundle.config["process"]["args"] = ["true"]
    bundle.config["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    bundle.write()
    rc, out = run_to_file(runtime, tmp_path, "create", "--bundle", bundle.path, cid)
    assert rc == 0, out
    runtime.run("start", cid, check=True)
    try:
        deadline = time.monotonic() + 10
        while runtime.state(cid)["status"] != "stopped":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc = runtime.run("exec", cid, "true")
        assert proc.returncode == 255
        assert "stopped" in proc.stderr, proc.stderr
    finally:
        runtime.run("delete", "--force", cid)


def test_exec_preserve_fds(runtime, running):
    r, w = os.pipe()
    try:
        # the write end becomes fd 3 of the runtime (close_fds=False: subprocess
        # would close it after preexec_fn otherwise)
        proc = subprocess.run(runtime.argv("exec", "--preserve-fds", "1", running,
                                           "sh", "-c", "echo through-fd3 >&3"),
                              close_fds=False, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60,
                              preexec_fn=lambda: (os.dup2(w, 3), None)[1])
        os.close(w)
        w = -1
        assert proc.returncode == 0, proc.stderr
        assert os.read(r, 100) == b"through-fd3\n"
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_exec_does_not_leak_fds(runtime, running):
    proc = runtime.run("exec", running, "ls", "/proc/self/fd")
    assert proc.returncode == 0, proc.stderr
    assert sorted(int(x) for x in proc.stdout.split()) == [0, 1, 2, 3]  # 3: ls's own dir fd


def test_exec_starts_with_default_signal_dispositions(runtime, running):
    # Python ignores SIGPIPE/SIGXFSZ, and an ignored signal survives execve
    proc = runtime.run("exec", running, "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status")
    assert proc.returncode == 0, proc.stderr
    fields = dict(line.split(":\t") for line in proc.stdout.splitlines())
    assert int(fields["SigIgn"], 16) == 0, fields
    assert int(fields["SigBlk"], 16) == 0, fields


class ConsoleSocket:
    """A --console-socket listener that receives the pty master (runc's protocol)."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.master = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        self.sock.settimeout(30)
        conn, _ = self.sock.accept()
        with conn:
            _msg, fds, _flags, _addr = socket.recv_fds(conn, 1024, 1)
        self.master = fds[0]

    def read_all(self, timeout=10.0) -> str:
        self.thread.join(timeout)
        assert self.master is not None, "no pty master was received"
        out = b""
        deadline = time.monotonic() + timeout
        os.set_blocking(self.master, False)
        while time.monotonic() < deadline:
            try:
                chunk = os.read(self.master, 4096)
            except BlockingIOError:
                time.sleep(0.02)
                continue
            except OSError:  # EIO: the slave side is closed
                break
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace").replace("\r", "")

    def close(self):
        if self.master is not None:
            os.close(self.master)
        self.sock.close()


def test_exec_tty_over_console_socket(runtime, running, tmp_path):
    console = ConsoleSocket(tmp_path / "console.sock")
    try:
        # containerd's shape: terminal in the process JSON, no --tty
        path = _process_file(tmp_path, args=["sh", "-c", "tty; stty size; echo done"],
                             terminal=True, consoleSize={"height": 30, "width": 100})
        proc = runtime.run("exec", "--process", path, "--console-socket", console.path,
                           "--detach", "--pid-file", tmp_path / "t.pid", running)
        assert proc.returncode == 0, proc.stderr
        out = console.read_all()
    finally:
        console.close()
    lines = out.splitlines()
    assert lines[0].startswith("/dev/pts/"), out
    assert "30 100" in lines, out
    assert "done" in lines


def test_exec_tty_needs_console_socket_when_detached(runtime, running):
    proc = runtime.run("exec", "--tty", "--detach", running, "true")
    assert proc.returncode == 255
    assert "console socket" in proc.stderr


def test_features_document(runtime):
    why = runtime_lacks(runtime.binary, ("features",))
    if why:
        pytest.fail(why)
    proc = subprocess.run([runtime.binary, "features"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    import jsonschema
    schema = json.loads((support.REPO / "spec" / "features-schema.json").read_text())
    jsonschema.validate(doc, schema)
    assert doc["ociVersionMin"].startswith("1.0")
    linux = doc["linux"]
    # features.md: what the runtime recognizes, "irrelevant to the availability
    # of the features in the host" (tests/conformance/test_features.py runs them)
    assert set(linux["namespaces"]) <= {"cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"}
    assert {"mount", "pid", "network", "ipc", "uts", "user"} <= set(linux["namespaces"])
    assert "CAP_SYS_ADMIN" in linux["capabilities"]
    for lsm in ("apparmor", "selinux"):
        # the runtime can apply it (runc: true whatever the host runs)
        assert linux[lsm]["enabled"] is True, lsm


def test_exec_tty_foreground_proxies_the_pty(runtime, running):
    # no --console-socket and no --detach: the runtime itself relays the pty
    from tests.e2e.clients import run_in_pty
    rc, out = run_in_pty(runtime.argv("exec", "-t", running, "sh", "-c", "tty; exit 3"))
    assert rc == 3, out
    assert out.splitlines()[0].startswith("/dev/pts/"), out


def _host_cgroup_dirs(pid) -> dict[str, str]:
    """controller list -> host dir of `pid`'s cgroup in each hierarchy."""
    dirs = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, ctrls, path = line.rstrip("\n").split(":", 2)
            name = {"": "unified", "name=systemd": "systemd"}.get(ctrls, ctrls)
            if ctrls == "" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
                name = ""  # pure v2: the one hierarchy is /sys/fs/cgroup itself
            d = os.path.normpath(f"/sys/fs/cgroup/{name}{path}")
            if os.path.isdir(d):
                dirs[ctrls] = d
    return dirs


def test_exec_into_a_sub_cgroup(runtime, running):
    init = _init_pid(runtime, running)
    made = []
    try:
        for ctrls, d in _host_cgroup_dirs(init).items():
            os.mkdir(os.path.join(d, "sub"))
            made.append(os.path.join(d, "sub"))
        # v1: a sub-cgroup of one controller; v2 has one hierarchy and no
        # controller prefix (runc: "--cgroup sub")
        unified = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        which = "sub" if unified else "pids:sub"
        proc = runtime.run("exec", "--cgroup", which, running, "cat", "/proc/self/cgroup")
        assert proc.returncode == 0, proc.stderr
        lines = dict(line.split(":", 2)[1:] for line in proc.stdout.splitlines())
        if unified:
            assert lines[""].endswith("/sub"), proc.stdout
        else:
            assert lines["pids"].endswith("/sub"), proc.stdout
            assert not lines["memory"].endswith("/sub"), proc.stdout
        bad = runtime.run("exec", "--cgroup", "no-such-sub" if unified else "pids:no-such-sub", running, "true")
        assert bad.returncode == 255
    finally:
        for d in reversed(made):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except OSError:
                    time.sleep(0.05)


@pytest.mark.requires("userns")
def test_exec_joins_the_user_namespace():
    import shutil
    import tempfile
    # the container's root (host uid 100000) must traverse to its rootfs and
    # the exec fifo: pytest's tmp dirs are 0700, so use a 0711 dir of our own
    base = tempfile.mkdtemp(prefix="pyrunc-exu-", dir="/tmp")
    os.chmod(base, 0o711)
    runtime = support.Runtime(Path(base) / "root")
    bundle = support.Bundle(Path(base) / "bundle")
    os.chmod(bundle.path, 0o711)
    cid = support.unique_id("exu")
    cfg = bundle.config
    cfg["process"]["args"] = ["sleep", "1000"]
    cfg["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # a cgroup v1 mount is not allowed from a non-initial user namespace
    cfg["mounts"] = [m for m in cfg["mounts"] if m.get("type") != "cgroup"]
    bundle.write()
    try:
        rc, out = run_to_file(runtime, Path(base), "create", "--bundle", bundle.path, cid)
        assert rc == 0, out
        runtime.run("start", cid, check=True)
        proc = runtime.run("exec", cid, "sh", "-c",
                           "cat /proc/self/uid_map; id -u; echo $$")
        assert proc.returncode == 0, proc.stderr
        uid_map, uid, pid = proc.stdout.splitlines()
        assert uid_map.split() == ["0", "100000", "65536"]
        assert uid == "0"
        assert int(pid) > 1
    finally:
        runtime.run("delete", "--force", cid)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.requires("timens")
def test_exec_joins_the_time_namespace(runtime, bundle, tmp_path):
    if support.is_runc():
        pytest.skip("runc 1.1.5 has no time namespace support (added in runc 1.2)")
    cid = support.unique_id("ext")
    cfg = bundle.config
    cfg["process"]["args"] = ["sleep", "1000"]
    cfg["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    cfg["linux"]["namespaces"].append({"type": "time"})
    cfg["linux"]["timeOffsets"] = {"boottime": {"secs": 1_000_000}}
    bundle.write()
    rc, out = run_to_file(runtime, tmp_path, "create", "--bundle", bundle.path, cid)
    assert rc == 0, out
    try:
        runtime.run("start", cid, check=True)
        proc = runtime.run("exec", cid, "cat", "/proc/uptime")
        assert proc.returncode == 0, proc.stderr
        with open("/proc/uptime") as f:
            host_uptime = float(f.read().split()[0])
        assert float(proc.stdout.split()[0]) > host_uptime + 999_000
    finally:
        runtime.run("delete", "--force", cid)


def test_exec_in_created_container(runtime, bundle, tmp_path):
    # runc allows exec before start: the namespaces exist, the init waits
    cid = support.unique_id("exc")
    bundle.config["process"]["args"] = ["sleep", "1000"]
    bundle.config["linux"]["cgroupsPath"] = support.cgroup_path_for(cid)
    bundle.write()
    rc, out = run_to_file(runtime, tmp_path, "create", "--bundle", bundle.path, cid)
    assert rc == 0, out
    try:
        proc = runtime.run("exec", cid, "hostname")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == f"{bundle.config['hostname']}\n"
        assert runtime.state(cid)["status"] == "created"
    finally:
        runtime.run("delete", "--force", cid)


def test_exec_foreground_forwards_signals(runtime, running):
    proc = subprocess.Popen(runtime.argv("exec", running, "sh", "-c",
                                         'trap "echo got-term; exit 9" TERM; echo up; '
                                         'while :; do sleep 0.05; done'),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "up\n"
        proc.send_signal(15)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 9, err
        assert out == "got-term\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
