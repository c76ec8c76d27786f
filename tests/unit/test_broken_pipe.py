"""A reader that goes away (`pyrunc features | head -1`) is not an error:
runc dies of SIGPIPE there, silently. pyrunc must not print a traceback or
an "internal error" line, whether the pipe breaks inside the verb (click's
echo flushes) or at the last flush of stdout."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("argv", [["features"], ["--version"], ["spec", "--help"]])
def test_closed_stdout_is_silent(argv):
    r, w = os.pipe()
    os.close(r)  # the reader is gone before pyrunc writes a byte
    try:
        proc = subprocess.run([sys.executable, "-m", "pyrunc", *argv], stdout=w,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(w)
    assert proc.stderr == ""
    assert proc.returncode in (0, 1)
