"""The error tree: every failure a user can cause is one of these.

Each error carries one finished message in the shape `<where>: <what>[: <cause>]`
and the exit code the cli uses. Layers add context once, with `raise X(...) from
exc`; only the cli prints, exactly one line. Import-light: the container's init
imports this module too.

The second half holds the exceptions one layer raises for the next to word
(the child's errors, the sync protocol's, config parsing's): not PyruncErrors,
because a caller always catches them and says where, before a user sees them.
"""

import posix  # not os: the hot verbs never load it (pyrunc/kernel/posixos.py)


class PyruncError(Exception):
    """A failure with a message fit for the user's terminal."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(PyruncError):
    """Bad flags or arguments on the command line."""


class ConfigError(PyruncError):
    """config.json is unreadable, invalid or asks for what cannot be done.

    `findings` holds every problem found (for `pyrunc validate`); the message
    is the first one, with a count of the rest.
    """

    def __init__(self, message: str, findings=None):
        super().__init__(message)
        self.findings = list(findings or [])


class ContainerNotFound(PyruncError):
    def __init__(self, container_id: str):
        super().__init__("container does not exist")
        self.container_id = container_id


class ContainerExists(PyruncError):
    def __init__(self, container_id: str):
        super().__init__(f"container with id exists: {container_id}")


class InvalidState(PyruncError):
    """The operation is not allowed in the container's current status."""


class CgroupError(PyruncError):
    """A cgroup could not be made, written, read or removed."""


class HookError(PyruncError):
    """An OCI hook failed or timed out."""


class SpawnError(PyruncError):
    """The container process failed while being set up (reported by the child)."""


class CriuError(PyruncError):
    """CRIU refused or failed a checkpoint or restore (pyrunc.criu.swrk)."""


class WireError(ValueError):
    """Bytes that are not a CRIU RPC message of pyrunc.criu.wire's schema."""


class ExecError(PyruncError):
    """`exec` could not start its process (runc exits 255 for this)."""

    exit_code = 255


class UnsupportedArchitecture(PyruncError):
    """A syscall pyrunc has no number for on this machine (pyrunc.kernel.arch)."""

    def __init__(self, syscall: str, machine: str):
        super().__init__(f"{syscall}: pyrunc knows no syscall number for it on {machine}")
        self.syscall = syscall
        self.machine = machine


# ---------------------------------------------------------------- caught and worded by a caller

class NotJSON(ValueError):
    """config.json has NaN / Infinity: Python's json accepts them, JSON (and Go) does not
    (pyrunc.config.source)."""


class ConfigUnreadable(Exception):
    """config.json could not be read at all; `message` is the whole user line,
    `reason` the cause alone (pyrunc.config.source)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.message = message
        self.reason = reason


class SchemaUnsupported(Exception):
    """The schema uses a keyword pyrunc.config.fastcheck does not compile (it
    falls back to jsonschema)."""


class PolicyError(ValueError):
    """A problem with one field of linux.memoryPolicy (pyrunc.kernel.mempolicy)."""

    def __init__(self, field, text):
        super().__init__(f"{field}: {text}")
        self.field, self.text = field, text


class PeerGone(Exception):
    """The other end of the sync socket closed it: it died or exited (pyrunc.process.sync)."""


class ChildFailed(Exception):
    """The child reported a failure over the sync socket; str() is its one-line
    message (pyrunc.process.sync)."""


class InitError(Exception):
    """A failure in the container's init, already worded for the user (pyrunc.init)."""


class SecurityError(Exception):
    """The kernel refused a security step in the child; str() is the user's
    one line (pyrunc.init.apply_security)."""


class HookFailed(Exception):
    """One OCI hook failed; str() is the one-line reason (pyrunc.process.hooks)."""


def exit_code_for(exc: BaseException, log, debug: bool = False) -> int:
    """The CLI's one catch point (pyrunc.cli.clickapp.main and pyrunc.cli.main):
    the exit code for what a verb raised, after its one line on stderr.

    A bug is `internal error: ...`, its traceback only with --debug (then
    re-raised). A broken pipe whose reader was stdout's (`pyrunc list |
    head -1`) says nothing: runc dies of SIGPIPE there, silently."""
    if isinstance(exc, PyruncError):
        log.error(exc.message)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else 1
    if isinstance(exc, BrokenPipeError):
        from pyrunc.log import stdout_gone
        if stdout_gone():
            return 1
    if debug:
        raise exc
    log.error(f"internal error: {exc.__class__.__name__}: {exc}")
    return 1


def describe_oserror(exc: OSError) -> str:
    """The reason in runc's lower-case wording, e.g. 'no such file or directory'.

    From the errno, not exc.strerror: pyrunc.kernel's wrappers put the
    operation into strerror ("mount: ..."), and callers name the operation
    themselves. Import-light: the container's init uses it too."""
    if getattr(exc, "errno", None):
        return posix.strerror(exc.errno).lower()
    text = getattr(exc, "strerror", None) or str(exc)
    return text[:1].lower() + text[1:] if text else "unknown error"


class PyruncWarning(UserWarning):
    """A warning pyrunc.api hands to Python's `warnings` (the CLI prints
    `pyrunc: warning: ...` instead): a setting ignored, a rollback step that failed."""
