"""Conformance: every verb and flag of the lifecycle CLI, driven as a user
(or a shim) would: spec, create (--pid-file, --no-new-keyring,
--preserve-fds, --bundle), start, state, kill (number, name, SIG-name,
--all), delete (--force), run (-d, --keep), list (table, json, -q),
--version, the global --root/--log/--log-format, `--flag=value` and the
single-dash long forms Go's flag package accepts."""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _created(runtime, bundle, args=("sleep", "1000"), *extra, cid=None):
    cid = cid or support.unique_id("cli")
    probe.prepare(bundle, cid, list(args))
    bundle.write()
    probe.call(runtime, "create", "--bundle", bundle.path, *extra, cid, check=True)
    return cid


def _pids(cid):
    return support.live_pids_with_env(probe.marker(cid))


# -- --version, spec ---------------------------------------------------------------

@pytest.mark.parametrize("flag", ["--version", "-v"])
def test_version(runtime, flag):
    proc = support.Runtime(runtime.root).run(flag, check=True)
    lines = proc.stdout.splitlines()
    assert re.match(r"^\S+ version \S+", lines[0]), proc.stdout
    assert any(re.match(r"^spec: \d+\.\d+\.\d+", l) for l in lines), proc.stdout
    # runc's second line names the build (podman info shows the whole text)
    assert re.match(r"^commit: \S+", lines[1]), proc.stdout


def test_spec_writes_a_config_that_runs(runtime, tmp_path, bundle):
    out = tmp_path / "specdir"
    out.mkdir()
    runtime.run("spec", "--bundle", out, check=True)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["ociVersion"] and cfg["root"]["path"] == "rootfs"
    assert cfg["process"]["args"] == ["sh"] and cfg["process"]["terminal"] is True
    assert {ns["type"] for ns in cfg["linux"]["namespaces"]} >= {"pid", "network", "ipc", "uts", "mount"}
    # runc 1.1.5 (specconv.Example) asks for a cgroup namespace on a unified
    # cgroup v2 host only
    assert ("cgroup" in probe.namespace_types(cfg)) == _cgroup2_unified_host()
    # a second spec refuses to overwrite
    again = runtime.run("spec", "-b", out)
    probe.stderr_says(again, "exists")
    # the default config, with a plain stdio process, runs
    cfg["process"]["terminal"] = False
    bundle.config = cfg
    proc = probe.run(runtime, bundle, args=["sh", "-c", "hostname; echo $$"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[1] == "1"


def _cgroup2_unified_host():
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def test_spec_rootless(runtime, tmp_path):
    runtime.run("spec", "--rootless", "--bundle=" + str(tmp_path), check=True)
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert "user" in probe.namespace_types(cfg) and "network" not in probe.namespace_types(cfg)
    assert ("cgroup" in probe.namespace_types(cfg)) == _cgroup2_unified_host()
    # runc's ToRootless rewrites mounts in place: /sys becomes a bind, the
    # cgroup mount stays, uid=/gid= options go
    dests = [m["destination"] for m in cfg["mounts"]]
    assert dests[-2:] == ["/sys", "/sys/fs/cgroup"], dests
    assert cfg["mounts"][-2]["type"] == "none" and "rbind" in cfg["mounts"][-2]["options"]
    assert not [o for m in cfg["mounts"] for o in m.get("options", []) if o.startswith(("uid=", "gid="))]
    assert "resources" not in cfg["linux"]
    assert cfg["linux"]["uidMappings"][0]["hostID"] == os.geteuid()
    assert cfg["linux"]["gidMappings"]


# -- create / start / state ----------------------------------------------------------

def test_create_start_state_delete(runtime, bundle, tmp_path):
    pid_file = tmp_path / "pidfile"
    cid = support.unique_id("flow")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", "echo started > /dev/shm/x; sleep 1000"])
    cfg["annotations"] = {"org.example.key": "value", "another": "x"}
    bundle.write()
    probe.call(runtime, "create", "--bundle", bundle.path, "--pid-file", pid_file, cid, check=True)
    st = runtime.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid and st["ociVersion"]
    assert st["pid"] > 0 and int(pid_file.read_text()) == st["pid"]
    assert st["bundle"] == str(bundle.path)
    assert st["rootfs"] == str(bundle.rootfs)
    assert RFC3339.match(st["created"]), st["created"]
    assert st["annotations"] == {"org.example.key": "value", "another": "x"}
    assert "owner" in st
    # exactly one process is left by create: the container's init, waiting
    assert probe.cgroup_procs(cid) == [st["pid"]]
    with open(f"/proc/{st['pid']}/status") as f:
        assert probe.parse_status(f.read())["NSpid"].split()[-1] == "1"
    runtime.run("start", cid, check=True)
    assert runtime.state(cid)["status"] == "running"
    assert runtime.state(cid)["pid"] == st["pid"]
    again = runtime.run("start", cid)
    assert again.returncode != 0
    runtime.run("kill", cid, "KILL", check=True)
    stopped = probe.wait_status(runtime, cid, "stopped")
    assert stopped["pid"] == 0
    runtime.run("delete", cid, check=True)
    probe.stderr_says(runtime.run("state", cid), "container does not exist")
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_state_dir_lives_under_root(runtime, bundle):
    cid = _created(runtime, bundle)
    assert (runtime.root / cid).is_dir()
    other = support.Runtime(runtime.root.parent / "other-root")
    probe.stderr_says(other.run("state", cid), "container does not exist")
    runtime.run("delete", cid, check=True)
    assert not (runtime.root / cid).exists()


def test_delete_created_container(runtime, bundle):
    cid = _created(runtime, bundle)
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_delete_running_needs_force(runtime, bundle):
    cid = _created(runtime, bundle)
    runtime.run("start", cid, check=True)
    proc = runtime.run("delete", cid)
    assert proc.returncode != 0
    assert runtime.state(cid)["status"] == "running"
    runtime.run("delete", "--force", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_delete_force_short_flag(runtime, bundle):
    cid = _created(runtime, bundle)
    runtime.run("start", cid, check=True)
    runtime.run("delete", "-f", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


# -- kill ------------------------------------------------------------------------------

@pytest.mark.parametrize("sig", ["9", "KILL", "SIGKILL", "sigkill"])
def test_kill_signal_spellings(runtime, bundle, sig):
    cid = _created(runtime, bundle)
    runtime.run("start", cid, check=True)
    runtime.run("kill", cid, sig, check=True)
    probe.wait_status(runtime, cid, "stopped")
    probe.stderr_says(runtime.run("kill", cid, "KILL"), "container not running")
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_kill_default_is_sigterm(runtime, bundle, tmp_path):
    cid = _created(runtime, bundle, ("sh", "-c", "trap 'echo got-term > /dev/shm/t; exit 0' TERM; "
                                     "echo > /dev/shm/ready; while true; do sleep 1 & wait $!; done"))
    runtime.run("start", cid, check=True)
    pid = runtime.state(cid)["pid"]
    probe.wait_for(lambda: os.path.exists(f"/proc/{pid}/root/dev/shm/ready"), what="trap set")
    runtime.run("kill", cid, check=True)
    probe.wait_status(runtime, cid, "stopped")
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_kill_created_container(runtime, bundle):
    cid = _created(runtime, bundle)
    runtime.run("kill", cid, "SIGKILL", check=True)
    probe.wait_status(runtime, cid, "stopped")
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.parametrize("sig", [(), ("HUP",), ("INT",)])
def test_kill_created_container_with_a_catchable_signal(runtime, bundle, sig):
    """`kill ID` (SIGTERM) stops a created container: what a client's stop of
    a never-started container sends first (runc's init dies of it)."""
    cid = _created(runtime, bundle)
    runtime.run("kill", cid, *sig, check=True)
    probe.wait_status(runtime, cid, "stopped")
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_kill_signal_zero_is_a_liveness_probe(runtime, bundle):
    """`kill ID 0` delivers nothing and answers whether init is there:
    0 while created or running, `container not running` once stopped."""
    cid = _created(runtime, bundle)
    runtime.run("kill", cid, "0", check=True)
    assert runtime.state(cid)["status"] == "created"
    runtime.run("start", cid, check=True)
    runtime.run("kill", cid, "0", check=True)
    runtime.run("kill", "--all", cid, "0", check=True)
    assert runtime.state(cid)["status"] == "running"
    runtime.run("kill", cid, "KILL", check=True)
    probe.wait_status(runtime, cid, "stopped")
    probe.stderr_says(runtime.run("kill", cid, "0"), "container not running")
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.parametrize("flag", ["--all", "-a"])
def test_kill_all(runtime, bundle, flag):
    cid = _created(runtime, bundle, ("sh", "-c", "sleep 1000 & sleep 1000 & echo > /dev/shm/ready; wait"))
    runtime.run("start", cid, check=True)
    pid = runtime.state(cid)["pid"]
    probe.wait_for(lambda: len(_pids(cid)) == 3, what="three processes")
    runtime.run("kill", flag, cid, "KILL", check=True)
    probe.wait_for(lambda: not _pids(cid), what="every process killed")
    probe.wait_status(runtime, cid, "stopped")
    assert not os.path.exists(f"/proc/{pid}/status") or runtime.state(cid)["status"] == "stopped"
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


# -- run -----------------------------------------------------------------------------

def test_run_foreground_removes_the_container(runtime, bundle):
    cid = support.unique_id("run")
    proc = probe.run(runtime, bundle, cid, ["sh", "-c", "echo hi"])
    assert proc.returncode == 0 and proc.stdout == "hi\n", proc.stderr
    probe.stderr_says(runtime.run("state", cid), "container does not exist")
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_run_keep(runtime, bundle):
    cid = support.unique_id("keep")
    proc = probe.run(runtime, bundle, cid, ["sh", "-c", "exit 4"], extra=("--keep",))
    assert proc.returncode == 4, proc.stderr
    assert runtime.state(cid)["status"] == "stopped"
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.parametrize("flag", ["-d", "--detach"])
def test_run_detached(runtime, bundle, tmp_path, flag):
    cid = support.unique_id("det")
    pid_file = tmp_path / "run.pid"
    probe.prepare(bundle, cid, ["sleep", "1000"])
    bundle.write()
    probe.call(runtime, "run", flag, "--pid-file", pid_file, "-b", bundle.path, cid, check=True)
    st = runtime.state(cid)
    assert st["status"] == "running" and int(pid_file.read_text()) == st["pid"]
    assert probe.cgroup_procs(cid) == [st["pid"]]  # the runtime itself is gone
    runtime.run("kill", cid, "KILL", check=True)
    probe.wait_status(runtime, cid, "stopped")
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_run_no_new_keyring(runtime, bundle):
    proc = probe.run(runtime, bundle, args=["true"], extra=("--no-new-keyring",))
    assert proc.returncode == 0, proc.stderr


def test_preserve_fds(runtime, bundle, tmp_path):
    data = tmp_path / "fd3.txt"
    data.write_text("through fd 3\n")
    cid = support.unique_id("fds")
    probe.prepare(bundle, cid, ["sh", "-c", "cat <&3"])
    bundle.write()
    proc = probe.run_with_fd3(runtime, data, "run", "--preserve-fds", "1", "-b", bundle.path, cid)
    assert proc.returncode == 0 and proc.stdout == "through fd 3\n", proc.stderr
    # without the flag the fd is closed before the container's process starts
    cid2 = support.unique_id("nofds")
    probe.prepare(bundle, cid2, ["sh", "-c", "test -e /proc/$$/fd/3 && echo leaked || echo closed"])
    bundle.write()
    proc = probe.run_with_fd3(runtime, data, "run", "-b", bundle.path, cid2)
    assert proc.stdout == "closed\n", proc.stderr


# -- list ----------------------------------------------------------------------------

def test_list_formats(runtime, bundle, tmp_path):
    b2 = support.Bundle(tmp_path / "b2")
    one = _created(runtime, bundle)
    two = _created(runtime, b2)
    runtime.run("start", two, check=True)
    table = runtime.run("list", check=True).stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "PID", "STATUS"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert rows[one][2] == "created" and rows[two][2] == "running"
    for flags in (("--format", "json"), ("--format=json",), ("-f", "json")):
        items = json.loads(runtime.run("list", *flags, check=True).stdout)
        by_id = {i["id"]: i for i in items}
        assert set(by_id) == {one, two}, flags
        assert by_id[one]["status"] == "created" and by_id[two]["status"] == "running"
        assert by_id[two]["pid"] == runtime.state(two)["pid"]
        assert by_id[one]["bundle"] == str(bundle.path)
        # runc's encoding/json: one compact line
        out = runtime.run("list", *flags, check=True).stdout
        assert out == json.dumps(items, separators=(",", ":")) + "\n", out
    quiet = runtime.run("list", "-q", check=True).stdout.split()
    assert sorted(quiet) == sorted([one, two])
    for cid in (one, two):
        runtime.run("delete", "--force", cid, check=True)
    assert runtime.run("list", "-q", check=True).stdout.strip() == ""
    # no containers: runc encodes its nil slice
    assert runtime.run("list", "--format", "json", check=True).stdout == "null\n"


# -- global flags and spellings --------------------------------------------------------

def _argv_without_root(runtime, *args):
    return [runtime.binary, *map(str, args)]


def test_root_with_equals_and_single_dash(runtime, bundle):
    import subprocess
    cid = support.unique_id("root")
    probe.prepare(bundle, cid, ["sleep", "1000"])
    bundle.write()
    argv = _argv_without_root(runtime, f"--root={runtime.root}", "create", "-bundle", bundle.path,
                              f"-pid-file={bundle.path / 'p.pid'}", cid)
    with open(os.devnull, "w") as null:
        subprocess.run(argv, check=True, stdout=null, stderr=null, stdin=subprocess.DEVNULL, timeout=60)
    out = subprocess.run(_argv_without_root(runtime, "-root", runtime.root, "state", cid),
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["status"] == "created"
    assert int((bundle.path / "p.pid").read_text()) == json.loads(out.stdout)["pid"]
    runtime.run("delete", "--force", cid, check=True)


@pytest.mark.parametrize("spelling", [("--log-format", "json"), ("--log-format=json",), ("-log-format", "json")])
def test_log_json_records_the_error(runtime, tmp_path, spelling):
    log = tmp_path / "runtime.log"
    proc = runtime.run("delete", "no-such-ctr", global_args=("--log", log, *spelling))
    assert proc.returncode == 1
    assert "container does not exist" in proc.stderr
    records = probe.load_json_lines(log)
    errors = [r for r in records if r.get("level") == "error"]
    assert errors and "container does not exist" in errors[-1]["msg"]
    assert RFC3339.match(errors[-1]["time"]), errors[-1]
    assert set(errors[-1]) >= {"level", "msg", "time"}


def test_log_text_format(runtime, tmp_path):
    log = tmp_path / "text.log"
    proc = runtime.run("state", "no-such-ctr", global_args=(f"--log={log}", "--log-format", "text"))
    assert proc.returncode == 1
    text = log.read_text()
    assert "level=error" in text and "container does not exist" in text


@pytest.mark.parametrize("verb", [("state", "no-such-ctr"), ("list",)])
def test_log_file_is_opened_at_start_up(runtime, tmp_path, verb):
    """The log exists after any command, even one that logged nothing
    (runc opens it before the verb runs)."""
    log = tmp_path / "quiet.log"
    runtime.run(*verb, global_args=("--log", log))
    assert log.exists() and (log.stat().st_mode & 0o777) == 0o644


@pytest.mark.parametrize("verb", [("state", "no-such-ctr"), ("list",), ("kill", "no-such-ctr", "0")])
def test_log_path_unusable_fails_at_start_up(runtime, tmp_path, verb):
    """An unusable --log fails the command with the open error, exit 1,
    whatever the verb (runc's configLogrus), and is never created."""
    log = tmp_path / "missing-dir" / "x.log"
    proc = runtime.run(*verb, global_args=("--log", log))
    assert proc.returncode == 1, proc.stderr
    text = probe.messages(proc.stderr)
    assert str(log) in text and "no such file or directory" in text, proc.stderr
    assert len(probe.error_lines(proc.stderr)) == 1, proc.stderr
    assert not (tmp_path / "missing-dir").exists()


def test_unwritable_stderr_with_a_log_still_creates(runtime, bundle, tmp_path):
    """containerd's shim runs the runtime for a pod's sandbox with a stderr
    it cannot write (EBADF): a warning goes to --log, and create works, as
    runc's does (issue 17, seen under the guest's systemd driver)."""
    log = tmp_path / "warn.log"
    cid = support.unique_id("nostderr")
    cfg = probe.prepare(bundle, cid, ["sleep", "1000"])
    # an unknown capability: create goes on, with a warning (runc and pyrunc)
    cfg["process"]["capabilities"]["bounding"].append("CAP_NO_SUCH_THING")
    bundle.write()
    with open(os.devnull, "rb") as out, open(os.devnull) as read_only:
        proc = subprocess.run(runtime.argv("create", "--bundle", bundle.path, cid,
                                           global_args=("--log", log, "--log-format", "json")),
                              stdin=subprocess.DEVNULL, stdout=out, stderr=read_only, timeout=60)
    try:
        assert proc.returncode == 0, probe.load_json_lines(log)
        assert runtime.state(cid)["status"] == "created"
        warnings = [r["msg"] for r in probe.load_json_lines(log) if r.get("level") in ("warning", "warn")]
        assert any("CAP_NO_SUCH_THING" in w for w in warnings), probe.load_json_lines(log)
    finally:
        runtime.run("delete", "--force", cid)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_warnings_go_to_the_log_not_the_containers_stderr(runtime, bundle, tmp_path):
    """With --log a warning is a log record only, as runc's logrus writes
    it: podman's conmon and containerd's shim give create the container's
    own stderr, and a warning there becomes a line of the container's log
    (a CRI log showed pyrunc's device warning, issue 17). Without --log it
    is on stderr."""
    cid = support.unique_id("warn")
    cfg = probe.prepare(bundle, cid, ["true"])
    cfg["process"]["capabilities"]["bounding"].append("CAP_NO_SUCH_THING")
    bundle.write()
    log, err = tmp_path / "warn.log", tmp_path / "stderr"

    def create(*global_args) -> str:
        with open(err, "w") as f:  # a file: the waiting init keeps what it inherits
            proc = subprocess.run(runtime.argv("create", "--bundle", bundle.path, cid, global_args=global_args),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=f, timeout=60)
        try:
            assert proc.returncode == 0, err.read_text()
            return err.read_text()
        finally:
            runtime.run("delete", "--force", cid)
            probe.assert_no_leftovers(runtime, cid, bundle.path)

    assert "CAP_NO_SUCH_THING" not in create("--log", log, "--log-format", "json")
    warnings = [r["msg"] for r in probe.load_json_lines(log) if r.get("level") in ("warning", "warn")]
    assert any("CAP_NO_SUCH_THING" in w for w in warnings), probe.load_json_lines(log)
    assert "CAP_NO_SUCH_THING" in create()


def test_created_init_does_not_hold_the_log(runtime, bundle, tmp_path):
    """The --log file is the runtime's: the container's init, waiting in
    `created`, holds no descriptor of it."""
    log = tmp_path / "held.log"
    cid = support.unique_id("logfd")
    probe.prepare(bundle, cid, ["sleep", "1000"])
    bundle.write()
    probe.call(runtime, "--log", log, "--debug", "create", "--bundle", bundle.path, cid, check=True)
    pid = runtime.state(cid)["pid"]
    held = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    assert str(log) not in held, held
    runtime.run("delete", "--force", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def _debug_records(records):
    debug = [r for r in records if r.get("level") == "debug"]
    for r in debug:
        assert isinstance(r.get("msg"), str) and r["msg"] and RFC3339.match(r["time"]), r
    return debug


def test_debug_logs_the_phases_of_create(runtime, bundle, tmp_path):
    """--debug writes debug records to --log while create works: one per
    phase (runc: its nsexec and init stages), and nothing of it on stderr."""
    log = tmp_path / "debug.log"
    cid = support.unique_id("dbg")
    probe.prepare(bundle, cid, ["sleep", "1000"])
    bundle.write()
    proc = probe.call(runtime, "--debug", "--log", log, "--log-format", "json",
                      "create", "--bundle", bundle.path, cid, check=True)
    debug = _debug_records(probe.load_json_lines(log))
    assert len(debug) >= 3, debug
    assert "level=debug" not in proc.stderr and '"debug"' not in proc.stderr, proc.stderr
    # without --debug, the same create logs none
    runtime.run("delete", "--force", cid, check=True)
    log.unlink()
    probe.call(runtime, "--log", log, "--log-format", "json", "create", "--bundle", bundle.path, cid, check=True)
    assert not _debug_records(probe.load_json_lines(log))
    runtime.run("delete", "--force", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_debug_without_log_goes_to_stderr(runtime, bundle):
    proc = probe.run(runtime, bundle, args=["true"], global_args=("--debug",))
    assert proc.returncode == 0, proc.stderr
    debug = [l for l in proc.stderr.splitlines() if "level=debug" in l]
    assert len(debug) >= 3, proc.stderr


def test_flag_equals_forms_on_create(runtime, bundle, tmp_path):
    cid = support.unique_id("eq")
    probe.prepare(bundle, cid, ["sleep", "1000"])
    bundle.write()
    pid_file = tmp_path / "eq.pid"
    probe.call(runtime, "create", f"--bundle={bundle.path}", f"--pid-file={pid_file}", cid, check=True)
    assert int(pid_file.read_text()) == runtime.state(cid)["pid"]
    runtime.run("kill", "--all", cid, "KILL", check=True)
    probe.wait_status(runtime, cid, "stopped")
    runtime.run("delete", cid, check=True)


def test_create_stdio_is_passed_through(runtime, bundle, tmp_path):
    """The container's stdio is the stdio the runtime was started with."""
    import subprocess
    cid = support.unique_id("stdio")
    probe.prepare(bundle, cid, ["sh", "-c", "read x; echo out:$x; echo err:$x >&2"])
    bundle.write()
    (tmp_path / "in").write_text("fed\n")
    with open(tmp_path / "in") as i, open(tmp_path / "out", "w") as o, open(tmp_path / "err", "w") as e:
        subprocess.run(runtime.argv("create", "-b", bundle.path, cid), stdin=i, stdout=o, stderr=e,
                       check=True, timeout=60, env=probe.runtime_env(("create", cid)))
    runtime.run("start", cid, check=True)
    probe.wait_status(runtime, cid, "stopped")
    assert (tmp_path / "out").read_text() == "out:fed\n"
    assert "err:fed" in (tmp_path / "err").read_text()
    runtime.run("delete", cid, check=True)


def test_create_leaves_exactly_one_process(runtime, bundle):
    cid = _created(runtime, bundle)
    pid = runtime.state(cid)["pid"]
    assert probe.cgroup_procs(cid) == [pid]
    # nothing of the runtime's lingers outside the cgroup either (pyrunc's
    # processes carry our marker until they execve; runc's do not)
    assert set(_pids(cid)) <= {pid}
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_concurrent_creates_of_one_id(runtime, bundle):
    """Commands on one id serialize: exactly one of racing creates wins."""
    if support.is_runc():
        pytest.skip("runc 1.1.5 does not serialize creates of one id: a loser's clean-up "
                    "can remove the winner's state dir")
    import subprocess
    cid = support.unique_id("race")
    probe.prepare(bundle, cid, ["sleep", "1000"])
    bundle.write()
    procs = [subprocess.Popen(runtime.argv("create", "-b", bundle.path, cid), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=probe.runtime_env(("create", cid))) for _ in range(4)]
    codes = [p.wait(timeout=60) for p in procs]
    assert codes.count(0) == 1, codes
    assert runtime.state(cid)["status"] == "created"
    assert len(probe.cgroup_procs(cid)) == 1
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.parametrize("flags", [("--rootless", "false"), ("--rootless=auto",), ("--debug",),
                                   ("--systemd-cgroup",)])
def test_global_flags_accepted(runtime, flags):
    proc = runtime.run("state", "ghost", global_args=flags)
    assert proc.returncode == 1
    assert "container does not exist" in probe.messages(proc.stderr), proc.stderr


def test_preserve_fds_survive_from_create_to_start(runtime, bundle, tmp_path):
    data = tmp_path / "fd3.txt"
    data.write_text("kept until start\n")
    cid = support.unique_id("fdc")
    b = bundle
    probe.prepare(b, cid, ["sh", "-c", "cat <&3 > /dev/shm/x; cat /dev/shm/x > /out/got"])
    b.config["mounts"].append({"destination": "/out", "type": "bind", "source": str(tmp_path),
                               "options": ["rbind"]})
    b.write()
    proc = probe.run_with_fd3(runtime, data, "create", "--preserve-fds=1", "-b", b.path, cid)
    assert proc.returncode == 0, proc.stderr
    runtime.run("start", cid, check=True)
    probe.wait_status(runtime, cid, "stopped")
    assert (tmp_path / "got").read_text() == "kept until start\n"
    runtime.run("delete", cid, check=True)


# the id's '+' is no character of a systemd unit name: the systemd driver
# (runc's too) cannot name a scope after it
@pytest.mark.requires("cgroupfs_driver")
def test_relative_pid_file_and_bundle_and_long_id(runtime, bundle, tmp_path):
    import subprocess
    cid = "Ab9_+.-" + "x" * 90 + support.unique_id("")
    probe.prepare(bundle, cid, ["true"])
    bundle.write()
    with open(os.devnull, "w") as null:
        subprocess.run(runtime.argv("run", "-d", "--pid-file", "rel.pid", "-b", "bundle", cid), cwd=tmp_path,
                       stdin=subprocess.DEVNULL, stdout=null, stderr=null, check=True, timeout=60)
    st = probe.wait_status(runtime, cid, "stopped")
    assert st["bundle"] == str(bundle.path)  # made absolute
    assert int((tmp_path / "rel.pid").read_text()) > 0
    listed = {i["id"]: i for i in json.loads(runtime.run("list", "--format", "json", check=True).stdout)}
    assert listed[cid]["status"] == "stopped" and listed[cid]["pid"] == 0
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_concurrent_starts(runtime, bundle):
    if support.is_runc():
        pytest.skip("runc 1.1.5 does not serialize starts of one id: a loser can block "
                    "forever on the exec fifo")
    import subprocess
    cid = _created(runtime, bundle)
    procs = [subprocess.Popen(runtime.argv("start", cid), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(3)]
    codes = [p.wait(timeout=60) for p in procs]
    assert codes.count(0) == 1, codes
    assert runtime.state(cid)["status"] == "running"
    runtime.run("delete", "--force", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_run_no_subreaper(runtime, bundle):
    proc = probe.run(runtime, bundle, args=["sh", "-c", "exit 5"], extra=("--no-subreaper",))
    assert proc.returncode == 5, proc.stderr


def test_kill_all_created_container(runtime, bundle):
    cid = _created(runtime, bundle)
    runtime.run("kill", "--all", cid, "KILL", check=True)
    probe.wait_status(runtime, cid, "stopped")
    runtime.run("delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_two_containers_from_one_bundle(runtime, bundle):
    ids = [support.unique_id("twin") for _ in range(2)]
    for cid in ids:
        probe.prepare(bundle, cid, ["sleep", "1000"])
        bundle.write()
        probe.call(runtime, "run", "-d", "-b", bundle.path, cid, check=True)
    states = [runtime.state(cid) for cid in ids]
    assert [s["status"] for s in states] == ["running", "running"]
    assert states[0]["pid"] != states[1]["pid"]
    runtime.run("delete", "--force", ids[0], check=True)
    assert runtime.state(ids[1])["status"] == "running"  # its twin's delete left it alone
    runtime.run("delete", "--force", ids[1], check=True)
    for cid in ids:
        probe.assert_no_leftovers(runtime, cid, bundle.path)
