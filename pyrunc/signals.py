"""Signal names and numbers as runc accepts them (`kill`, process.killSignal).

Import-light on purpose: `pyrunc kill` runs under shims on every stop and must
not load pyrunc.plan (dataclasses, ctypes) just to read "KILL".
"""
import signal


def signal_number(value) -> int:
    """A signal as runc accepts it: 9, KILL, SIGKILL (any case)."""
    text = str(value).strip()
    if text.isdigit():
        num = int(text)
        if 0 < num < signal.NSIG:
            return num
    else:
        name = text.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        sig = getattr(signal.Signals, name, None) if name in signal.Signals.__members__ else None
        if sig is not None:
            return int(sig)
        if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
            base = signal.SIGRTMIN if name.startswith("SIGRTMIN") else signal.SIGRTMAX
            rest = name[8:]
            try:
                return int(base) + int(rest or 0)
            except ValueError:
                pass
    from pyrunc.errors import UsageError
    raise UsageError(f"unknown signal {value!r}")
