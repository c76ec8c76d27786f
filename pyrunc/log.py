"""Where pyrunc's own messages go: stderr, and with --log, runc-style records.

`--log-format json` writes one {"level","msg","time"} object per line
(containerd and conmon read the last "error" record back); `text` writes
logrus-style `time="..." level=error msg="..."` lines. Import-light.
"""
import os
import sys
import time

from pyrunc import jsonio


def rfc3339(ns=None):
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class Log:
    def __init__(self, path=None, fmt="text", debug=False):
        self.path = path
        self.fmt = fmt
        self.debug_on = debug

    def _record(self, level, msg):
        if not self.path:
            return
        if self.fmt == "json":
            line = jsonio.dumps({"level": level, "msg": msg, "time": rfc3339()})
        else:
            line = f'time="{rfc3339()}" level={level} msg={jsonio.dumps(msg)}'
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        except OSError:
            pass  # the log is best effort; stderr still carries the message

    def error(self, msg):
        self._record("error", msg)
        sys.stderr.write(msg + "\n")
        sys.stderr.flush()

    def warn(self, msg):
        self._record("warning", msg)
        sys.stderr.write(f"pyrunc: warning: {msg}\n")
        sys.stderr.flush()

    def debug(self, msg):
        if self.debug_on:
            self._record("debug", msg)
            sys.stderr.write(f"pyrunc: debug: {msg}\n")


NULL = Log()


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
            devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
