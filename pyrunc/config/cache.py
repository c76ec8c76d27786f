"""Verdict cache: remembers that a config.json passed the schema, so the next
create with the same bytes skips the schema step entirely (compiling the
validator, or importing jsonschema: 50-70 ms).

Place in the flow: pyrunc.config asks `seen_valid()` before the schema step and
calls `remember_valid()` after a clean pass. Only the schema verdict is cached:
the rules of config/checks/ (rootfs exists, namespace files, kernel capabilities) look
at the filesystem and the kernel, so they run on every create, hit or miss.

An entry is a file `<cache_dir>/<key>` holding `<key>\\n`, where key =
sha256(schema digest + config bytes). Entries are written to a temp file and
renamed (readers never see half an entry), anything unreadable or not holding
its own key is ignored, and every failure here only costs a miss: the cache
can never turn an invalid config valid nor fail a create. Import-light.
"""
from __future__ import annotations

import os

from pyrunc.kernel.cpython import sha256  # without hashlib's OpenSSL load

MAX_ENTRIES = 256


def key_for(schema_digest: bytes, raw: bytes) -> str:
    return sha256(b"pyrunc-config-verdict\0" + schema_digest + b"\0" + raw).hexdigest()


def seen_valid(cache_dir: str | None, key: str) -> bool:
    if not cache_dir:
        return False
    try:
        fd = os.open(os.path.join(cache_dir, key), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return os.read(fd, 200) == (key + "\n").encode()
    except OSError:
        return False
    finally:
        os.close(fd)


def remember_valid(cache_dir: str | None, key: str) -> None:
    if not cache_dir:
        return
    tmp = None
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        tmp = os.path.join(cache_dir, f".tmp-{os.getpid()}-{os.urandom(6).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (key + "\n").encode())
        finally:
            os.close(fd)
        os.replace(tmp, os.path.join(cache_dir, key))
        _prune(cache_dir)
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _prune(cache_dir: str) -> None:
    """Keep the directory small: past MAX_ENTRIES, drop the oldest half (and stale temps)."""
    with os.scandir(cache_dir) as it:
        entries = [e for e in it if e.is_file(follow_symlinks=False)]
    if len(entries) <= MAX_ENTRIES:
        return
    def mtime(e):
        try:
            return e.stat(follow_symlinks=False).st_mtime
        except OSError:
            return 0.0
    entries.sort(key=mtime)
    for entry in entries[: len(entries) // 2]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass
