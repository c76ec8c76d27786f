"""OCI hooks: run each with the container's state JSON on stdin.

Used by the parent (prestart, createRuntime, poststart, poststop) and by the
container's init (createContainer before pivot_root, startContainer after
start). Import-light, and imported eagerly by init: subprocess is all it needs.
"""
import subprocess

from pyrunc import jsonio
from pyrunc.errors import HookFailed, describe_oserror


def run_hooks(phase, hooks, state, default_env=None):
    """Run `hooks` in order; the first failure raises HookFailed.

    A hook without `env` gets `default_env` (a dict), or with None this
    process's environment: the runtime's for the runtime's hooks; the
    container's process's for the container-side ones (runc's init runs
    them with the process's environment as its own)."""
    payload = jsonio.dumps(state).encode()
    for i, hook in enumerate(hooks or ()):
        _run_one(phase, i, hook, payload, default_env)


def _run_one(phase, index, hook, payload, default_env):
    path = hook.get("path", "")
    args = hook.get("args") or [path]
    env = hook.get("env")
    timeout = hook.get("timeout")
    where = f"{phase} hook #{index} ({path})"
    try:
        proc = subprocess.Popen(args, executable=path, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=_env(env) if env is not None else default_env, close_fds=True)
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
    result = {}
    for item in env:
        key, _, value = item.partition("=")
        result[key] = value
    return result
