"""The on-disk record of containers, `<root>/<id>/`: this module is the
state dir (the flock, the atomic state.json, list, remove); status.py derives
a container's status from facts and holds the table of what each status
allows. Import-light: every verb, the hot ones included, starts here.

The on-disk record of containers: `<root>/<id>/`.

Layout: `state.json` (written atomically: temp + rename), `exec.fifo`
(present while the container is `created`), and the directory itself is the
lock (flock), so commands on one id serialize. Import-light: `state`, `kill`
and `delete` run constantly under shims.
"""

import posix  # not os: the hot verbs never load it (pyrunc/kernel/posixos.py)

from pyrunc import jsonio
from pyrunc.errors import ContainerExists, ContainerNotFound, PyruncError, UsageError, describe_oserror
from pyrunc.kernel import posixos

# runc's ^[\w+-.]+$ as a set (`re` costs ~3 ms of every command); a leading
# dot is refused too: dot-names under --root are ours (the validation cache)
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-")


def is_id(name: str) -> bool:
    return bool(name) and name[0] != "." and _ID_CHARS.issuperset(name)


STATE_FILE = "state.json"
FIFO_NAME = "exec.fifo"
# what a create may have put in its dir before state.json (lifecycle/notify.py's dir,
# the init's error file): the only names a dir without a record may hold
HALF_MADE_NAMES = frozenset({FIFO_NAME, "notify", "init.err"})


def default_root() -> str:
    """--root's default, by runc's rule (shouldHonorXDGRuntimeDir): /run/pyrunc
    for the host's root; `$XDG_RUNTIME_DIR/pyrunc` for any other user, and for
    root in a user namespace when $USER is not root. A non-root user without a
    usable XDG_RUNTIME_DIR gets one line saying so (runc would try /run/runc
    and fail on its permissions later), never a shared directory in /tmp."""
    xdg = posixos.getenv("XDG_RUNTIME_DIR")
    if posix.geteuid() == 0:
        if not (xdg and posixos.getenv("USER") != "root"):
            return "/run/pyrunc"
        from pyrunc.rootless import in_user_namespace
        if not in_user_namespace():
            return "/run/pyrunc"
    if not xdg:
        raise PyruncError("XDG_RUNTIME_DIR is not set: a non-root user's containers live in "
                          "$XDG_RUNTIME_DIR/pyrunc (set it, or pass --root DIR)")
    if not (posixos.isabs(xdg) and posixos.isdir(xdg) and posix.access(xdg, posix.W_OK | posix.X_OK)):
        raise PyruncError(f"XDG_RUNTIME_DIR {xdg}: not a directory this user can write "
                          "(set it to one, or pass --root DIR)")
    return posixos.join(xdg, "pyrunc")


def check_id(container_id: str) -> None:
    if not container_id:
        raise UsageError("container id cannot be empty")
    if not is_id(container_id):
        raise UsageError(f"invalid container id format: {container_id}")


class ContainerDir:
    """One container's state directory, held under an exclusive flock."""

    def __init__(self, root: str, container_id: str, fd: int, locked: bool = True):
        self.root = root
        self._locked = locked
        self.id = container_id
        self.path = posixos.join(root, container_id)
        self._fd = fd

    # -- opening ---------------------------------------------------------
    @classmethod
    def create(cls, root: str, container_id: str) -> "ContainerDir":
        """mkdir is the atomic claim on an id: one concurrent create wins."""
        check_id(container_id)
        try:
            import os  # create's path: it loads os anyway
            os.makedirs(root, mode=0o711, exist_ok=True)
        except OSError as exc:
            raise PyruncError(f"root {root}: {describe_oserror(exc)}") from None
        path = posixos.join(root, container_id)
        try:
            posix.mkdir(path, 0o711)
        except FileExistsError:
            raise ContainerExists(container_id) from None
        except OSError as exc:
            raise PyruncError(f"root {root}: {describe_oserror(exc)}") from None
        fd = posix.open(path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        import fcntl
        fcntl.flock(fd, fcntl.LOCK_EX)
        return cls(root, container_id, fd)

    @classmethod
    def open(cls, root: str, container_id: str, *, lock: bool = True) -> "ContainerDir":
        check_id(container_id)
        path = posixos.join(root, container_id)
        try:
            fd = posix.open(path, posix.O_RDONLY | posix.O_DIRECTORY | posix.O_CLOEXEC)
        except FileNotFoundError:
            raise ContainerNotFound(container_id) from None
        except NotADirectoryError:
            raise ContainerNotFound(container_id) from None
        except OSError as exc:
            raise PyruncError(f"container {container_id}: {path}: {describe_oserror(exc)}") from None
        owner = posix.fstat(fd).st_uid
        if owner != posix.geteuid():
            # a record planted by someone else could name any pid or cgroup
            # for us to kill or remove: never act on it
            posix.close(fd)
            raise PyruncError(f"container {container_id}: state directory {path} is owned by uid {owner}, "
                              f"not {posix.geteuid()}")
        if lock:
            import fcntl  # here, not at the top: `state` and `list` take no lock (fcntl: ~0.1 ms)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if posix.fstat(fd).st_nlink == 0:  # deleted while we waited for the lock
                posix.close(fd)
                raise ContainerNotFound(container_id)
        return cls(root, container_id, fd, locked=lock)

    def held_elsewhere(self) -> bool:
        """Is another process holding this container's lock (e.g. a live create)?"""
        if self._locked:
            return False
        import fcntl
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        return False

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if self._fd >= 0:
            posix.close(self._fd)
            self._fd = -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- files -------------------------------------------------------------
    def file(self, name: str) -> str:
        return posixos.join(self.path, name)

    @property
    def fifo_path(self) -> str:
        return self.file(FIFO_NAME)

    def has_fifo(self) -> bool:
        return posixos.exists(self.fifo_path)

    def load(self) -> dict | None:
        """state.json, or None while a create has not written it yet.

        Our writes are atomic, so a torn or malformed record was made by
        someone else: it is an error (as in runc), never guessed at, since
        its pid and cgroup paths are what kill and delete act on."""
        path = self.file(STATE_FILE)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            self._check_half_made()
            return None
        except OSError as exc:
            raise PyruncError(f"container {self.id}: state file {path}: "
                              f"{describe_oserror(exc)}") from None
        try:
            data = jsonio.loads(raw)
        except ValueError:
            data = _NOT_JSON
        problem = _record_problem(data, self.id)
        if problem:
            raise PyruncError(f"container {self.id}: corrupt state file {path}: {problem}")
        return data

    def _check_half_made(self) -> None:
        """No state.json: a create that died before writing it leaves an
        (almost) empty dir. Anything else was never a container (say, a
        mistyped --root naming a system dir): delete must not empty it."""
        try:
            names = posix.listdir(self.path)
        except OSError:
            return
        for name in sorted(names):
            if name not in HALF_MADE_NAMES and not name.startswith(STATE_FILE + ".tmp"):
                raise PyruncError(f"container {self.id}: {self.path} is not a container's state directory "
                                  f"(no {STATE_FILE}, but {name})")

    def save(self, record: dict) -> None:
        write_atomic(self.file(STATE_FILE), jsonio.dumps(record, separators=(",", ":")).encode())

    def remove(self) -> None:
        """Remove every file and the directory itself (we still hold the lock fd)."""
        for name in posix.listdir(self.path):
            try:
                posix.unlink(posixos.join(self.path, name))
            except IsADirectoryError:
                _rmtree(posixos.join(self.path, name))
            except FileNotFoundError:
                pass
        try:
            posix.rmdir(self.path)
        except FileNotFoundError:
            pass


_NOT_JSON = object()
# the fields the lifecycle reads, and the JSON types they must have
_FIELD_TYPES = {"id": str, "status": str, "bundle": str, "rootfs": str, "created": str, "owner": str,
                "annotations": dict, "hooks": dict, "namespaces": dict, "cgroup": dict}


def _record_problem(data, container_id) -> str | None:
    if data is _NOT_JSON:
        return "not valid JSON"
    if not isinstance(data, dict):
        return "not a JSON object"
    for key in ("id", "pid"):
        if key not in data:
            return f"no {key}"
    for key in ("pid", "pid_start"):
        value = data.get(key)
        if (value is not None or key == "pid") and (type(value) is not int or value < 0):
            return f"{key} is not a non-negative integer"
    for key, kind in _FIELD_TYPES.items():
        if data.get(key) is not None and not isinstance(data[key], kind):
            return f"{key} is not a JSON {'object' if kind is dict else 'string'}"
    if data["id"] != container_id:
        return f"it is the record of {jsonio.dumps(data['id'])}"
    return None


def _rmtree(path: str) -> None:
    import os  # loaded by shutil anyway
    import shutil
    if os.path.ismount(path):
        # restore's criu-root (the rootfs bound for CRIU), left by a restore
        # that was killed: never recurse into the rootfs through it
        from pyrunc.kernel import flags, syscalls
        try:
            syscalls.umount2(path, flags.MNT_DETACH)
        except OSError:
            return
    shutil.rmtree(path, ignore_errors=True)


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """temp + rename: readers, and a pyrunc killed at any instant, see the old
    or the new file, never half of one. No fsync (runc has none either): the
    state lives in /run, which does not survive the power loss fsync guards
    against, and neither do the containers it describes; it cost 3-6 ms per
    write, several writes per create, on a disk-backed --root."""
    tmp = f"{path}.tmp{posix.getpid()}"
    fd = posix.open(tmp, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, mode)
    try:
        posix.write(fd, data)
    finally:
        posix.close(fd)
    try:
        posix.rename(tmp, path)
    except OSError:
        try:
            posix.unlink(tmp)
        except OSError:
            pass
        raise


def list_ids(root: str) -> list[str]:
    try:
        names = posix.listdir(root)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise PyruncError(f"root {root}: {describe_oserror(exc)}") from None
    return sorted(n for n in names if is_id(n) and posixos.isdir(posixos.join(root, n)))
