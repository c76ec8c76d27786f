"""The public Python API: `Runtime` and `Container`, pyrunc's verbs as calls.

    from pyrunc import Runtime
    rt = Runtime(root="/run/pyrunc-tests")
    c = rt.create("web", bundle="/srv/bundles/web")
    c.start(); c.state().status; c.kill("TERM"); c.delete(force=True)

Place in the flow: beside pyrunc.cli, as the other client of pyrunc.lifecycle.
Each method is one call into a verb module (create, start, kill, delete,
state, run, exec, cgroup_verbs) with a lifecycle.common.Options carrying the
root, the log and the cgroup driver; there is no logic here that the CLI
does not also reach through lifecycle, so both give the same state, the
same refusals and the same messages.

What a library must do differently from a command, and does here:
- it never prints: warnings go to the `log` given to Runtime (a callable
  taking one line, or a pyrunc.log.Log), by default to Python's `warnings`
  as PyruncWarning, so a caller filters or records them as it likes;
- it raises, never exits: every failure a caller or its bundle can cause is a
  pyrunc.errors.PyruncError subclass (see the README's "Python API");
- foreground `run` and `exec` borrow process-wide state the CLI owns outright
  (the child-subreaper bit, handlers for the signals forwarded to the
  container): both are put back as they were when the call returns.

Importing this module loads no click and no jsonschema; `create`, `run` and
`validate` load the config pipeline when called, as the CLI does.
"""
from __future__ import annotations

import os
from typing import Iterator

from pyrunc.errors import PyruncWarning, UsageError
from pyrunc.lifecycle import Options

__all__ = ["Runtime", "Container", "State", "Validation"]


class Runtime:
    """pyrunc with one state root: what `pyrunc --root ROOT ...` is on the command line.

    `root`: the state directory (default: the CLI's, /run/pyrunc as root).
    `systemd_cgroup`: --systemd-cgroup. `log`: where warnings go (None: the
    `warnings` module, category PyruncWarning; a callable: called with each
    warning line; a pyrunc.log.Log: its warn/debug, which write stderr and --log).
    """

    def __init__(self, root: str | None = None, *, systemd_cgroup: bool = False, log=None):
        from pyrunc.store import default_root
        root = os.path.abspath(root) if root else default_root()
        self.options = Options(root, log=_log_for(log), systemd_cgroup=systemd_cgroup)

    @property
    def root(self) -> str:
        return self.options.root

    def __repr__(self) -> str:
        return f"Runtime(root={self.root!r})"

    def create(self, id: str, bundle: str, *, pid_file: str | None = None,
               console_socket: str | None = None, preserve_fds: int = 0, no_pivot: bool = False,
               no_new_keyring: bool = False) -> Container:
        """`pyrunc create`: the container's init waits for start(). Raises
        UsageError (bad id), ContainerExists, ConfigError (config.json),
        SpawnError (the init failed to set up), HookError, CgroupError,
        PyruncError (bundle, console socket, pid file); nothing is left behind."""
        from pyrunc.lifecycle import create
        _check_id(id)
        create.create(self.options, id, bundle, pid_file=pid_file, console_socket=console_socket,
                      preserve_fds=preserve_fds, no_pivot=no_pivot, no_new_keyring=no_new_keyring)
        return Container(self, id)

    def run(self, id: str, bundle: str, *, detach: bool = True, keep: bool = False,
            pid_file: str | None = None, console_socket: str | None = None, preserve_fds: int = 0,
            no_pivot: bool = False, no_new_keyring: bool = False, subreaper: bool = True):
        """`pyrunc run`: create and start. Detached (the default here) it
        returns the running Container. In the foreground it waits for the
        init, forwarding the signals this process gets to it (and with
        process.terminal and no console_socket, proxying this process's
        stdin/stdout to its pty), deletes the container unless `keep`, and
        returns its exit status (128+N for signal N), as the CLI exits."""
        from pyrunc.lifecycle import run
        _check_id(id)
        args = dict(detach=detach, keep=keep, subreaper=subreaper, console_socket=console_socket,
                    pid_file=pid_file, preserve_fds=preserve_fds, no_pivot=no_pivot,
                    no_new_keyring=no_new_keyring)
        if detach:
            run.run(self.options, id, bundle, **args)
            return Container(self, id)
        with _ForegroundState():
            return run.run(self.options, id, bundle, **args)

    def container(self, id: str) -> Container:
        """An existing container; ContainerNotFound if there is none, UsageError for a bad id."""
        _check_id(id)
        _state(self.options, id)
        return Container(self, id)

    def list(self) -> list[State]:
        """`pyrunc list`: the state of every container under the root (a
        record that cannot be read is skipped with a warning, as the CLI does)."""
        from pyrunc.lifecycle import state
        return [State(doc) for doc in state.list_containers(self.options)]

    def validate(self, bundle: str, *, strict: bool = False) -> Validation:
        """`pyrunc validate`: every finding about the bundle's config.json,
        without creating anything and without raising for a bad config (an
        unreadable or missing config.json is itself a finding)."""
        return validate(bundle, strict=strict)

    def features(self) -> dict:
        """`pyrunc features`: the runtime-spec features document of this host."""
        from pyrunc import features
        return features.document()


def _state(opts: Options, id: str) -> dict:
    from pyrunc.lifecycle import state
    return state.state(opts, id)


class Container:
    """A handle on one container by id. It holds no state of its own: each
    call loads the container's record and checks its status, as a CLI verb
    does (so a handle stays valid across processes, and goes stale only when
    the container is deleted: then calls raise ContainerNotFound)."""

    def __init__(self, runtime: Runtime, id: str):
        self.runtime = runtime
        self.id = id

    def __repr__(self) -> str:
        return f"Container({self.id!r}, root={self.runtime.root!r})"

    @property
    def _opts(self) -> Options:
        return self.runtime.options

    def state(self) -> State:
        """`pyrunc state`: runc's state document, as a State."""
        return State(_state(self._opts, self.id))

    def start(self) -> None:
        """Release the created init (InvalidState unless created)."""
        from pyrunc.lifecycle import start
        start.start(self._opts, self.id)

    def kill(self, signal: str | int = "TERM", *, all: bool = False) -> None:
        """Send `signal` ("TERM", "SIGKILL", 9; 0 only checks the init is
        alive) to the init, or with all=True to every process in its cgroup.
        UsageError for an unknown signal, InvalidState when not running."""
        from pyrunc.kernel.signals import kill_signal
        from pyrunc.lifecycle import kill
        kill.kill(self._opts, self.id, kill_signal(signal), all)

    def delete(self, *, force: bool = False) -> None:
        """Remove a stopped (or created) container; force=True kills a running
        one first and succeeds for one that does not exist."""
        from pyrunc.lifecycle import delete
        delete.delete(self._opts, self.id, force=force)

    def pause(self) -> None:
        from pyrunc.lifecycle import cgroup_verbs
        cgroup_verbs.pause(self._opts, self.id)

    def resume(self) -> None:
        from pyrunc.lifecycle import cgroup_verbs
        cgroup_verbs.resume(self._opts, self.id)

    def update(self, resources: dict) -> None:
        """Apply a partial linux.resources object (`pyrunc update -r FILE`)."""
        from pyrunc.lifecycle import cgroup_verbs
        cgroup_verbs.update(self._opts, self.id, resources)

    def stats(self) -> dict:
        """One runc-shaped stats record (the `data` of `pyrunc events --stats`)."""
        from pyrunc.lifecycle import cgroup_verbs
        return cgroup_verbs.stats(self._opts, self.id)

    def events(self, interval: float = 5.0) -> Iterator[dict]:
        """`pyrunc events`: {"type": "stats", "id": ..., "data": {...}} every
        `interval` seconds and {"type": "oom", "id": ...} at each OOM kill,
        until the container is deleted. A generator: stop iterating to stop."""
        from pyrunc.lifecycle import cgroup_verbs
        for kind, data in cgroup_verbs.events(self._opts, self.id, interval):
            event = {"type": kind, "id": self.id}
            if data is not None:
                event["data"] = data
            yield event

    def pids(self) -> list[int]:
        """`pyrunc ps --format json`: host pids of the container's processes."""
        from pyrunc.lifecycle import cgroup_verbs
        return list(cgroup_verbs.pids(self._opts, self.id))

    def exec(self, process, *, detach: bool = True, tty: bool | None = None, cwd: str | None = None,
             env=(), user: str | int | None = None, additional_gids=(), cap=(),
             no_new_privs: bool | None = None, apparmor: str | None = None,
             process_label: str | None = None, pid_file: str | None = None,
             console_socket: str | None = None, preserve_fds: int = 0, cgroup=(),
             ignore_paused: bool = False) -> int:
        """`pyrunc exec`: `process` is the command (a list of strings; the
        container's own process is the base and the keywords override it,
        as exec's flags) or a whole OCI process object (a dict, as
        `--process`; then only `tty` may be given besides).

        Detached (the default here) returns the new process's host pid once
        it runs; the caller does not reap it (as the CLI's, it is re-parented
        to this process's subreaper or to pid 1). In the foreground returns
        its exit status (128+N for signal N) after forwarding signals to it.
        Raises ContainerNotFound, InvalidState (not created/running), UsageError
        (a bad process or flag), ExecError (the process could not be started)."""
        from pyrunc.lifecycle import exec as ex
        if preserve_fds < 0:
            raise UsageError("--preserve-fds: must be a non-negative number")
        flags = None
        obj = None
        if isinstance(process, dict):
            if (cwd, user, no_new_privs, apparmor, process_label) != (None,) * 5 or \
                    any((env, additional_gids, cap)):
                raise UsageError("exec: with a process object, give its fields in it, not as keywords")
            obj = process
            if tty:
                flags = ex.Flags(tty=True)
        else:
            if isinstance(process, str):
                raise UsageError("exec: the command must be a list of strings, not one string")
            flags = ex.Flags(args=tuple(process), cwd=cwd, env=tuple(env), tty=tty,
                             user=None if user is None else str(user),
                             additional_gids=tuple(additional_gids), caps=tuple(cap),
                             no_new_privs=no_new_privs, apparmor=apparmor, process_label=process_label)
        started = []
        args = dict(process=obj, flags=flags, detach=detach, pid_file=pid_file,
                    console_socket=console_socket, preserve_fds=preserve_fds, cgroup=tuple(cgroup),
                    ignore_paused=ignore_paused, on_started=started.append)
        if detach:
            ex.exec_process(self._opts, self.id, **args)
            return started[0]
        with _ForegroundState():
            return ex.exec_process(self._opts, self.id, **args)


class State:
    """A container's state: runc's state JSON (`as_dict()`, exactly what
    `pyrunc state` prints) with its fields as attributes, so a caller can
    write `c.state().status` and a type checker knows the names."""

    __slots__ = ("_doc",)

    def __init__(self, doc: dict):
        self._doc = doc

    oci_version = property(lambda self: self._doc["ociVersion"])
    id = property(lambda self: self._doc["id"])
    status = property(lambda self: self._doc["status"], doc="creating, created, running, paused or stopped")
    pid = property(lambda self: self._doc["pid"], doc="the init's host pid; 0 once stopped")
    bundle = property(lambda self: self._doc["bundle"])
    rootfs = property(lambda self: self._doc["rootfs"])
    created = property(lambda self: self._doc["created"], doc="RFC 3339, UTC")
    owner = property(lambda self: self._doc["owner"])
    annotations = property(lambda self: dict(self._doc.get("annotations") or {}))

    def as_dict(self) -> dict:
        import copy
        return copy.deepcopy(self._doc)

    def __eq__(self, other) -> bool:
        return isinstance(other, State) and self._doc == other._doc  # noqa: SLF001 - same class

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"State(id={self.id!r}, status={self.status!r}, pid={self.pid})"


class Validation:
    """What `validate` found: `findings` (pyrunc.config.Finding: .path where
    in config.json, .message what, .severity error/warning/strict), errors
    first; `valid` as `pyrunc validate` decides it (no errors, and with
    strict no strict findings either); `as_dict()` is its `--format json`."""

    FORMAT_VERSION = 1

    def __init__(self, bundle: str, strict: bool, findings):
        from pyrunc.config.findings import ERROR, SEVERITIES, STRICT
        self.bundle = bundle
        self.strict = strict
        self.findings = list(findings)
        self.counts = {sev: sum(1 for f in self.findings if f.severity == sev) for sev in SEVERITIES}
        self.valid = self.counts[ERROR] == 0 and not (strict and self.counts[STRICT])

    @property
    def errors(self) -> list:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list:
        return [f for f in self.findings if f.severity == "warning"]

    def __iter__(self):
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def as_dict(self) -> dict:
        return {"format": self.FORMAT_VERSION, "bundle": self.bundle, "valid": self.valid,
                "strict": self.strict, "counts": dict(self.counts),
                "findings": [f.to_json() for f in self.findings]}

    def __repr__(self) -> str:
        return f"Validation(valid={self.valid}, counts={self.counts})"


def validate(bundle: str, *, strict: bool = False) -> Validation:
    """The report `pyrunc validate` prints (cli/validate_cmd.py) and
    Runtime.validate returns: every finding about the bundle's config.json,
    an unreadable or missing one included; it raises for none of them."""
    from pyrunc.config import check_bundle
    from pyrunc.errors import ConfigError
    bundle_dir = os.path.abspath(bundle)
    try:
        _cfg, findings = check_bundle(bundle_dir, strict=strict, thorough=True)
    except ConfigError as exc:   # config.json unreadable: one finding about the file itself
        findings = exc.findings
    return Validation(bundle_dir, strict, findings)


def _check_id(id) -> None:
    from pyrunc.store import check_id
    if not isinstance(id, str):
        raise UsageError(f"container id must be a string, not {type(id).__name__}")
    check_id(id)


# -- the log -----------------------------------------------------------------------

class _Warnings:
    """The default log: each warning a PyruncWarning through `warnings`
    (shown once per message by Python's default filter; pytest collects them)."""

    def warn(self, msg: str) -> None:
        import warnings
        warnings.warn(msg, PyruncWarning, stacklevel=2)

    def debug(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:  # the API raises its errors; nothing logs them
        pass


class _Callback(_Warnings):
    def __init__(self, fn):
        self.fn = fn

    def warn(self, msg: str) -> None:
        self.fn(msg)


def _log_for(log):
    if log is None:
        return _Warnings()
    if hasattr(log, "warn") and hasattr(log, "debug"):
        return log  # a pyrunc.log.Log (or anything shaped like one)
    if callable(log):
        return _Callback(log)
    raise UsageError(f"log: must be a callable or a pyrunc.log.Log, not {type(log).__name__}")


# -- foreground run/exec -------------------------------------------------------------

class _ForegroundState:
    """Put back what a foreground run/exec changes in the whole process: the
    child-subreaper bit (left on, every container started later from this
    process would be re-parented here and linger as a zombie that still
    looks `running`) and the handlers of the signals forwarded to the
    container (left in place, a later Ctrl-C would go to a dead pid)."""

    def __enter__(self):
        import _prctl
        import signal
        from pyrunc.lifecycle.run import FORWARD
        self.subreaper = _prctl.prctl(_prctl.PR_GET_CHILD_SUBREAPER)
        self.handlers = {sig: signal.getsignal(sig) for sig in (*FORWARD, signal.SIGWINCH)}
        return self

    def __exit__(self, *_exc):
        import _prctl
        import signal
        _prctl.prctl(_prctl.PR_SET_CHILD_SUBREAPER, self.subreaper)
        for sig, handler in self.handlers.items():
            if handler is None:  # set from C, not Python: cannot be put back
                continue
            try:
                signal.signal(sig, handler)
            except (OSError, ValueError):  # not the main thread: nothing was changed
                pass
        return False
