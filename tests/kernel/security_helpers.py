"""Run one security primitive in a throwaway forked child and bring back what
it saw (tests/kernel/test_security_*.py). The child reports through a pipe
as JSON and leaves with os._exit, so a seccomp filter, a dropped capability
or a changed uid never touches the pytest process."""
from __future__ import annotations

import json
import os
import signal
import traceback


class ChildResult:
    def __init__(self, value, error, status):
        self.value = value
        self.error = error          # "ExcType: message" or None
        self.status = status        # raw wait status

    @property
    def signal(self):
        return os.WTERMSIG(self.status) if os.WIFSIGNALED(self.status) else None

    @property
    def exit_code(self):
        return os.WEXITSTATUS(self.status) if os.WIFEXITED(self.status) else None

    def ok(self):
        assert self.error is None and self.signal is None, (self.error, self.signal)
        return self.value


def in_child(fn, *args, timeout=20, **kwargs) -> ChildResult:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            os.close(r)
            signal.alarm(timeout)
            payload = {"value": fn(*args, **kwargs)}
        except BaseException as exc:  # noqa: BLE001 - everything goes back as data
            payload = {"error": f"{type(exc).__name__}: {exc}",
                       "trace": traceback.format_exc()}
            code = 1
        try:
            data = json.dumps(payload).encode()
            while data:
                data = data[os.write(w, data):]
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    with os.fdopen(r, "rb") as f:
        chunks.append(f.read())
    _, status = os.waitpid(pid, 0)
    raw = b"".join(chunks)
    payload = json.loads(raw) if raw else {}
    return ChildResult(payload.get("value"), payload.get("error"), status)


def status_fields(text: str | None = None) -> dict:
    """/proc/self/status as a dict of the fields the tests read."""
    if text is None:
        with open("/proc/self/status") as f:
            text = f.read()
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    return out


def capmask(field: str) -> set[int]:
    value = int(field, 16)
    return {n for n in range(64) if value >> n & 1}
