"""The `pyrunc` command's entry point: the lifecycle verbs without click.

Shims call state/start/kill/delete (and create/run, and exec for every
`podman exec` or exec probe); importing click costs more than runc takes to
answer. This module parses the
common, well-formed spellings of those verbs by hand and calls the same
pyrunc.lifecycle functions the click commands call, with the same catch
logic. Anything else -- another verb, --help, -v, an unknown or malformed
flag, too many arguments, `--` -- goes to the click CLI (pyrunc.cli.clickapp.main)
untouched, so every usage message and exit code stays click's.

Kept in step with pyrunc/cli/__init__.py: VERBS lists each verb's options,
and tests/unit/test_fastcli.py fails when the click command gains an option
this table does not know, and runs the same argv through both paths.
Import-light: stdlib, pyrunc.errors and pyrunc.log only, until a verb runs.
"""

import os
import sys

# global options: name -> takes a value
GLOBALS = {"root": True, "log": True, "log-format": True, "rootless": True, "criu": True,
           "debug": False, "systemd-cgroup": False}
_LOG_FORMATS = ("text", "json")

_CREATE = {"bundle": True, "pid-file": True, "console-socket": True, "preserve-fds": True,
           "no-pivot": False, "no-new-keyring": False}
# verb -> (options: long name -> takes a value, short -> long, max positionals)
VERBS = {
    "state": ({}, {}, 1),
    "start": ({}, {}, 1),
    "delete": ({"force": False}, {"f": "force"}, 1),
    "kill": ({"all": False}, {"a": "all"}, 2),
    "create": (_CREATE, {"b": "bundle"}, 1),
    "run": (dict(_CREATE, detach=False, keep=False, **{"no-subreaper": False}), {"b": "bundle", "d": "detach"}, 1),
    # exec: the id, then the command verbatim (its options are its own); shims
    # call it for every `podman exec`, `ctr tasks exec` and Kubernetes exec probe
    "exec": ({"console-socket": True, "pid-file": True, "process": True, "cwd": True, "env": True,
              "tty": False, "user": True, "additional-gids": True, "cap": True, "no-new-privs": False,
              "apparmor": True, "process-label": True, "detach": False, "preserve-fds": True,
              "cgroup": True, "ignore-paused": False},
             {"p": "process", "e": "env", "t": "tty", "u": "user", "g": "additional-gids", "c": "cap",
              "d": "detach"}, 2),
}
# options that may be given more than once (a list of values)
_REPEATED = {"env", "additional-gids", "cap", "cgroup"}


class _Fallback(Exception):
    """Not a spelling this parser vouches for: click decides."""


def _option(token, known, shorts):
    """(long name, inline value or None) for an option token, or _Fallback."""
    if token.startswith("--"):
        name, eq, value = token[2:].partition("=")
    elif len(token) == 2:
        name, eq, value = shorts.get(token[1], ""), "", ""
    else:  # -name / -name=value: Go's single-dash long form (pyrunc.cli.clickapp.normalize_argv)
        name, eq, value = token[1:].partition("=")
    if name not in known or (eq and not known[name]):
        raise _Fallback
    return name, (value if eq else None)


def _parse_options(argv, i, known, shorts, stop_at_positional):
    """Options from argv[i:]; returns (values, positionals, index after)."""
    values, positionals = {}, []
    while i < len(argv):
        token = argv[i]
        if token == "--" or token == "-":
            raise _Fallback
        if not token.startswith("-"):
            if stop_at_positional:
                break
            positionals.append(token)
            i += 1
            continue
        name, value = _option(token, known, shorts)
        i += 1
        if known[name]:
            if value is None:
                if i >= len(argv) or argv[i].startswith("-"):
                    raise _Fallback
                value = argv[i]
                i += 1
            if name in _REPEATED:
                values.setdefault(name, []).append(value)
            else:
                values[name] = value
        else:
            values[name] = True
    return values, positionals, i


def parse(argv):
    """(globals, verb, options, positionals), or raise _Fallback."""
    g, _, i = _parse_options(argv, 0, GLOBALS, {}, stop_at_positional=True)
    if i >= len(argv) or argv[i] not in VERBS:
        raise _Fallback
    verb = argv[i]
    known, shorts, max_args = VERBS[verb]
    if verb == "exec":  # options stop at the id; the rest is the command, untouched
        opts, _, j = _parse_options(argv, i + 1, known, shorts, stop_at_positional=True)
        args = argv[j:]
        if any(not _is_int(g) for g in opts.get("additional-gids", ())):
            raise _Fallback
        opts["additional-gids"] = [int(g) for g in opts.get("additional-gids", ())]
    else:
        opts, args, _ = _parse_options(argv, i + 1, known, shorts, stop_at_positional=False)
        if len(args) > max_args:
            raise _Fallback
    if g.get("log-format", "text") not in _LOG_FORMATS:
        raise _Fallback
    if "preserve-fds" in opts:
        if not _is_int(opts["preserve-fds"]):
            raise _Fallback
        opts["preserve-fds"] = int(opts["preserve-fds"])
    return g, verb, opts, args


def _is_int(text):
    """What click's INT accepts here: an optional sign, then ASCII digits."""
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isdigit() and digits.isascii()


def _need_id(args):
    from pyrunc.errors import UsageError
    from pyrunc.store.statedir import check_id
    if not args or not args[0]:
        raise UsageError("container id cannot be empty")
    check_id(args[0])
    return args[0]


def _fds(n):
    from pyrunc.errors import UsageError
    if n < 0:
        raise UsageError("--preserve-fds: must be a non-negative number")
    return n


def _run_verb(g, verb, o, args, log):
    """The bodies of the click commands in pyrunc.cli.clickapp, call for call."""
    from pyrunc.lifecycle.common import Options
    from pyrunc.store.statedir import default_root
    root = os.path.abspath(g["root"]) if g.get("root") else default_root()
    opts = Options(root, log=log, systemd_cgroup=bool(g.get("systemd-cgroup")),
                   rootless=g.get("rootless", "auto"))
    if verb == "state":
        from pyrunc.lifecycle import state
        sys.stdout.write(state.to_json(state.state(opts, _need_id(args))) + "\n")
    elif verb == "start":
        from pyrunc.lifecycle import start
        start.start(opts, _need_id(args))
    elif verb == "kill":
        from pyrunc.kernel.signals import kill_signal
        from pyrunc.lifecycle import kill
        cid = _need_id(args)
        kill.kill(opts, cid, kill_signal(args[1] if len(args) > 1 else "SIGTERM"), bool(o.get("all")))
    elif verb == "delete":
        from pyrunc.lifecycle import delete
        delete.delete(opts, _need_id(args), force=bool(o.get("force")))
    elif verb == "create":
        from pyrunc.lifecycle import create
        create.create(opts, _need_id(args), o.get("bundle", "."), pid_file=o.get("pid-file"),
                      console_socket=o.get("console-socket"), no_pivot=bool(o.get("no-pivot")),
                      no_new_keyring=bool(o.get("no-new-keyring")), preserve_fds=_fds(o.get("preserve-fds", 0)))
    elif verb == "run":
        from pyrunc.lifecycle import run as runner
        code = runner.run(opts, _need_id(args), o.get("bundle", "."), pid_file=o.get("pid-file"),
                          console_socket=o.get("console-socket"), no_pivot=bool(o.get("no-pivot")),
                          no_new_keyring=bool(o.get("no-new-keyring")),
                          preserve_fds=_fds(o.get("preserve-fds", 0)), detach=bool(o.get("detach")),
                          keep=bool(o.get("keep")), subreaper=not o.get("no-subreaper"))
        sys.exit(code)
    elif verb == "exec":
        from pyrunc.lifecycle import exec as exec_process
        code = exec_process.run_exec(
            opts, args[0] if args else None, args[1:], process_file=o.get("process"), cwd=o.get("cwd"),
            env=o.get("env", ()), tty=o.get("tty"), user=o.get("user"),
            additional_gids=o.get("additional-gids", ()), cap=o.get("cap", ()),
            no_new_privs=o.get("no-new-privs"), apparmor=o.get("apparmor"),
            process_label=o.get("process-label"), detach=bool(o.get("detach")), pid_file=o.get("pid-file"),
            console_socket=o.get("console-socket"), preserve_fds=o.get("preserve-fds", 0),
            cgroup=o.get("cgroup", ()), ignore_paused=bool(o.get("ignore-paused")))
        sys.stdout.flush()
        sys.exit(code)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        g, verb, o, args = parse(argv)
    except _Fallback:
        from pyrunc.cli.clickapp import main as click_main
        return click_main(argv)
    if verb in ("create", "run", "exec"):
        # each places a process in a cgroup ~10 ms from now: start the
        # kernel's wait for that at once (pyrunc.kernel.cgroup_prepay)
        from pyrunc.kernel import cgroup_prepay as prepay
        prepay.start(o.get("preserve-fds", 0))
    from pyrunc.errors import exit_code_for
    from pyrunc.log import Log, flush_stdout, setup
    debug = bool(g.get("debug"))
    log = Log(g.get("log"), g.get("log-format", "text"), debug)
    code = 0
    # the same catch point as pyrunc.cli.clickapp.main, less click's own exceptions
    try:
        setup(log)
        _run_verb(g, verb, o, args, log)
    except BaseException as exc:  # noqa: BLE001 - the one catch point
        code = exit_code_for(exc, log, debug)
    flush_stdout()
    sys.exit(code)


def program():
    """The `pyrunc` command (scripts/write-launcher): main(), then os._exit.

    A command about to exit has nothing to finalize: its state is on disk,
    its flocks die with it, the one thread it may run (notify_socket's) is a
    daemon. Tearing the interpreter down (modules, objects, GC) costs
    1.5-4 ms per call, paid on every create/start/state/kill/delete; runc's
    exit is free. The stdio buffers are flushed first."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken pipe: nothing more to say there
    os._exit(code)
