"""CVE-2019-5736: a container process opened /proc/<pid>/exe of the runtime
process that had entered the container (runc init) and overwrote the host
binary through that handle. For pyrunc that binary is the Python
interpreter. Every pyrunc process that joins the container is non-dumpable
until execve, so a container process, even one with the same uid and
capabilities, cannot open its /proc/<pid>/exe (runc 1.1.5 lets it open its
init's exe, but that is a sealed memfd copy, never the host's binary).

The attack is done from inside the container, with the credentials a
container process really has, against what is checked on the host: the
file the container got a handle on must not be a host binary of the runtime.
A positive control proves the container can open a dumpable peer's exe.

How it can fail: with pyrunc's guard `dumpable` turned off, the created
container's init (still the interpreter) is opened and the first test fails
(test_guards_are_load_bearing.py). runc 1.1.5 fails it too (xfail strict):
it hands out a read-only view of its own binary. The race passes with both
(a positive control, the exec'd busybox, proves the attack loop works)."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys

import pytest

from tests import support
from tests.conformance import probe
from tests.security.conftest import fails_with_runc

pytestmark = pytest.mark.requires("root")

# open a process's exe for reading, as the attack's first step; print the
# identity of the file we hold (our own fd: no race with the target's exit)
_HOLD = '( exec 3</proc/{pid}/exe && stat -L -c "HELD {pid} %d:%i" /proc/self/fd/3 )'


def _host_binaries():
    """dev:ino of every host file the runtime under test runs as."""
    paths = {os.path.realpath(sys.executable), os.path.realpath(support.runtime_binary())}
    runc = shutil.which("runc")
    if runc:
        paths.add(os.path.realpath(runc))
    out = {}
    for p in paths:
        st = os.stat(p)
        out[f"{st.st_dev}:{st.st_ino}"] = p
    return out


def _held(text):
    """{pid: 'dev:ino'} from the HELD lines of the attack's output."""
    held = {}
    for line in text.splitlines():
        if line.startswith("HELD "):
            _, pid, ident = line.split()
            held[pid] = ident
    return held


def _quiet(runtime, *args):
    # the container inherits the runtime's stdio: a pipe would never see EOF
    return runtime.run(*args, capture_output=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@fails_with_runc("its init's exe opens onto the host's runc binary (behind a read-only bind "
                 "mount, its own fix, that keeps it from being written); no handle at all is asked here")
def test_created_init_exe_is_unreachable_from_the_container(runtime, bundle):
    """A created container's init is the runtime itself, waiting in the
    container with the container's credentials: the widest window there is."""
    cid = support.unique_id("x5736")
    probe.prepare(bundle, cid, ["true"])
    bundle.write()
    assert _quiet(runtime, "create", "-b", bundle.path, cid).returncode == 0
    try:
        proc = runtime.run("exec", cid, "sh", "-c",
                           _HOLD.format(pid=1) + " 2>/dev/null || echo DENIED; "
                           "sleep 5 & " + _HOLD.format(pid="$!") + "; kill $!")
        assert proc.returncode == 0, proc.stderr
    finally:
        runtime.run("delete", "--force", cid)
    held = _held(proc.stdout)
    others = [ident for pid, ident in held.items() if pid != "1"]
    assert others, f"control: a dumpable peer's exe could not be opened: {proc.stdout}"
    host = _host_binaries()
    assert held.get("1") not in host, f"the container holds {host[held['1']]}: {proc.stdout}"


# For every other process in the container: open its exe, as above, while
# the host makes `exec` after `exec`; each puts a runtime process in the
# container for a moment.
# The loop ends when the host says stop (after its last exec), or after
# 120 s: on a slow machine (the TCG guest) ten execs outlast a fixed 10 s,
# and execs into a container whose attacker has exited fail.
ATTACK = r"""
end=$(( $(date +%s) + 120 ))
while [ $(date +%s) -lt $end ]; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = "$$" ] && continue
    [ "$p" = 1 ] && continue
    ( exec 3</proc/$p/exe && stat -L -c "HELD $p %d:%i" /proc/self/fd/3 ) 2>/dev/null
  done
  [ -e /tmp/stop ] && break
done
echo done
"""


def test_racing_execs_never_hand_out_the_host_binary(runtime, bundle):
    host_exe = os.path.realpath(sys.executable)
    before = _sha(host_exe)
    cfg = bundle.config
    cfg["root"]["readonly"] = False
    os.makedirs(bundle.rootfs / "tmp", exist_ok=True)
    # give the container what a real attacker would have as root in it
    caps = ["CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_KILL", "CAP_CHOWN", "CAP_FOWNER"]
    cfg["process"]["capabilities"] = {s: caps for s in ("bounding", "effective", "permitted")}
    cid = support.unique_id("x5736")
    probe.prepare(bundle, cid, ["sh", "-c", ATTACK])
    bundle.write()
    out = bundle.path / "attack.out"
    with open(out, "w") as f:
        attacker = subprocess.Popen(runtime.argv("run", "-b", bundle.path, cid),
                                    stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    results = []
    try:
        probe.wait_for(lambda: '"running"' in runtime.run("state", cid).stdout, timeout=20,
                       what=f"{cid} to run")
        for _ in range(10):
            results.append(_quiet(runtime, "exec", cid, "sleep", "0.3").returncode)
        open(bundle.rootfs / "tmp" / "stop", "w").close()
        attacker.wait(timeout=40)
    finally:
        if attacker.poll() is None:
            runtime.run("kill", cid, "KILL")
            attacker.wait(timeout=20)
    text = out.read_text()
    assert "done" in text, text
    assert results == [0] * len(results), f"the execs the attack races failed: {results}"
    held = set(_held(text).values())
    assert held, f"control: the attack never opened even the exec'd busybox: {text}"
    host = _host_binaries()
    assert not held & set(host), f"the container held {[host[h] for h in held & set(host)]}"
    assert _sha(host_exe) == before
