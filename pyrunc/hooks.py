"""OCI hooks: run each with the container's state JSON on stdin.

Used by the parent (prestart, createRuntime, poststart, poststop) and by the
container's init (createContainer before pivot_root, startContainer after
start). Import-light, and imported eagerly by init: subprocess is all it needs.
"""
import subprocess

from pyrunc import jsonio
from pyrunc.errors import describe_oserror


class HookFailed(Exception):
    """One hook failed; str() is the one-line reason."""


def run_hooks(phase, hooks, state):
    """Run `hooks` in order; the first failure raises HookFailed."""
    payload = jsonio.dumps(state).encode()
    for i, hook in enumerate(hooks or ()):
        _run_one(phase, i, hook, payload)


def _run_one(phase, index, hook, payload):
    path = hook.get("path", "")
    args = hook.get("args") or [path]
    env = hook.get("env")
    timeout = hook.get("timeout")
    where = f"{phase} hook #{index} ({path})"
    try:
        proc = subprocess.Popen(args, executable=path, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_env(env), close_fds=True)
    except OSError as exc:
        raise HookFailed(f"{where}: {describe_oserror(exc)}") from None
    try:
        out, err = proc.communicate(payload, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise HookFailed(f"{where}: timed out after {timeout}s") from None
    except BrokenPipeError:
        out, err = proc.communicate()
    if proc.returncode != 0:
        if proc.returncode < 0:
            status = f"killed by signal {-proc.returncode}"
        else:
            status = f"exit status {proc.returncode}"
        detail = (err or out or b"").decode(errors="replace").strip().splitlines()
        tail = f": {detail[-1]}" if detail else ""
        raise HookFailed(f"{where}: {status}{tail}")


def _env(env):
    if env is None:
        return None  # like runc (Go's exec with a nil Env): the runtime's environment
    result = {}
    for item in env:
        key, _, value = item.partition("=")
        result[key] = value
    return result
