"""CVE-2019-5736: a container process opened /proc/<pid>/exe of the runtime
process that had entered the container (runc init) and overwrote the host
binary through it. For pyrunc that binary is the Python interpreter. Every
pyrunc process that joins the container is non-dumpable, so a container
process cannot even open its /proc/<pid>/exe; the attack below races many
`exec`s and must never get a handle, and the interpreter stays unchanged."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from tests import support
from tests.conformance import probe

pytestmark = pytest.mark.requires("root")

# For every other process in the container: try to open its exe for reading
# (the handle the attack keeps), and for appending. Report what succeeded.
ATTACK = r"""
seen=""
end=$(( $(date +%s) + 20 ))
while [ $(date +%s) -lt $end ]; do
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    [ "$p" = "$$" ] && continue
    [ "$p" = 1 ] && continue
    # on success, name the file we hold (our own fd: no race with its exit)
    r=$( (exec 3</proc/$p/exe && readlink /proc/self/fd/3) 2>/dev/null ) && echo "READ $p $r"
    w=$( (exec 3>>/proc/$p/exe && readlink /proc/self/fd/3) 2>/dev/null ) && echo "WRITE $p $w"
  done
  [ -e /tmp/stop ] && break
done
echo done
"""


def _quiet(runtime, *args):
    # the container inherits the runtime's stdio: a pipe would never see EOF
    return runtime.run(*args, capture_output=False, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def _wait_running(runtime, cid):
    def running():
        proc = runtime.run("state", cid)
        return proc.returncode == 0 and '"running"' in proc.stdout
    probe.wait_for(running, timeout=20, what=f"{cid} to run")


def _sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_exe_of_entering_runtime_is_unreachable(runtime, bundle):
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
    try:
        _wait_running(runtime, cid)
        for _ in range(15):  # each exec puts a runtime process in the container for a moment
            _quiet(runtime, "exec", cid, "true")
        open(bundle.rootfs / "tmp" / "stop", "w").close()
        attacker.wait(timeout=40)
    finally:
        if attacker.poll() is None:
            runtime.run("kill", cid, "KILL")
            attacker.wait(timeout=20)
    text = out.read_text()
    assert "done" in text, text
    hits = [line for line in text.splitlines() if line.startswith(("READ", "WRITE"))]
    # a container's own processes (busybox) may show up; any host binary may not
    bad = [line for line in hits if not line.split(" ", 2)[2].endswith(("/bin/busybox", "/bin/sh", "/bin/true"))]
    assert not bad, bad
    assert _sha(host_exe) == before


def test_stage1_and_init_are_not_dumpable(runtime, bundle):
    """Before start, the init is still the Python runtime: its /proc files are
    root-owned and unreadable to the container (dumpable 0)."""
    cid = support.unique_id("dump")
    probe.prepare(bundle, cid, ["true"])
    bundle.write()
    assert _quiet(runtime, "create", "-b", bundle.path, cid).returncode == 0
    try:
        pid = runtime.state(cid)["pid"]
        # a non-dumpable process's /proc/<pid> files belong to root:root and
        # its exe link is denied to anyone without CAP_SYS_PTRACE over it;
        # read it as "nobody" from a helper to see the container's view
        res = subprocess.run([sys.executable, "-c", f"""
import os
os.setgid(65534); os.setuid(65534)
try:
    os.readlink('/proc/{pid}/exe'); print('READABLE')
except PermissionError:
    print('DENIED')
"""], capture_output=True, text=True)
        assert res.stdout.strip() == "DENIED", res
    finally:
        runtime.run("delete", "--force", cid)
