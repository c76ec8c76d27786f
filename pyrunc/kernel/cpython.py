"""CPython's private C modules: imported here and nowhere else in pyrunc.

Why they are used at all: the public stdlib modules wrap these C halves in
Python that costs milliseconds on every call of the runtime, and memory in
every waiting container init. Measured (-X importtime, CPython 3.11):
  json       re, enum, functools, collections: ~5 ms of a 15-20 ms `state`
  signal     its Signals/Handlers enums (enum, re, ...): ~1.5 ms
  socket     enums for every constant: ~1.5 ms of every create
  threading  ~1 ms for what cgroup_prepay needs (one thread, one lock)
  hashlib    loads OpenSSL: ~2 ms of every create, for one sha256
  ctypes     ~100 classes and struct: ~2.8 ms in every create/run/exec child
The C halves are what those modules are built from, so values and results are
the same; only the Python conveniences (enums, error re-wording) are missing.
Should CPython rename one (as 3.12 did _sha256 -> _sha2), the fallback is
here, once.

How to use: `from pyrunc.kernel.cpython import socket` (never `import
_socket`). `signal`, `thread` (built into the interpreter, already loaded) and
`json` (every verb reads JSON) are imported with this module. `socket`,
`ctypes` and `sha256` are extension modules a hot verb (state, kill, start,
delete) does not need: each is loaded by the first `from ... import` that
names it (module __getattr__), i.e. at the importing module's own import
time, so the child's modules still import everything before pivot_root.
"""
import _json as json  # noqa: F401 - re-exported
import _signal as signal  # noqa: F401 - re-exported
import _thread as thread  # noqa: F401 - re-exported


def _sha256():
    try:
        from _sha256 import sha256  # CPython <= 3.11
    except ImportError:  # pragma: no cover - depends on the interpreter
        try:
            from _sha2 import sha256  # CPython 3.12+
        except ImportError:
            from hashlib import sha256
    return sha256


def _socket():
    import _socket
    return _socket


def _ctypes():
    import _ctypes
    return _ctypes


_ON_FIRST_USE = {"socket": _socket, "ctypes": _ctypes, "sha256": _sha256}


def __getattr__(name):
    load = _ON_FIRST_USE.get(name)
    if load is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = load()
    return value
