"""cgroupfs I/O: the one place that reads, writes, makes and removes cgroup files.

Every driver goes through these helpers so that a failure always reads the
same way: `cgroup <controller>: <op> <file>=<value>: <cause>`, the message the
cli prints for a failed `create` or `update`. Only `posix` is used, not even
`os`: this module is loaded by `kill` and `delete`, which must stay cheap
(pyrunc/kernel/posixos.py).
"""

import errno
import posix  # not os: kill and delete never load it (pyrunc/kernel/posixos.py)
import time

from pyrunc.errors import CgroupError, describe_oserror
from pyrunc.kernel import posixos


def write(directory: str, name: str, value: str, controller: str | None = None) -> None:
    """Write one value to a cgroup file (no O_CREAT: cgroupfs files exist or fail)."""
    path = posixos.join(directory, name)
    try:
        # O_TRUNC as runc does: harmless on cgroupfs, and needed on the plain
        # files of the fake cgroupfs the unit tests use.
        fd = posix.open(path, posix.O_WRONLY | posix.O_CLOEXEC | posix.O_TRUNC)
        try:
            posix.write(fd, value.encode())
        finally:
            posix.close(fd)
    except OSError as exc:
        raise CgroupError(
            f"cgroup {controller or controller_of(name)}: write {name}={value}: {describe_oserror(exc)}"
        ) from exc


def read(directory: str, name: str, controller: str | None = None) -> str:
    path = posixos.join(directory, name)
    try:
        with open(path) as f:
            return f.read()
    except OSError as exc:
        raise CgroupError(
            f"cgroup {controller or controller_of(name)}: read {name}: {describe_oserror(exc)}"
        ) from exc


def read_opt(directory: str, name: str) -> str | None:
    """The file's content, or None when it does not exist or cannot be read."""
    try:
        with open(posixos.join(directory, name)) as f:
            return f.read()
    except OSError:
        return None


def read_int(directory: str, name: str, default: int = 0) -> int:
    """A single-number file; "max" and absent files give `default`."""
    text = read_opt(directory, name)
    if text is None:
        return default
    text = text.strip()
    if text in ("", "max"):
        return default
    try:
        return int(text.split()[0])
    except ValueError:
        return default


def read_keyed(directory: str, name: str) -> dict[str, int]:
    """A flat keyed file such as memory.stat or cpu.stat: `key value` per line."""
    out: dict[str, int] = {}
    for line in (read_opt(directory, name) or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def exists(directory: str, name: str) -> bool:
    return posixos.exists(posixos.join(directory, name))


def controller_of(filename: str) -> str:
    """memory.max -> memory, cgroup.procs -> cgroup, devices.allow -> devices."""
    return filename.split(".", 1)[0]


def makedirs(path: str, controller: str) -> list[str]:
    """mkdir -p that returns the directories it made, shallowest first.

    A parent can vanish under us (another container's delete prunes an empty
    shared parent between our check and our mkdir): start over a few times.
    """
    made: list[str] = []
    for attempt in range(5):
        missing: list[str] = []
        p = path
        while p and p != "/" and not posixos.isdir(p):
            missing.append(p)
            p = posixos.dirname(p)
        try:
            for d in reversed(missing):
                try:
                    posix.mkdir(d, 0o755)
                except FileExistsError:
                    continue
                if d not in made:
                    made.append(d)
            return made
        except FileNotFoundError as exc:
            if attempt == 4:
                raise CgroupError(f"cgroup {controller}: mkdir {exc.filename}: {describe_oserror(exc)}") from exc
        except OSError as exc:
            raise CgroupError(f"cgroup {controller}: mkdir {exc.filename or path}: {describe_oserror(exc)}") from exc
    return made


def rmdir_tree(path: str, timeout: float = 2.0) -> None:
    """Remove a cgroup and any child cgroups, deepest first.

    A cgroup whose last process has just died can still be busy for a moment
    (the kernel drains it), so EBUSY is retried with a short backoff, as runc's
    RemovePath does. A missing directory is success: destroy is idempotent.
    """
    if not posixos.isdir(path):
        return
    try:
        children = [e.path for e in posix.scandir(path) if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return
    for child in children:
        rmdir_tree(child, timeout)
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            posix.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY, errno.EAGAIN) or time.monotonic() > deadline:
                raise CgroupError(f"cgroup: remove {path}: {describe_oserror(exc)}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def rmdir_if_empty(path: str) -> bool:
    """rmdir that only succeeds on an empty cgroup (the kernel checks for us)."""
    try:
        posix.rmdir(path)
        return True
    except OSError:
        return False


def procs(directory: str, recursive: bool = True) -> list[int]:
    """Pids in cgroup.procs of `directory` (and, recursively, its children)."""
    pids: list[int] = []
    for d in (posixos.walk_dirs(directory) if recursive else (directory,)):
        for line in (read_opt(d, "cgroup.procs") or "").split():
            try:
                pids.append(int(line))
            except ValueError:
                continue
    return sorted(set(pids))
