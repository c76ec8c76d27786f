"""Conformance: checkpoint and restore through CRIU (issue 20), as runc's.

A busybox container counting in a loop is checkpointed and restored and goes
on counting from where it was; --leave-running keeps it running; a pre-dump
then a dump with --parent-path restores; a restored container is one like
any other to state, kill and delete; a restore that cannot work (a corrupt
image dir, a missing bundle) says so in one line and leaves nothing behind.

CRIU must work on the host (`criu check`): Debian's CRIU 3.17 fails it on
newer kernels, so these run in the tests/vm guest (Debian 12's 6.1 kernel);
the failure cases need only the criu binary.
"""
from __future__ import annotations

import json
import time

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")

# the container's stdio are its own /dev/null (CRIU reopens them inside), and
# the count goes to a file in the rootfs through a rename: never half-written
COUNTER = ("exec </dev/null >/dev/null 2>&1; i=0; "
           "while true; do i=$((i+1)); echo $i > /count.tmp; mv /count.tmp /count; sleep 0.1; done")
SLOW = 180  # CRIU under the guest's TCG takes seconds


def _count(bundle) -> int:
    try:
        return int((bundle.rootfs / "count").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _counting(runtime, bundle, cid=None):
    cid = cid or support.unique_id("cr")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", COUNTER])
    cfg["root"]["readonly"] = False
    bundle.write()
    probe.call(runtime, "run", "-d", "--bundle", bundle.path, cid, check=True, timeout=SLOW)
    probe.wait_for(lambda: _count(bundle) >= 3, 60, "the container to count")
    return cid


def _goes_on_from(bundle, at, seconds=3.0):
    """The count never restarts below `at` and passes it."""
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen.append(_count(bundle))
        if seen[-1] > at + 2:
            break
        time.sleep(0.05)
    assert seen and min(seen) >= at and seen[-1] > at, f"checkpointed at {at}, then saw {seen}"


def _restore(runtime, bundle, image, cid, *extra, check=True):
    return probe.call(runtime, "restore", "-d", "--image-path", image, "--bundle", bundle.path, *extra, cid,
                      check=check, timeout=SLOW)


def _finish(runtime, cid, bundle):
    probe.call(runtime, "kill", cid, "KILL", check=True)
    probe.wait_status(runtime, cid, "stopped", timeout=30)
    probe.call(runtime, "delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.requires("criu")
def test_checkpoint_stops_and_restore_goes_on_counting(runtime, bundle, tmp_path):
    cid = _counting(runtime, bundle)
    image = tmp_path / "image"
    probe.call(runtime, "checkpoint", "--image-path", image, cid, check=True, timeout=SLOW)
    # as runc's: the checkpointed container is gone, its processes and record
    assert runtime.run("state", cid).returncode != 0
    assert not support.live_pids_with_env(probe.marker(cid))
    at = _count(bundle)
    time.sleep(0.5)
    assert _count(bundle) == at, "the container went on counting after checkpoint"
    assert json.loads((image / "descriptors.json").read_text())
    _restore(runtime, bundle, image, cid)
    state = runtime.state(cid)
    assert state["status"] == "running" and state["pid"] > 0, state
    assert state["bundle"] == str(bundle.path)
    _goes_on_from(bundle, at)
    _finish(runtime, cid, bundle)


@pytest.mark.requires("criu")
def test_leave_running(runtime, bundle, tmp_path):
    cid = _counting(runtime, bundle)
    image = tmp_path / "image"
    probe.call(runtime, "checkpoint", "--leave-running", "--image-path", image, cid, check=True, timeout=SLOW)
    assert runtime.state(cid)["status"] == "running"
    _goes_on_from(bundle, _count(bundle))
    probe.call(runtime, "delete", "--force", cid, check=True)
    at = _count(bundle)
    _restore(runtime, bundle, image, cid)
    assert runtime.state(cid)["status"] == "running"
    # the restored process counts on from where the image left it, below `at`
    probe.wait_for(lambda: _count(bundle) != at, 60, "the restored container to count")
    _finish(runtime, cid, bundle)


@pytest.mark.requires("criu")
def test_pre_dump_then_dump_with_parent(runtime, bundle, tmp_path):
    cid = _counting(runtime, bundle)
    images = tmp_path / "images"
    probe.call(runtime, "checkpoint", "--pre-dump", "--image-path", images / "pre", cid, check=True, timeout=SLOW)
    assert runtime.state(cid)["status"] == "running", "a pre-dump leaves the container running"
    assert any((images / "pre").iterdir())
    probe.call(runtime, "checkpoint", "--image-path", images / "final", "--parent-path", "../pre", cid,
               check=True, timeout=SLOW)
    assert (images / "final" / "parent").is_symlink()
    at = _count(bundle)
    _restore(runtime, bundle, images / "final", cid)
    _goes_on_from(bundle, at)
    _finish(runtime, cid, bundle)


# -- failures: one line, nothing left behind ---------------------------------------

def _one_line_failure(proc, runtime, cid, bundle):
    assert proc.returncode != 0, proc.stdout
    lines = probe.error_lines(proc.stderr)
    assert len(lines) == 1, proc.stderr
    probe.assert_no_leftovers(runtime, cid, bundle.path)
    assert str(runtime.root) not in support.host_mounts()
    return probe.messages(proc.stderr)


@pytest.mark.requires("criu_binary")
def test_restore_from_a_corrupt_image_dir(runtime, bundle, tmp_path):
    cid = support.unique_id("cr")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", COUNTER])
    cfg["root"]["readonly"] = False
    bundle.write()
    image = tmp_path / "image"
    image.mkdir()
    (image / "descriptors.json").write_text(json.dumps(["/dev/null"] * 3))
    (image / "inventory.img").write_bytes(b"\x00garbage, not a CRIU image\xff" * 8)
    proc = _restore(runtime, bundle, image, cid, check=False)
    _one_line_failure(proc, runtime, cid, bundle)


@pytest.mark.requires("criu_binary")
def test_restore_without_a_bundle(runtime, bundle, tmp_path):
    cid = support.unique_id("cr")
    image = tmp_path / "image"
    image.mkdir()
    (image / "descriptors.json").write_text(json.dumps(["/dev/null"] * 3))
    missing = tmp_path / "no-such-bundle"
    proc = probe.call(runtime, "restore", "-d", "--image-path", image, "--bundle", missing, cid, timeout=SLOW)
    _one_line_failure(proc, runtime, cid, bundle)


@pytest.mark.requires("criu_binary")
def test_restore_without_an_image_dir(runtime, bundle, tmp_path):
    cid = support.unique_id("cr")
    probe.prepare(bundle, cid, ["sh", "-c", COUNTER])
    bundle.write()
    proc = _restore(runtime, bundle, tmp_path / "no-such-image", cid, check=False)
    _one_line_failure(proc, runtime, cid, bundle)


@pytest.mark.requires("criu_binary")
def test_checkpoint_of_a_missing_container(runtime, tmp_path):
    proc = probe.call(runtime, "checkpoint", "--image-path", tmp_path / "image", "no-such-ct")
    assert proc.returncode != 0 and len(probe.error_lines(proc.stderr)) == 1, proc.stderr


def test_features_advertises_checkpoint_where_criu_works(runtime):
    from pyrunc.criu import host
    doc = json.loads(runtime.run("features", check=True).stdout)
    advertised = doc.get("annotations", {}).get("org.opencontainers.runc.checkpoint.enabled") == "true"
    if support.is_runc():
        assert advertised, "runc advertises it wherever it was built with CRIU support"
    else:
        assert advertised == host.check()[0], host.check()


@pytest.mark.requires("criu")
def test_shell_job_with_a_terminal(runtime, bundle, tmp_path):
    """A container on a pty: --shell-job dumps it with its terminal, and
    restore hands the new pty's master to --console-socket (CRIU's orphan
    pts master), where the restored process goes on writing."""
    cid = support.unique_id("crtty")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", "i=0; while true; do i=$((i+1)); echo $i > /count.tmp; "
                                                  "mv /count.tmp /count; echo tick-$i; sleep 0.1; done"])
    cfg["root"]["readonly"] = False
    cfg["process"]["terminal"] = True
    bundle.write()
    first = probe.ConsoleReceiver(tmp_path / "first.sock")
    second = probe.ConsoleReceiver(tmp_path / "second.sock")
    try:
        probe.call(runtime, "run", "-d", "--console-socket", first.path, "--bundle", bundle.path, cid,
                   check=True, timeout=SLOW)
        probe.wait_for(lambda: b"tick-3" in first.output, 60, "ticks on the first terminal")
        image = tmp_path / "image"
        probe.call(runtime, "checkpoint", "--shell-job", "--image-path", image, cid, check=True, timeout=SLOW)
        at = _count(bundle)
        _restore(runtime, bundle, image, cid, "--shell-job", "--console-socket", second.path)
        assert runtime.state(cid)["status"] == "running"
        probe.wait_for(lambda: f"tick-{at + 2}".encode() in second.output, 60,
                       f"tick-{at + 2} on the restored terminal")
        assert b"tick-1\r" not in second.output and b"tick-1\n" not in second.output, second.output
        _finish(runtime, cid, bundle)
    finally:
        runtime.run("delete", "--force", cid)
        first.close()
        second.close()


def test_stdio_on_dev_null_is_the_containers_own(runtime, bundle):
    """A host /dev/null as stdio (conmon's stdin, `run -d </dev/null`) is
    replaced by the container's own, as runc's reOpenDevNull does: CRIU
    cannot dump an fd on a mount outside the container (podman's checkpoint
    failed with "Can't lookup mount=N for fd=0 path=/dev/null"). Detached,
    so that the init inherits the runtime's stdio (runc's foreground run
    gives it pipes of its own)."""
    cid = support.unique_id("null")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", "m=$(awk '/^mnt_id:/ {print $2}' /proc/self/fdinfo/0); "
                                                  "awk -v m=$m '$1 == m {found=1} END {print found ? \"VISIBLE\" "
                                                  ": \"HIDDEN \" m}' /proc/self/mountinfo > /result.tmp; "
                                                  "mv /result.tmp /result"])
    cfg["root"]["readonly"] = False
    bundle.write()
    probe.call(runtime, "run", "-d", "--bundle", bundle.path, cid, check=True)   # stdin: the host's /dev/null
    result = bundle.rootfs / "result"
    probe.wait_for(result.exists, 30, "the container's answer")
    assert result.read_text().strip() == "VISIBLE"
    probe.wait_status(runtime, cid, "stopped")
    probe.call(runtime, "delete", cid, check=True)
    probe.assert_no_leftovers(runtime, cid, bundle.path)


@pytest.mark.requires("criu")
def test_restore_runs_the_prestart_hooks(runtime, bundle, tmp_path):
    """As runc's: when CRIU has made the restored tree's namespaces
    (setup-namespaces), the prestart and createRuntime hooks run with its pid."""
    out = tmp_path / "hooks"
    out.mkdir()
    cid = support.unique_id("crhook")
    cfg = probe.prepare(bundle, cid, ["sh", "-c", COUNTER])
    cfg["root"]["readonly"] = False
    cfg["hooks"] = {phase: [{"path": "/bin/sh", "args": ["sh", "-c", f"cat > {out}/{phase}.json"]}]
                    for phase in ("prestart", "createRuntime")}
    bundle.write()
    probe.call(runtime, "run", "-d", "--bundle", bundle.path, cid, check=True, timeout=SLOW)
    probe.wait_for(lambda: _count(bundle) >= 2, 60, "the container to count")
    probe.call(runtime, "checkpoint", "--image-path", tmp_path / "image", cid, check=True, timeout=SLOW)
    for f in out.iterdir():
        f.unlink()
    _restore(runtime, bundle, tmp_path / "image", cid)
    pid = runtime.state(cid)["pid"]
    for phase in ("prestart", "createRuntime"):
        state = json.loads((out / f"{phase}.json").read_text())
        assert state["id"] == cid and state["pid"] > 0, (phase, state)
    assert pid > 0
    _finish(runtime, cid, bundle)


@pytest.mark.requires("criu")
def test_restore_in_the_foreground(runtime, bundle, tmp_path):
    """Without -d, restore stays as the restored init's reaper, exits with
    its status and deletes the container, as `run` does."""
    import subprocess
    cid = _counting(runtime, bundle)
    image = tmp_path / "image"
    probe.call(runtime, "checkpoint", "--image-path", image, cid, check=True, timeout=SLOW)
    at = _count(bundle)
    with open(tmp_path / "restore.err", "w+") as err:
        proc = subprocess.Popen(runtime.argv("restore", "--image-path", image, "--bundle", bundle.path, cid),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            def running():
                got = runtime.run("state", cid)
                return got.returncode == 0 and json.loads(got.stdout)["status"] == "running"
            probe.wait_for(running, SLOW, "the restored container to run")
            _goes_on_from(bundle, at)
            probe.call(runtime, "kill", cid, "KILL", check=True)
            assert proc.wait(60) == 137, (tmp_path / "restore.err").read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    support.assert_no_traceback((tmp_path / "restore.err").read_text())
    probe.assert_no_leftovers(runtime, cid, bundle.path)
