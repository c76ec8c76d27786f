"""Signal names and numbers as runc accepts them (`kill`, process.killSignal).

Import-light on purpose: `pyrunc kill` runs under shims on every stop and must
not load pyrunc.plan (dataclasses, ctypes) just to read "KILL". Nor signal.py:
its Signals enum imports enum (and re, functools, collections) for ~1.5 ms;
the hot modules use `_signal`, its C half (through pyrunc.kernel.cpython),
and the names come from there.
"""
from pyrunc.kernel.cpython import signal as _signal

# SIGKILL -> 9, and the aliases (SIGIOT, SIGPOLL, ...), as signal.Signals has them
NUMBERS = {n: getattr(_signal, n) for n in dir(_signal) if n.startswith("SIG") and not n.startswith("SIG_")}


def signal_number(value) -> int:
    """A signal as runc accepts it: 9, KILL, SIGKILL (any case)."""
    text = str(value).strip()
    if text.isdigit():
        num = int(text)
        if 0 < num < _signal.NSIG:
            return num
    else:
        name = text.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        sig = NUMBERS.get(name)
        if sig is not None:
            return sig
        if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
            base = _signal.SIGRTMIN if name.startswith("SIGRTMIN") else _signal.SIGRTMAX
            rest = name[8:]
            try:
                return int(base) + int(rest or 0)
            except ValueError:
                pass
    from pyrunc.errors import UsageError
    raise UsageError(f"unknown signal {value!r}")


def kill_signal(value) -> int:
    """A signal for `kill`: as signal_number, and also 0, the liveness probe
    (runc sends it: nothing is delivered, the answer says whether the
    container's init is there)."""
    if str(value).strip() == "0":
        return 0
    return signal_number(value)
