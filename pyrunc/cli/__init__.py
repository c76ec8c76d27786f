"""The command line, and the `pyrunc` command's entry point (this module):
runc's verbs, flags and exit codes without click on the paths shims take.

The package: verbs.py is the one table of verbs (each verb's flags and its
body); this module parses argv against it and calls the verb's handler;
clickapp.py builds the click app from the same table for help, usage errors
and anything this parser does not vouch for; cgroup_cmds.py and
validate_cmd.py hold the longer verb bodies; version.py `--version`.

Shims call state/start/kill/delete (and create/run, and exec for every
`podman exec` or exec probe); importing click costs more than runc takes to
answer. This module parses the common, well-formed spellings of every verb
in pyrunc.cli.verbs by hand and calls that table's handler, the same one
the click command calls, with the same catch logic. Anything else -- an
unknown verb, --help, -v, an unknown or malformed flag, a value click would
reject, too many arguments, `--` -- goes to the click CLI
(pyrunc.cli.clickapp.main) untouched, so every usage message and exit code
stays click's. tests/unit/test_fastcli.py runs the same argv through both.
Here rather than in a module of its own: every module on the hot verbs'
path costs ~0.1 ms to find and load (bench/README.md).

Import-light: stdlib and pyrunc.cli.verbs (stdlib only) until a verb runs;
then pyrunc.errors, pyrunc.log and what that verb's handler imports.
"""

import posix  # not os: the hot verbs never load it (pyrunc/kernel/posixos.py)
import sys

from pyrunc.cli.verbs import GLOBALS, VERBS, options, prepay


class _Fallback(Exception):
    """Not a spelling this parser vouches for: click decides."""


def _table(opts):
    """(long name or alias -> Opt, short letter -> Opt) of a verb's options."""
    known, shorts = {}, {}
    for o in opts:
        for name in (o.name, *o.aliases):
            known[name] = o
        if o.short:
            shorts[o.short] = o
    return known, shorts


_GLOBALS = _table(GLOBALS)


def _option(token, known, shorts):
    """(Opt, inline value or None) for an option token, or _Fallback."""
    if token.startswith("--"):
        name, eq, value = token[2:].partition("=")
        opt = known.get(name)
    elif len(token) == 2:
        opt, eq, value = shorts.get(token[1]), "", ""
    else:  # -name / -name=value: Go's single-dash long form (pyrunc.cli.clickapp.normalize_argv)
        name, eq, value = token[1:].partition("=")
        opt = known.get(name)
    if opt is None or (eq and not opt.value):
        raise _Fallback
    return opt, (value if eq else None)


def _convert(opt, value):
    """The value as click's type for `opt` makes it, or _Fallback for click's error."""
    if opt.choices and value not in opt.choices:
        raise _Fallback
    if opt.integer:
        if not _is_int(value):
            raise _Fallback
        return int(value)
    return value


def _parse_options(argv, i, table, stop_at_positional):
    """Options from argv[i:]; returns (values, positionals, index after).
    `values` holds every option of the table, defaults filled in."""
    known, shorts = table
    values = {o.name: o.default for o in known.values()}
    positionals = []
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
        opt, value = _option(token, known, shorts)
        i += 1
        if not opt.value:
            values[opt.name] = True
            continue
        if value is None:
            if i >= len(argv) or argv[i].startswith("-"):
                raise _Fallback
            value = argv[i]
            i += 1
        value = _convert(opt, value)
        values[opt.name] = values[opt.name] + (value,) if opt.repeated else value
    return values, positionals, i


def parse(argv):
    """(global values, Verb, option values, positionals), or raise _Fallback.

    The positionals are as pyrunc.cli.verbs says: one per Arg, a missing one
    its default, a `rest` one the tuple of everything after the others."""
    g, _, i = _parse_options(argv, 0, _GLOBALS, stop_at_positional=True)
    if i >= len(argv) or argv[i] not in VERBS:
        raise _Fallback
    verb = VERBS[argv[i]]
    fixed = [a for a in verb.args if not a.rest]
    if len(fixed) < len(verb.args):  # options stop at the first positional; the rest is not ours
        values, _, j = _parse_options(argv, i + 1, _table(verb.options), stop_at_positional=True)
        given = argv[j:j + len(fixed)]
        rest = (tuple(argv[j + len(fixed):]),)
    else:
        values, given, _ = _parse_options(argv, i + 1, _table(verb.options), stop_at_positional=False)
        rest = ()
        if len(given) > len(fixed):
            raise _Fallback
    args = given + [a.default for a in fixed[len(given):]] + list(rest)
    return g, verb, values, args


def _is_int(text):
    """What click's INT accepts here: an optional sign, then ASCII digits."""
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isdigit() and digits.isascii()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        g, verb, values, args = parse(argv)
    except _Fallback:
        from pyrunc.cli.clickapp import main as click_main
        return click_main(argv)
    prepay(verb, values, g["systemd-cgroup"])  # before the imports below: the kernel's wait runs meanwhile
    from pyrunc.errors import exit_code_for
    from pyrunc.log import Log, flush_stdout, setup
    log = Log(g["log"], g["log-format"], g["debug"])
    # the same catch point as pyrunc.cli.clickapp.main, less click's own exceptions
    try:
        setup(log)
        code = verb.handler(options(g, log), values, args, log) or 0
    except BaseException as exc:  # noqa: BLE001 - the one catch point
        code = exit_code_for(exc, log, g["debug"])
    flush_stdout()
    sys.exit(code)


def program():
    """The `pyrunc` command (scripts/write-launcher): main(), then posix._exit.

    A command about to exit has nothing to finalize: its state is on disk,
    its flocks die with it, the one thread it may run (lifecycle/notify.py's) is a
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
    posix._exit(code)  # noqa: SLF001 - os._exit itself; os is not loaded here
