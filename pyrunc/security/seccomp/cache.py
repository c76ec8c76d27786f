"""Compiled-seccomp cache: the same profile twice costs a file read, not a
libseccomp compile.

Place in the flow: config/checks/seccomp.py (create, validate) and lifecycle/exec.py call `compile_cached()` while
preparing a create/exec. On a hit it returns the CompiledSeccomp stored by an
earlier create without importing pyseccomp or libseccomp (~10 ms) or running
the compiler (~15-40 ms for podman's or Docker's ~430-name profile); on a miss
it calls pyrunc.security.seccomp.compile.compile_seccomp and stores the result. podman and
containerd hand every container the same default profile, so nearly every
create is a hit.

An entry is `<cache_dir>/seccomp-<key>.json` = {"key": key, "compiled": ...};
key = sha256 over the profile's canonical JSON, the machine, pyrunc's
compiler source and the libseccomp library file (size + mtime), so a new
compiler or libseccomp never serves an old program. Only successful compiles
are stored: a bad profile is a ConfigError every time. Entries are written to
a temp file and renamed; anything unreadable, or not holding its own key, is
a miss. The cache dir is the runtime root's (root-only), the same trust as
state.json. Import-light: no pyseccomp here.
"""
from __future__ import annotations

import base64
import os
from pyrunc import jsonio
from pyrunc.records import dataclass, field  # not dataclasses: ~13 ms per create (pyrunc.records)

from pyrunc.kernel.cpython import sha256  # without hashlib's OpenSSL load

MAX_ENTRIES = 64
_LIB_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib")


@dataclass(frozen=True)
class CompiledSeccomp:
    """What the child needs to load the filter: plain data only.

    bpf: the sock_filter array (8 bytes per instruction, host byte order).
    flags: seccomp(2) flags, NEW_LISTENER included when `uses_notify`.
    optional_flags: flags pyrunc added by default (SPEC_ALLOW); the child
        retries without them if the kernel says EINVAL.
    seccomp_nr: the native number of the seccomp syscall (the child has no
        libseccomp to look it up).
    """

    bpf: bytes
    flags: int = 0
    uses_notify: bool = False
    listener_path: str = ""
    listener_metadata: str = ""
    seccomp_nr: int = -1
    optional_flags: int = 0
    skipped_syscalls: tuple = field(default_factory=tuple)

    @property
    def instructions(self) -> int:
        return len(self.bpf) // 8

    def to_dict(self) -> dict:
        return {
            "bpf": base64.b64encode(self.bpf).decode("ascii"),
            "flags": self.flags,
            "uses_notify": self.uses_notify,
            "listener_path": self.listener_path,
            "listener_metadata": self.listener_metadata,
            "seccomp_nr": self.seccomp_nr,
            "optional_flags": self.optional_flags,
            "skipped_syscalls": list(self.skipped_syscalls),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "CompiledSeccomp":
        data = dict(data)
        data["bpf"] = base64.b64decode(data["bpf"])
        data["skipped_syscalls"] = tuple(data.get("skipped_syscalls", ()))
        return cls(**data)


def compile_cached(linux_seccomp: dict | None, warn=None, *, cache_dir: str | None = None,
                   debug=None) -> CompiledSeccomp | None:
    """compile_seccomp() with a cache in `cache_dir` (None: no cache)."""
    if not linux_seccomp:
        return _compile(linux_seccomp, warn, debug)
    key = cache_key(linux_seccomp) if cache_dir else None
    if key:
        hit = _read(cache_dir, key)
        if hit is not None:
            if debug:
                for name in hit.skipped_syscalls:
                    debug(f"seccomp: unknown syscall {name!r} ignored")
            return hit
    compiled = _compile(linux_seccomp, warn, debug)
    if key and compiled is not None:
        _write(cache_dir, key, compiled)
    return compiled


def _compile(linux_seccomp, warn, debug):
    from pyrunc.security.seccomp import compile as seccomp
    return seccomp.compile_seccomp(linux_seccomp, warn, debug=debug)


def cache_key(linux_seccomp: dict) -> str | None:
    lib = _libseccomp_stat()
    if lib is None:
        return None  # cannot tell which libseccomp would compile it: no cache
    try:
        src = os.stat(os.path.join(os.path.dirname(__file__), "compile.py"))
        profile = jsonio.dumps(linux_seccomp, sort_keys=True, separators=(",", ":")).encode()
    except (OSError, TypeError, ValueError):
        return None
    h = sha256(b"pyrunc-seccomp\0")
    h.update(f"{os.uname().machine}\0{src.st_size}:{src.st_mtime_ns}\0{lib}\0".encode())
    h.update(profile)
    return h.hexdigest()


def _libseccomp_stat() -> str | None:
    machine = os.uname().machine
    for base in _LIB_DIRS:
        for sub in (f"{machine}-linux-gnu", ""):
            path = os.path.join(base, sub, "libseccomp.so.2")
            try:
                st = os.stat(path)
            except OSError:
                continue
            return f"{os.path.realpath(path)}:{st.st_size}:{st.st_mtime_ns}"
    return None


def _path(cache_dir, key):
    return os.path.join(cache_dir, f"seccomp-{key}.json")


def _read(cache_dir, key) -> CompiledSeccomp | None:
    try:
        fd = os.open(_path(cache_dir, key), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            data = jsonio.loads(f.read())
        if data.get("key") != key:
            return None
        return CompiledSeccomp.from_dict(data["compiled"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(cache_dir, key, compiled) -> None:
    tmp = None
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        tmp = os.path.join(cache_dir, f".tmp-seccomp-{os.getpid()}-{os.urandom(6).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(jsonio.dumps({"key": key, "compiled": compiled.to_dict()}).encode())
        os.replace(tmp, _path(cache_dir, key))
        tmp = None
        _prune(cache_dir)
    except OSError:
        pass  # a cache that cannot be written only costs the next create a compile
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _prune(cache_dir) -> None:
    with os.scandir(cache_dir) as it:
        entries = [e for e in it if e.name.startswith("seccomp-") and e.is_file(follow_symlinks=False)]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns)
    for e in entries[: len(entries) // 2]:
        try:
            os.unlink(e.path)
        except OSError:
            pass
