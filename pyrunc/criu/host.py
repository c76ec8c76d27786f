"""Whether CRIU works on this host: `criu check` (its kernel probes) exits 0.

Debian's CRIU 3.17 fails it on some newer kernels (it cannot parse their
vDSO); `features` advertises checkpoint/restore only where it passes, and
the tests skip with CRIU's own reason where it does not.

Place in the flow: pyrunc.features and tests/conftest.py.
"""
import os
import shutil
import subprocess


def check():
    """(True, "") where `criu check` passes, else (False, why)."""
    path = shutil.which("criu")
    if path is None:
        return False, "criu is not installed"
    if os.geteuid() != 0:
        return False, "criu check needs root"
    try:
        done = subprocess.run([path, "check"], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"criu check: {exc}"
    if done.returncode == 0:
        return True, ""
    lines = [ln for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
    return False, "criu check: " + (lines[0] if lines else f"exit status {done.returncode}")
