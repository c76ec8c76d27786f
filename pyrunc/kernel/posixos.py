"""The few parts of `os` and `os.path` the hot verbs (state, start, kill,
delete) use, over the `posix` module the interpreter has already loaded.

Why: `import os` runs os.py, posixpath, stat, genericpath and
_collections_abc (its ABCs): ~6.3 M instructions, ~1.2 ms, more than half of
what `state` costs above a bare interpreter (bench/README.md, session 7).
The hot verbs' modules call `posix` directly (os re-exports the very same
functions) and these helpers for the rest. Strings only, as pyrunc passes;
anything else takes os's own function. Everything else in pyrunc keeps
using `os`: create and run import it anyway.
"""
import posix
import sys

_DIR = 0o040000
_FMT = 0o170000


def getenv(name, default=None):
    """os.environ.get(name): posix.environ is the environment the process
    started with; once os is loaded, os.environ (which code may change) rules."""
    os = sys.modules.get("os")
    if os is not None:
        return os.environ.get(name, default)
    value = posix.environ.get(name.encode())
    return default if value is None else value.decode("utf-8", "surrogateescape")


def join(a, *p):
    """os.path.join for str."""
    path = posix.fspath(a)
    for b in p:
        b = posix.fspath(b)
        if b.startswith("/"):
            path = b
        elif not path or path.endswith("/"):
            path += b
        else:
            path += "/" + b
    return path


def isabs(path):
    return posix.fspath(path).startswith("/")


def exists(path):
    try:
        posix.stat(path)
    except (OSError, ValueError):
        return False
    return True


def isdir(path):
    try:
        st = posix.stat(path)
    except (OSError, ValueError):
        return False
    return st.st_mode & _FMT == _DIR


def abspath(path):
    """os.path.abspath for str: made absolute from the cwd, then normalized
    (".", "..", repeated slashes; two leading slashes stay two, as POSIX allows)."""
    path = posix.fspath(path)
    if not isinstance(path, str):
        import os
        return os.path.abspath(path)
    if not path.startswith("/"):
        path = posix.getcwd() + "/" + path
    lead = "//" if path.startswith("//") and not path.startswith("///") else "/"
    parts = []
    for part in path.split("/"):
        if part == ".." and parts:
            parts.pop()
        elif part not in ("", ".", ".."):
            parts.append(part)
    return lead + "/".join(parts)


def dirname(path):
    """os.path.dirname for str."""
    path = posix.fspath(path)
    head = path[:path.rfind("/") + 1]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head


def walk_dirs(top):
    """The directory paths os.walk(top) yields, top-down, no symlinks
    followed; one that cannot be listed (removed meanwhile) is skipped with
    what is below it, as os.walk skips it."""
    stack = [posix.fspath(top)]
    while stack:
        d = stack.pop()
        try:
            with posix.scandir(d) as entries:
                subs = [e.path for e in entries if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        yield d
        stack.extend(reversed(subs))
