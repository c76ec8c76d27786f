"""podman 4 + conmon driving the runtime under test (`podman --runtime ABS`).

Covers the podman part of issue 7's acceptance list. Every container gets
`--network none` and the fixture's cgroup parent; the module fixture fails
if a container, mount, process or cgroup is left behind.
"""
from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from tests import support

pytestmark = [pytest.mark.requires("root", "podman")]

# sh as PID 1 ignores SIGTERM unless it traps it: with this, `podman stop`
# sees the container go on the first signal instead of waiting for the timeout
SERVE = ["sh", "-c", 'trap "exit 0" TERM; while :; do sleep 0.1; done']


def _name() -> str:
    return support.unique_id("e2e")


@pytest.fixture
def detached(podman):
    """A running detached container; force-removed afterwards whatever happened."""
    name = _name()
    podman.run("-d", "--name", name, podman.image, *SERVE)
    yield name
    podman.podman("rm", "--force", "--time", "0", name, check=False)


def _status(podman, name) -> str:
    return podman.podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()


def test_run_rm_echo(podman):
    proc = podman.run("--rm", podman.image, "echo", "hi")
    assert proc.stdout == "hi\n"


def test_detached_exec_stop_rm(podman, need_verbs):
    need_verbs("exec")
    name = _name()
    podman.run("-d", "--name", name, podman.image, *SERVE)
    try:
        assert _status(podman, name) == "running"
        out = podman.podman("exec", name, "sh", "-c", "echo from-exec; echo $$")
        assert out.stdout.splitlines()[0] == "from-exec"
        # the exec'd process lives in the container's pid namespace, not as its PID 1
        assert int(out.stdout.splitlines()[1]) > 1
        # exec's exit status comes back through conmon
        assert podman.podman("exec", name, "sh", "-c", "exit 3", check=False).returncode == 3
        # the runtime's exec failure (exit 255, "no such file or directory") is 127 to podman
        missing = podman.podman("exec", name, "/no/such/command", check=False)
        assert missing.returncode == 127, missing
        env = podman.podman("exec", "--env", "E2E=x", "--workdir", "/tmp", name,
                            "sh", "-c", 'echo "$E2E $(pwd)"')
        assert env.stdout == "x /tmp\n"
        rc, out = podman.run_pty("exec", "-t", name, "sh", "-c", "tty; echo tty-ok")
        assert rc == 0, out
        assert re.search(r"^/dev/pts/\d+$", out, re.M), out
        assert "tty-ok" in out
        t0 = time.monotonic()
        podman.podman("stop", "--time", "10", name)
        assert time.monotonic() - t0 < 8, "the container ignored SIGTERM"
        assert _status(podman, name) == "exited"
        assert podman.podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    finally:
        podman.podman("rm", "--force", "--time", "0", name, check=False)
    assert podman.podman("container", "exists", name, check=False).returncode == 1


def _cgroup_file(podman, opts, v1: str, v2: str) -> str:
    """Read a limit from inside the container (cgroup v1 file, else v2)."""
    script = f"cat /sys/fs/cgroup/{v1} 2>/dev/null || cat /sys/fs/cgroup/{v2}"
    return podman.run("--rm", *opts, podman.image, "sh", "-c", script).stdout.strip()


def test_memory_limit(podman):
    got = _cgroup_file(podman, ["--memory", "64m"], "memory/memory.limit_in_bytes", "memory.max")
    assert got == str(64 * 1024 * 1024)


def test_pids_limit(podman):
    assert _cgroup_file(podman, ["--pids-limit", "20"], "pids/pids.max", "pids.max") == "20"


def _status_fields(text: str) -> dict:
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def test_cap_drop_all_add_one(podman):
    out = podman.run("--rm", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE", podman.image,
                     "cat", "/proc/self/status").stdout
    status = _status_fields(out)
    only_net_bind = 1 << 10  # CAP_NET_BIND_SERVICE
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert int(status[field], 16) == only_net_bind, (field, status[field])


def test_read_only_rootfs(podman):
    proc = podman.run("--rm", "--read-only", podman.image, "sh", "-c",
                      "touch /probe; echo rc=$?; touch /tmp/probe && echo tmp-ok", check=False)
    assert "rc=1" in proc.stdout, proc
    assert "Read-only file system" in proc.stderr, proc
    assert "tmp-ok" in proc.stdout  # podman still gives a read-only container a tmpfs /tmp


def test_user(podman):
    out = podman.run("--rm", "--user", "1000:1000", podman.image, "sh", "-c", "id -u; id -g").stdout
    assert out.split() == ["1000", "1000"]


def test_env_and_workdir(podman):
    out = podman.run("--rm", "--env", "GREETING=hello e2e", "--workdir", "/tmp", podman.image,
                     "sh", "-c", 'echo "$GREETING"; pwd').stdout
    assert out.splitlines() == ["hello e2e", "/tmp"]


def test_run_tty(podman):
    rc, out = podman.run_pty("run", "--rm", "-t", *podman.container_flags(), podman.image,
                             "sh", "-c", "tty; echo tty-ok")
    assert rc == 0, out
    assert re.search(r"^/dev/pts/\d+$", out, re.M), out
    assert "tty-ok" in out


def test_pause_unpause(podman, detached, need_verbs):
    need_verbs("pause", "resume", "exec")
    podman.podman("pause", detached)
    assert _status(podman, detached) == "paused"
    podman.podman("unpause", detached)
    assert _status(podman, detached) == "running"
    assert podman.podman("exec", detached, "echo", "alive").stdout == "alive\n"


def test_top(podman, detached):
    out = podman.podman("top", detached).stdout
    assert "while :; do sleep 0.1; done" in out, out


def test_stats_no_stream(podman, detached):
    out = podman.podman("stats", "--no-stream", "--format", "json", detached).stdout
    stats = json.loads(out)
    assert len(stats) == 1, stats
    assert stats[0]["name"] == detached
    assert int(stats[0]["pids"]) >= 1, stats


def test_inspect_exit_code(podman):
    name = _name()
    try:
        proc = podman.run("--name", name, podman.image, "sh", "-c", "exit 7", check=False)
        assert proc.returncode == 7, proc
        code = podman.podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        assert code == "7"
    finally:
        podman.podman("rm", "--force", name, check=False)


def test_missing_command_is_127(podman):
    proc = podman.run("--rm", podman.image, "/no/such/command", check=False)
    assert proc.returncode == 127, proc
    support.assert_no_traceback(proc.stderr)


def test_missing_command_is_127_without_json_log(podman, tmp_path):
    # a runtime named outside runtime_supports_json gets no --log from
    # conmon: podman then finds the "not found" phrase in its stderr
    conf = tmp_path / "no-json.conf"
    conf.write_text("\n".join(line if not line.startswith("runtime_supports_json") else
                              'runtime_supports_json = ["kata"]'
                              for line in podman.conf.read_text().splitlines()) + "\n")
    env = dict(podman.env, CONTAINERS_CONF=str(conf))
    proc = podman.podman("run", *podman.container_flags(), "--rm", podman.image,
                         "/no/such/command", check=False, env=env)
    assert proc.returncode == 127, proc
    support.assert_no_traceback(proc.stderr)


def test_not_executable_is_126(podman):
    proc = podman.run("--rm", podman.image, "/etc/passwd", check=False)
    assert proc.returncode == 126, proc


def test_default_seccomp_profile(podman):
    out = podman.run("--rm", podman.image, "cat", "/proc/self/status").stdout
    assert _status_fields(out)["Seccomp"] == "2"


def test_info_reports_runtime(podman):
    # podman info runs `RUNTIME --version` and fails if that fails
    out = podman.podman("info", "--format",
                        "{{.Host.OCIRuntime.Name}}|{{.Host.OCIRuntime.Version}}").stdout.strip()
    path, _, version = out.partition("|")
    assert path == podman.runtime  # a --runtime path is its own name
    assert version.startswith(f"{support.runtime_name()} version "), out


@pytest.mark.requires("systemd", "apparmor")
def test_stock_systemd_host_with_apparmor(podman, detached, need_verbs):
    """podman as a Debian/Ubuntu host runs it: the systemd cgroup manager on
    cgroup v2 and its default AppArmor profile, which the runtime must put the
    container's process (and an exec'd one) under."""
    need_verbs("exec")
    host = json.loads(podman.podman("info", "--format", "json").stdout)["host"]
    assert (host["cgroupManager"], host["cgroupVersion"]) == ("systemd", "v2"), host
    assert host["security"]["apparmorEnabled"] is True, host["security"]
    cid = podman.podman("inspect", "--format", "{{.Id}}", detached).stdout.strip()
    cgroup = podman.podman("inspect", "--format", "{{.State.CgroupPath}}", detached).stdout.strip()
    assert cgroup.endswith(f"/{podman.cgroup_parent}/libpod-{cid}.scope"), cgroup
    pid = podman.podman("inspect", "--format", "{{.State.Pid}}", detached).stdout.strip()
    with open(f"/proc/{pid}/attr/current") as f:
        init_label = f.read().strip()
    assert re.fullmatch(r"containers-default-[0-9.]+ \(enforce\)", init_label), init_label
    exec_label = podman.podman("exec", detached, "cat", "/proc/self/attr/current").stdout.strip()
    assert exec_label == init_label


def test_kill_numeric_signal(podman):
    # podman sends `kill CID 10`: a numeric signal reaches the container's PID 1
    name = _name()
    podman.run("-d", "--name", name, podman.image, "sh", "-c",
               'trap "echo got-usr1" USR1; while :; do sleep 0.1; done')
    try:
        podman.podman("kill", "--signal", "USR1", name)
        deadline = time.monotonic() + 10
        while "got-usr1" not in (logs := podman.podman("logs", name).stdout):
            assert time.monotonic() < deadline, logs
            time.sleep(0.1)
        assert _status(podman, name) == "running"
    finally:
        podman.podman("rm", "--force", "--time", "0", name, check=False)


def test_start_exited_container_again(podman):
    # `podman start` of an exited container runs `create` again with the same
    # id: the runtime must have forgotten the first instance entirely
    name = _name()
    try:
        podman.run("--name", name, podman.image, "echo", "once")
        out = podman.podman("start", "--attach", name)
        assert out.stdout == "once\n"
        assert podman.podman("logs", name).stdout == "once\nonce\n"
    finally:
        podman.podman("rm", "--force", name, check=False)


def test_runtime_named_in_containers_conf(podman, tmp_path):
    # the README's way: [engine.runtimes] NAME = [path], `--runtime NAME`
    # (or `runtime = NAME` in [engine]), NAME listed in runtime_supports_json
    name = "e2e-dropin"
    lines = []
    for line in podman.conf.read_text().splitlines():
        if line.startswith("runtime_supports_json"):
            line = f'runtime_supports_json = ["runc", "{name}"]'
        lines.append(line)
    lines += ["[engine.runtimes]", f'"{name}" = ["{podman.runtime}"]']
    conf = tmp_path / "named.conf"
    conf.write_text("\n".join(lines) + "\n")
    env = dict(podman.env, CONTAINERS_CONF=str(conf))
    argv = podman.argv("run", *podman.container_flags(), "--rm", podman.image, "echo", "named")
    argv[argv.index("--runtime") + 1] = name
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "named\n"


def test_run_interactive_stdin(podman):
    # -i: conmon hands the container a pipe for stdin; EOF ends cat
    proc = podman.run("--rm", "-i", podman.image, "cat", input="through stdin\n")
    assert proc.stdout == "through stdin\n"


def test_exec_interactive_stdin(podman, detached, need_verbs):
    need_verbs("exec")
    proc = podman.podman("exec", "-i", detached, "cat", input="exec stdin\n")
    assert proc.stdout == "exec stdin\n"
