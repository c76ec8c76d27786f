"""Hooks for pyrunc's own test suite, inert unless a test arms them: one
module (the hot verbs load it, and a package of two would cost them a
directory scan and a module more).

1. Crash points. Deterministic crash points for the crash-safety tests.

`reached("create:after-cgroup")` SIGKILLs this process when the environment
says PYRUNC_CRASH_AT=create:after-cgroup, so a test can stop pyrunc at each
phase of an operation and then check that `delete --force` finds and removes
everything. PYRUNC_CRASH_SIGNAL=SIGSTOP stops it there instead, so a test can
look at the half-made container while a live pyrunc still holds its lock.
Costs one dict lookup when unset.

The same points are the phases `--debug` reports: the CLI sets `observer`
to its log's debug (pyrunc.log), as runc logs each step of create.

2. Guard switches, TEST ONLY: switch one named hardening guard off, so that
the replay tests in tests/security/ can prove they fail without it.

A replay test that passes proves nothing unless it would fail against the
vulnerable behaviour. Where no runc version at hand is vulnerable, the test
suite turns the one guarding line off through this module and expects its
own replay to fail (tests/security/test_guards_are_load_bearing.py).

How it is turned on, and why it cannot be by accident: pyrunc reads the file
GUARDS_FILE in its state root (`--root`) when the global options are made;
that file lists guard names, one per line. Nothing in pyrunc writes it, no
flag or environment variable reaches it, it is ignored in the default state
root (/run/pyrunc) and when not owned by root, and every process that honours
it says so on stderr. The tests write it into the private root each test gets.

The set is read in the parent before it forks, so the child (pyrunc.init)
only looks at `DISABLED`: child-side, import-light.
"""
import posix  # not os: the hot verbs never load it (pyrunc/kernel/posixos.py)

from pyrunc.kernel.cpython import signal
from pyrunc.kernel import posixos

# -- 1. crash points ---------------------------------------------------------
_AT = posixos.getenv("PYRUNC_CRASH_AT")
_SIGNAL = signal.SIGSTOP if posixos.getenv("PYRUNC_CRASH_SIGNAL") == "SIGSTOP" else signal.SIGKILL


observer = None  # called with each point's name (the CLI's --debug)


def reached(name):
    if observer is not None:
        observer(name)
    if _AT == name:
        posix.kill(posix.getpid(), _SIGNAL)


# -- 2. guard switches (TEST ONLY) -------------------------------------------
GUARDS_FILE = ".pyrunc-TEST-ONLY-disabled-guards"
DEFAULT_ROOT = "/run/pyrunc"

# name -> the guard it turns off (the CVE whose replay proves it)
GUARDS = {
    "dumpable": "init/stage1: every pyrunc process in the container is non-dumpable (CVE-2019-5736)",
    "proc-symlink": "init/rootfs: a symlinked /proc or /sys is refused (CVE-2019-16884)",
    "proc-mounts": "security: only procfs on /proc, nothing inside /proc (CVE-2019-19921, CVE-2025-52881)",
    "procfs-write": "init/stage2: sysctl writes check they land on procfs (CVE-2025-52881)",
    "resolve-in-root": "init/paths: mount targets resolve inside the rootfs (CVE-2021-30465)",
    "exec-cap-inheritable": "exec: --cap stays out of the inheritable set (CVE-2022-29162)",
    "cgroupfs-ro": "init/rootfs: cgroupfs read-only with a user namespace and no cgroup namespace (CVE-2023-25809)",
    "cwd-check": "init/stage2: a cwd outside the container's root is refused (CVE-2024-21626)",
    "close-fds": "init: only stdio and preserved fds reach the container (CVE-2024-21626)",
    "dev-null-check": "init/rootfs: /dev/null used for masking is the 1:3 device (CVE-2025-31133)",
    "console-by-fd": "init/console: /dev/console is never mounted through a symlink (CVE-2025-52565)",
}

DISABLED = frozenset()


def off(name):
    """True when the test suite turned guard `name` off (never in production)."""
    return name in DISABLED


def load(root):
    """Read GUARDS_FILE from the state root `root` (see the module docstring)."""
    global DISABLED
    if not root or posixos.abspath(root) == DEFAULT_ROOT:
        return
    path = posixos.join(root, GUARDS_FILE)
    try:
        fd = posix.open(path, posix.O_RDONLY | posix.O_NOFOLLOW | posix.O_CLOEXEC)
    except OSError:
        return
    try:
        if posix.fstat(fd).st_uid != 0:
            return
        text = posix.read(fd, 4096).decode(errors="replace")
    finally:
        posix.close(fd)
    names = frozenset(n.strip() for n in text.splitlines() if n.strip() in GUARDS)
    if names:
        posix.write(2, ("pyrunc: warning: TEST ONLY: guards turned off by %s: %s\n"
                     % (path, ", ".join(sorted(names)))).encode())
    DISABLED = names
