"""Conformance: the `process` fields and the host-level identity of the
container, seen from inside it (hostname, pid 1, id, umask, cwd, env,
rlimits, oom_score_adj), plus the terminal over --console-socket."""
from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")


def test_identity_seen_from_inside(runtime, bundle):
    cfg = bundle.config
    cfg["hostname"] = "probe-host"
    got = probe.probe(runtime, bundle, {
        "hostname": "hostname",
        "pid": "echo $$",
        "status": "cat /proc/1/status",
        "id": "id",
    })
    assert got["hostname"] == "probe-host"
    assert got["pid"] == "1"
    status = probe.parse_status(got["status"])
    assert status["NSpid"] == "1"  # the container's /proc: its own pid namespace
    assert status["PPid"] == "0"
    assert status["Uid"].split() == ["0"] * 4
    assert got["id"].startswith("uid=0(root) gid=0(root)")


def test_domainname(runtime, bundle):
    if support.is_runc():
        pytest.skip("runc 1.1.5 ignores `domainname` (added in runc 1.2)")
    bundle.config["domainname"] = "probe.example"
    got = probe.probe(runtime, bundle, {"domainname": "cat /proc/sys/kernel/domainname"})
    assert got["domainname"] == "probe.example"


def test_user_uid_gid_additional_gids_umask(runtime, bundle):
    cfg = bundle.config
    cfg["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 1002], "umask": 0o027}
    got = probe.probe(runtime, bundle, {"id": "id -u; id -g; id -G",
                                        "umask": "umask",
                                        "status": "cat /proc/self/status"})
    uid, gid, groups = got["id"].splitlines()
    assert (uid, gid) == ("1000", "1001")
    assert set(groups.split()) >= {"1001", "5", "1002"}
    assert got["umask"] == "0027"
    status = probe.parse_status(got["status"])
    assert probe.status_ids(status["Uid"]) == [1000] * 4
    assert probe.status_ids(status["Gid"]) == [1001] * 4
    assert set(probe.status_ids(status["Groups"])) == {5, 1002}


def test_cwd_env_args(runtime, bundle):
    cfg = bundle.config
    cfg["process"]["cwd"] = "/tmp/work dir"  # missing: the runtime creates it
    cfg["process"]["env"] += ["FOO=bar baz", "EMPTY="]
    bundle.config["root"]["readonly"] = False
    got = probe.probe(runtime, bundle, {"cwd": "pwd", "env": "env",
                                        "args": 'echo "$0|$1"'})
    assert got["cwd"] == "/tmp/work dir"
    env = dict(line.split("=", 1) for line in got["env"].splitlines() if "=" in line)
    assert env["FOO"] == "bar baz"
    assert env["EMPTY"] == ""
    assert env["PATH"].startswith("/usr/local/sbin")
    assert env["HOME"] == "/root"  # from the rootfs' /etc/passwd, like runc


def test_args_passed_verbatim(runtime, bundle):
    proc = probe.run(runtime, bundle, args=["sh", "-c", 'printf "%s|" "$@"', "zero", "a b", "", "*"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "a b||*|"


def test_rlimits(runtime, bundle):
    bundle.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 777, "hard": 888},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
    ]
    got = probe.probe(runtime, bundle, {"n": "ulimit -n", "limits": "cat /proc/self/limits"})
    assert got["n"] == "777"
    lines = {l[:26].strip(): l[26:].split() for l in got["limits"].splitlines()[1:]}
    assert lines["Max open files"][:2] == ["777", "888"]
    assert lines["Max processes"][:2] == ["300", "400"]
    assert lines["Max core file size"][:2] == ["0", "0"]


def test_rlimit_locks(runtime, bundle):
    """A type the spec lists but Python's resource module lacks (plan.RLIMITS
    once refused it after validation had accepted it)."""
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_LOCKS", "soft": 33, "hard": 44}]
    got = probe.probe(runtime, bundle, {"limits": "cat /proc/self/limits"})
    lines = {l[:26].strip(): l[26:].split() for l in got["limits"].splitlines()[1:]}
    assert lines["Max file locks"][:2] == ["33", "44"]


def test_oom_score_adj(runtime, bundle):
    # positive only: lowering it needs CAP_SYS_RESOURCE, which root lacks here
    bundle.config["process"]["oomScoreAdj"] = 512
    got = probe.probe(runtime, bundle, {"adj": "cat /proc/self/oom_score_adj"})
    assert got["adj"] == "512"


def test_exit_status_is_the_containers(runtime, bundle):
    proc = probe.run(runtime, bundle, args=["sh", "-c", "exit 3"])
    assert proc.returncode == 3, proc.stderr


def _foreground(runtime, bundle, cid, args):
    probe.prepare(bundle, cid, args)
    bundle.write()
    return subprocess.Popen(runtime.argv("run", "-b", bundle.path, cid), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_killed_by_signal_exits_128_plus_n(runtime, bundle):
    # PID 1 ignores signals from inside its namespace, even KILL: kill it from the host
    cid = support.unique_id("sig")
    proc = _foreground(runtime, bundle, cid, ["sleep", "1000"])
    pids = probe.wait_for(lambda: support.live_pids_with_env(probe.marker(cid)), what="container")
    os.kill(pids[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=30)
    support.assert_no_traceback(err)
    assert proc.returncode == 128 + 9, err
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_foreground_run_forwards_signals(runtime, bundle):
    cid = support.unique_id("fwd")
    proc = _foreground(runtime, bundle, cid, ["sh", "-c", "trap 'exit 42' TERM; echo ready; "
                                              "while true; do sleep 1 & wait $!; done"])
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    support.assert_no_traceback(err)
    assert proc.returncode == 42, err
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_stdio_passes_through(runtime, bundle):
    proc = probe.run(runtime, bundle, args=["sh", "-c", "read x; echo out:$x; echo err:$x >&2"],
                     input="hello\n", stdin=None)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "out:hello\n"
    assert "err:hello" in proc.stderr


# -- terminal --------------------------------------------------------------------

def _terminal_bundle(bundle, cid, script, size=None):
    cfg = probe.prepare(bundle, cid, ["sh", "-c", script])
    cfg["process"]["terminal"] = True
    if size:
        cfg["process"]["consoleSize"] = size
    bundle.write()


def test_terminal_over_console_socket(runtime, bundle, tmp_path):
    cid = support.unique_id("tty")
    _terminal_bundle(bundle, cid, "tty; stty size; test -t 0 && test -t 1 && test -t 2 && echo ALLTTY;"
                     " ls -l /dev/console; read line; echo got:$line",
                     size={"height": 33, "width": 101})
    recv = probe.ConsoleReceiver(tmp_path / "console.sock")
    try:
        runtime.run("create", "-b", bundle.path, "--console-socket", recv.path, cid, check=True)
        runtime.run("start", cid, check=True)
        # only once the script waits in `read`: the tty echoes what we write,
        # and an echo landing inside one of its lines ("ALLTTYping") hides it
        probe.wait_for(lambda: b"/dev/console" in recv.output, timeout=30, what="the script to reach `read`")
        recv.write(b"ping\n")
        out = recv.wait_output()
        probe.wait_status(runtime, cid, "stopped")
    finally:
        runtime.run("delete", "--force", cid)
        recv.close()
    lines = [l.strip() for l in out.replace("\r", "").splitlines()]
    # look, do not index: the echo of what we wrote is among the lines
    assert any(l.startswith("/dev/pts/") for l in lines), out
    assert "33 101" in lines, out
    assert "ALLTTY" in lines, out
    console = next(l for l in lines if l.endswith("/dev/console"))
    assert console.startswith("c"), console  # the pty slave, a char device
    assert "got:ping" in lines, out
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_terminal_run_detached_with_console_socket(runtime, bundle, tmp_path):
    cid = support.unique_id("ttyd")
    _terminal_bundle(bundle, cid, "echo hello-from-tty")
    recv = probe.ConsoleReceiver(tmp_path / "c.sock")
    try:
        runtime.run("run", "-d", "-b", bundle.path, "--console-socket=" + recv.path, cid, check=True)
        out = recv.wait_output()
        probe.wait_status(runtime, cid, "stopped")
        runtime.run("delete", cid, check=True)
    finally:
        runtime.run("delete", "--force", cid)
        recv.close()
    assert "hello-from-tty" in out


def test_terminal_run_without_console_socket(runtime, bundle):
    """Foreground `run` with process.terminal and no --console-socket: the
    runtime is the console, between its own terminal and the container's pty
    (runc 1.1.5 needs a controlling terminal for this, and sizes the pty from
    it, so ours has the consoleSize too)."""
    cid = support.unique_id("ttyfg")
    _terminal_bundle(bundle, cid, "tty; stty size; exit 7", size={"height": 21, "width": 77})
    code, out = probe.run_in_pty(runtime.argv("run", "-b", bundle.path, cid),
                                 env=probe.runtime_env(("run", cid)), size=(21, 77))
    support.assert_no_traceback(out)
    lines = [l.strip() for l in out.replace("\r", "").splitlines()]
    assert code == 7, out
    assert any(l.startswith("/dev/pts/") for l in lines), out
    assert "21 77" in lines, out
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_terminal_for_a_non_root_user(runtime, bundle, tmp_path):
    cid = support.unique_id("ttyu")
    _terminal_bundle(bundle, cid, "id -u; stat -c '%u' $(tty); echo to-tty > /dev/tty && echo wrote-tty")
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.write()
    recv = probe.ConsoleReceiver(tmp_path / "u.sock")
    try:
        probe.call(runtime, "run", "-d", "--console-socket", recv.path, "-b", bundle.path, cid, check=True)
        out = recv.wait_output()
        probe.wait_status(runtime, cid, "stopped")
    finally:
        runtime.run("delete", "--force", cid)
        recv.close()
    lines = [l.strip() for l in out.replace("\r", "").splitlines()]
    assert lines[:2] == ["1000", "1000"], out  # the container's user owns its terminal
    assert "wrote-tty" in lines, out


@pytest.mark.parametrize("how", ["create+start", "run -d"])
def test_no_fd_leaks_into_the_container(runtime, bundle, how):
    """Only stdio crosses execve (CVE-2024-21626: a leaked host fd is a way out)."""
    cid = support.unique_id("fdl")
    probe.prepare(bundle, cid, ["sleep", "1000"])
    bundle.write()
    if how == "run -d":
        probe.call(runtime, "run", "-d", "-b", bundle.path, cid, check=True)
    else:
        probe.call(runtime, "create", "-b", bundle.path, cid, check=True)
        runtime.run("start", cid, check=True)
    pid = runtime.state(cid)["pid"]
    # seen from the host once the process runs (it is sleep, exec'd)
    probe.wait_for(lambda: os.readlink(f"/proc/{pid}/exe").endswith("busybox"), what="execve")
    assert sorted(os.listdir(f"/proc/{pid}/fd"), key=int) == ["0", "1", "2"]
    runtime.run("delete", "--force", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_terminal_foreground_run_with_console_socket(runtime, bundle, tmp_path):
    if support.is_runc():
        pytest.skip("runc 1.1.5 refuses --console-socket on a foreground run "
                    "(\"cannot use console socket if runc will not detach\")")
    cid = support.unique_id("ttyr")
    _terminal_bundle(bundle, cid, "echo in-tty; exit 9")
    recv = probe.ConsoleReceiver(tmp_path / "r.sock")
    try:
        proc = probe.call(runtime, "run", "--console-socket", recv.path, "-b", bundle.path, cid)
        out = recv.wait_output()
    finally:
        recv.close()
    assert proc.returncode == 9, proc.stderr
    assert "in-tty" in out
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_relative_executable_resolves_against_cwd(runtime, bundle):
    bundle.config["process"]["cwd"] = "/bin"
    proc = probe.run(runtime, bundle, args=["./busybox", "sh", "-c", "pwd"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "/bin\n"


def test_env_without_path(runtime, bundle):
    bundle.config["process"]["env"] = ["ONLY=1"]
    proc = probe.run(runtime, bundle, args=["/bin/sh", "-c", "echo \"[$ONLY][${PATH-unset}]\""])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("[1][")


# -- runc's order of cwd, user and environment (issue 21) ------------------------

def _start_detached(runtime, bundle, cid, args=("sleep", "1000")):
    probe.prepare(bundle, cid, list(args))
    bundle.write()
    probe.call(runtime, "run", "-d", "-b", bundle.path, cid, check=True)


def test_cwd_only_root_can_enter_for_a_non_root_user(runtime, bundle):
    """runc chdirs before the user switch and tries again as the user only
    when that failed: a user's cwd may be a directory only root can enter."""
    (bundle.rootfs / "root").chmod(0o700)
    bundle.config["process"]["cwd"] = "/root"
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    proc = probe.run(runtime, bundle, args=["sh", "-c", "pwd; id -u"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["/root", "1000"]


def test_exec_cwd_only_the_runtime_can_enter(runtime, bundle):
    """exec --user 0 without CAP_DAC_OVERRIDE into a directory of another
    user's: the runtime's chdir, before the switch, is the one that counts."""
    secret = bundle.rootfs / "secret"
    secret.mkdir(mode=0o700)
    os.chown(secret, 1000, 1000)
    cid = support.unique_id("cwdx")
    _start_detached(runtime, bundle, cid)
    try:
        proc = runtime.run("exec", "--user", "0", "--cwd", "/secret", cid, "sh", "-c",
                           "pwd; grep CapEff /proc/self/status")
    finally:
        runtime.run("delete", "--force", cid)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "/secret"
    assert not int(lines[1].split()[1], 16) & (1 << 1)  # no CAP_DAC_OVERRIDE indeed
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_missing_cwd_of_a_joined_mount_namespace_fails_at_once(runtime, bundle):
    """Only a permission error is worth a second try; anything else is the
    one-line chdir error (runc's wording)."""
    cid = support.unique_id("cwdm")
    _start_detached(runtime, bundle, cid)
    try:
        proc = runtime.run("exec", "--cwd", "/no/such/dir", cid, "true")
    finally:
        runtime.run("delete", "--force", cid)
    assert proc.returncode != 0
    assert "chdir to cwd" in proc.stderr and "/no/such/dir" in proc.stderr, proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.parametrize("uid,home", [(0, "/root"), (1000, "/home"), (4242, "/")])
def test_empty_home_comes_from_passwd(runtime, bundle, uid, home):
    bundle.config["process"]["env"] = [e for e in bundle.config["process"]["env"]
                                       if not e.startswith("HOME=")] + ["HOME="]
    bundle.config["process"]["user"] = {"uid": uid, "gid": uid}
    proc = probe.run(runtime, bundle, args=["sh", "-c", 'echo "[$HOME]"'])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"[{home}]\n"


# -- exec --cap, and the noise of runc spec's own config (issues 21, 14) --------

def _status_masks(text):
    st = probe.parse_status(text)
    return {k: int(st[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def test_exec_cap_adds_ambient_next_to_the_configs_inheritable(runtime, bundle):
    """runc's own integration case: with an inheritable set in the config,
    exec --cap X raises X in ambient too; never in inheritable."""
    bundle.config["process"]["capabilities"] = {
        "inheritable": ["CAP_CHOWN", "CAP_SYSLOG"], "permitted": ["CAP_KILL", "CAP_CHOWN"],
        "effective": ["CAP_KILL"], "bounding": ["CAP_KILL", "CAP_CHOWN", "CAP_SYSLOG"],
        "ambient": ["CAP_CHOWN"]}
    cid = support.unique_id("xcap")
    _start_detached(runtime, bundle, cid)
    try:
        plain = runtime.run("exec", cid, "cat", "/proc/self/status", check=True)
        added = runtime.run("exec", "--cap", "CAP_SYSLOG", cid, "cat", "/proc/self/status", check=True)
    finally:
        runtime.run("delete", "--force", cid)
    chown, kill, syslog = 1 << 0, 1 << 5, 1 << 34
    assert _status_masks(plain.stdout) == {"CapInh": chown | syslog, "CapPrm": chown | kill,
                                           "CapEff": chown | kill, "CapBnd": chown | kill | syslog,
                                           "CapAmb": chown}
    assert _status_masks(added.stdout) == {"CapInh": chown | syslog, "CapPrm": chown | kill | syslog,
                                           "CapEff": chown | kill | syslog,
                                           "CapBnd": chown | kill | syslog, "CapAmb": chown | syslog}
    assert not plain.stderr and not added.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_exec_cap_without_inheritable_stays_out_of_ambient(runtime, bundle):
    bundle.config["process"]["capabilities"] = {}
    cid = support.unique_id("xcap0")
    _start_detached(runtime, bundle, cid)
    try:
        proc = runtime.run("exec", "--cap", "CAP_KILL", "--cap", "CAP_AUDIT_WRITE", cid,
                           "cat", "/proc/self/status", check=True)
    finally:
        runtime.run("delete", "--force", cid)
    kill, audit_write = 1 << 5, 1 << 29
    masks = _status_masks(proc.stdout)
    assert masks == {"CapInh": 0, "CapPrm": kill | audit_write, "CapEff": kill | audit_write,
                     "CapBnd": kill | audit_write, "CapAmb": 0}
    assert not proc.stderr, proc.stderr  # nothing the user can act on
    probe.assert_no_leftovers(runtime, cid, bundle.path)


# what `runc spec` (1.1.5) writes: ambient capabilities it does not make inheritable
RUNC_SPEC_CAPS = {name: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                  for name in ("bounding", "effective", "permitted", "ambient")}


def test_runc_spec_capabilities_run_without_warnings(runtime, bundle, tmp_path):
    """runc drops the ambient capabilities it cannot raise without a word,
    on run and exec; pyrunc says it at debug level, in --log."""
    bundle.config["process"]["capabilities"] = RUNC_SPEC_CAPS
    cid = support.unique_id("spec")
    _start_detached(runtime, bundle, cid)
    log = tmp_path / "debug.log"
    try:
        execd = runtime.run("exec", cid, "true")
        if not support.is_runc():
            debugged = runtime.run("exec", cid, "true", global_args=("--debug", "--log", log))
    finally:
        runtime.run("delete", "--force", cid)
    assert execd.returncode == 0 and execd.stderr == "", execd.stderr
    proc = probe.run(runtime, bundle, args=["true"])
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    if not support.is_runc():  # runc 1.1.5 does not log it at all
        assert debugged.returncode == 0, debugged.stderr
        assert "ignoring ambient capabilities" in log.read_text()
    probe.assert_no_leftovers(runtime, cid, bundle.path)


# -- the runtime as the console: raw output, the user's pty (issue 21) -----------

def _pty_with_piped_stdout(argv, env, timeout=30):
    """argv with a pty as its controlling terminal, stdin and stderr, and a
    pipe as stdout (`runtime run ID | cat` at a terminal): (status, stdout)."""
    import fcntl
    import pty
    import termios
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(argv, stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=env,
                              start_new_session=True, timeout=timeout,
                              preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
    finally:
        os.close(slave)
        os.close(master)
    return proc.returncode, proc.stdout.decode(errors="replace")


# runc clears ONLCR once it has the master, while the process may already
# run: the sleep lets it win that race (pyrunc clears it before the pty
# leaves the container, so it needs none)
_RUNC_RACE = "sleep 1; " if support.is_runc() else ""


def test_foreground_terminal_output_has_no_carriage_returns(runtime, bundle):
    """runc clears ONLCR on the pty it is the console of: "\\n" stays "\\n"
    on a piped stdout; a terminal makes it "\\r\\n" itself (runc keeps
    output processing on in its raw mode), never "\\r\\r\\n"."""
    cid = support.unique_id("onlcr")
    _terminal_bundle(bundle, cid, _RUNC_RACE + "printf 'one\\ntwo\\n'")
    code, out = _pty_with_piped_stdout(runtime.argv("run", "-b", bundle.path, cid),
                                       env=probe.runtime_env(("run", cid)))
    assert code == 0, out
    assert out == "one\ntwo\n", repr(out)
    probe.assert_no_leftovers(runtime, cid, bundle.path)
    cid = support.unique_id("onlcr")
    _terminal_bundle(bundle, cid, _RUNC_RACE + "printf 'one\\ntwo\\n'")
    code, out = probe.run_in_pty(runtime.argv("run", "-b", bundle.path, cid),
                                 env=probe.runtime_env(("run", cid)))
    assert code == 0, out
    assert "one\r\ntwo\r\n" in out, repr(out)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_exec_tty_is_raw_and_owned_by_the_user(runtime, bundle):
    """exec -t: no ONLCR either, and the pty belongs to the process's user
    (runc's fixStdioPermissions), who can then use /dev/tty."""
    cid = support.unique_id("xtty")
    _start_detached(runtime, bundle, cid)
    try:
        code, out = _pty_with_piped_stdout(
            runtime.argv("exec", "-t", "--user", "1000:1000", cid, "sh", "-c",
                         _RUNC_RACE +
                         "printf 'uid=%s\\n' $(stat -c %u $(tty)); echo x > /dev/tty && echo wrote"),
            env=probe.runtime_env(("exec", cid)))
    finally:
        runtime.run("delete", "--force", cid)
    assert code == 0, out
    assert out == "uid=1000\nx\nwrote\n", repr(out)
    probe.assert_no_leftovers(runtime, cid, bundle.path)
