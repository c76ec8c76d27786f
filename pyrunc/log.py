"""Where pyrunc's own messages go: stderr, and with --log, runc-style records.

The CLI opens `--log FILE` at start-up, as runc does: the file exists after
any command, and an unusable path fails the command at once (exit 1) rather
than swallowing every later record. `--log-format json` writes one
{"level","msg","time"} object per line (containerd and conmon read the last
"error" record back); `text` writes logrus-style `time="..." level=error
msg="..."` lines. Warnings and `--debug` records (the phases of create,
...) go to the log, or to stderr without one, as runc's logrus does; errors
go to both. Import-light.
"""
import posix  # not os: the hot verbs never load it (pyrunc/kernel/posixos.py)
import sys
import time

from pyrunc import jsonio

_LOG_FLAGS = posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_CLOEXEC


def rfc3339(ns=None):
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class Log:
    def __init__(self, path=None, fmt="text", debug=False):
        self.path = path
        self.fmt = fmt
        self.debug_on = debug

    def open(self):
        """Open --log now (runc: before any verb runs): created if missing, an
        unusable path fails the command with the open error (PyruncError;
        the log is then stderr only). Not kept open: each record reopens it,
        so no process forked later (a container's init) inherits it."""
        if not self.path:
            return
        try:
            posix.close(posix.open(self.path, _LOG_FLAGS, 0o644))
        except OSError as exc:
            from pyrunc.errors import PyruncError, describe_oserror
            path, self.path = self.path, None
            raise PyruncError(f"--log {path}: {describe_oserror(exc)}") from None

    def _line(self, level, msg):
        if self.fmt == "json":
            return jsonio.dumps({"level": level, "msg": msg, "time": rfc3339()}, separators=(",", ":"))
        return f'time="{rfc3339()}" level={level} msg={jsonio.dumps(msg)}'

    def _record(self, level, msg):
        if not self.path:
            return
        try:
            fd = posix.open(self.path, _LOG_FLAGS, 0o644)
            try:
                posix.write(fd, (self._line(level, msg) + "\n").encode())
            finally:
                posix.close(fd)
        except OSError:
            pass  # the log is best effort; stderr still carries the message

    def error(self, msg):
        self._record("error", msg)
        to_stderr(msg + "\n")

    def warn(self, msg):
        """With --log the record only, as runc's logrus: a shim or conmon
        hands create the container's own stdio, and a warning there would
        become a line of the container's log."""
        if self.path:
            self._record("warning", msg)
        else:
            to_stderr(f"pyrunc: warning: {msg}\n")

    def debug(self, msg):
        if not self.debug_on:
            return
        if self.path:
            self._record("debug", msg)
        else:
            to_stderr(self._line("debug", msg) + "\n")


def to_stderr(text):
    """Best effort: containerd's shim runs the runtime for a pod's sandbox
    with a stderr it cannot write (EBADF), where runc, logging to --log only,
    never notices. A message that cannot go there is dropped (the --log
    record has it), and so is stderr itself: nothing may stay in its buffer
    for the interpreter's flush at exit, which would turn the exit code
    into 120."""
    err = sys.stderr
    if err is None:
        return
    try:
        err.write(text)
        err.flush()
    except (OSError, ValueError):
        sys.stderr = open("/dev/null", "w")


NULL = Log()


def setup(log):
    """The CLI's Log, made ready before a verb runs (runc's configLogrus):
    --log opened, and with --debug each phase (pyrunc.testhooks) logged."""
    log.open()
    if log.debug_on:
        from pyrunc import testhooks as crashpoint
        crashpoint.observer = lambda name: log.debug(name.replace(":", ": ", 1))
    elif "pyrunc.testhooks" in sys.modules:
        # a process that runs the CLI in-process more than once (tests, a
        # tool) must not keep an earlier call's --debug
        sys.modules["pyrunc.testhooks"].observer = None  # type: ignore[attr-defined]


def stdout_gone() -> bool:
    """Has stdout's reader gone away (a pipe with its read end closed)?"""
    import select
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & select.POLLERR for _fd, ev in poller.poll(0))
    except (OSError, ValueError):
        return False


def flush_stdout():
    """The last flush of a command's output. A reader that went away
    (`pyrunc state x | head -c1`) is no error worth a word: runc dies of
    SIGPIPE there, silently. What is left in the buffer goes to /dev/null,
    so no later flush (the interpreter's, at exit) raises again."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        try:
            devnull = posix.open("/dev/null", posix.O_WRONLY | posix.O_CLOEXEC)
            posix.dup2(devnull, sys.stdout.fileno())
            posix.close(devnull)
        except (OSError, ValueError):
            pass
