"""The click CLI: help, usage errors, `--version`, and every argv the fast
parser (pyrunc.cli) does not vouch for.

Its commands are generated from the verb table (pyrunc.cli.verbs): click
parses, the table's handler acts, so a verb's body exists once. Global flags
come before the verb. Every failure ends here as exactly one stderr line (and
one --log record); a traceback only with --debug. Only this module imports click.
"""
from __future__ import annotations

import sys

import click

from pyrunc.cli import verbs
from pyrunc.errors import exit_code_for
from pyrunc.log import Log, flush_stdout, setup

# long options that runc (Go's flag parsing) also accepts with one dash:
# every option of the verb table, and click's own
_VALUE_OPTIONS = {name for o in verbs.GLOBALS + tuple(o for v in verbs.VERBS.values() for o in v.options)
                  if o.value for name in (o.name, *o.aliases)}
_FLAG_OPTIONS = {o.name for v in verbs.VERBS.values() for o in verbs.GLOBALS + v.options
                 if not o.value} | {"help", "version"}


def normalize_argv(argv):
    """`-bundle x` → `--bundle x`, as runc accepts; stops at `--`."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            name = arg[1:].split("=", 1)[0]
            if name in _VALUE_OPTIONS or name in _FLAG_OPTIONS:
                arg = "-" + arg
        out.append(arg)
    return out


class Context:
    def __init__(self, opts, log):
        self.opts = opts
        self.log = log


def _print_version(ctx, _param, value):
    if not value or ctx.resilient_parsing:
        return
    from pyrunc.cli import version
    click.echo(version.text())
    ctx.exit(0)


def _option(o):
    """The click option for a table entry (pyrunc.cli.verbs.Opt)."""
    decls = ([f"-{o.short}"] if o.short else []) + [f"--{n}" for n in (o.name, *o.aliases)] + [o.dest]
    kw = {"help": o.help, "hidden": o.hidden, "show_default": o.show_default, "default": o.default}
    if o.metavar:
        kw["metavar"] = o.metavar
    if not o.value:
        return click.Option(decls, is_flag=True, **kw)
    if o.choices:
        kw["type"] = click.Choice(list(o.choices))
    elif o.integer:
        kw["type"] = int
    return click.Option(decls, multiple=o.repeated, **kw)


def _argument(a):
    if a.rest:
        return click.Argument([a.name], nargs=-1, type=click.UNPROCESSED)
    return click.Argument([a.name], required=False, default=a.default)


def _values(opts, kw):
    """{long name: value} from click's keyword arguments."""
    return {o.name: kw[o.dest] for o in opts}


def command(verb):
    """The click command of a table verb: click parses, the table's handler acts."""
    def callback(**kw):
        obj = click.get_current_context().obj
        values = _values(verb.options, kw)
        verbs.prepay(verb, values, bool(obj and obj.opts.systemd_cgroup))
        # obj is None only when a test invokes the command on its own (click.testing)
        code = verb.handler(obj.opts if obj else None, values, [kw[a.name] for a in verb.args],
                            obj.log if obj else Log())
        if code is not None:
            sys.exit(code)

    rest = any(a.rest for a in verb.args)
    settings = {"ignore_unknown_options": True, "allow_interspersed_args": False} if rest else {}
    return click.Command(verb.name, callback=callback, help=verb.help, context_settings=settings,
                         params=[_option(o) for o in verb.options] + [_argument(a) for a in verb.args])


def _group_callback(**kw):
    """The global flags: --log opened now (an unusable path fails every verb,
    as runc's), then the lifecycle Options every verb gets."""
    ctx = click.get_current_context()
    values = _values(verbs.GLOBALS, kw)
    log = Log(values["log"], values["log-format"], values["debug"])
    setup(log)
    ctx.obj = Context(verbs.options(values, log), log)


cli = click.Group(
    "cli", callback=_group_callback, help="pyrunc: an OCI container runtime (runc-compatible).",
    context_settings={"help_option_names": ["-h", "--help"]},
    params=[_option(o) for o in verbs.GLOBALS] + [
        click.Option(["-v", "--version"], is_flag=True, expose_value=False, is_eager=True,
                     callback=_print_version, help="print the version")],
    commands={name: command(verb) for name, verb in verbs.VERBS.items()})


def register_verbs():
    """Import the modules that hold verb bodies (pyrunc.cli.verbs.elsewhere).

    No verb is optional: a module that fails to import is a broken pyrunc,
    and says so (`internal error: ...` from main's catch point, exit 1) even
    for `--help`, rather than leaving a test suite to take a failing verb
    for an absent feature. (pyrunc.cli imports only the one it runs.)"""
    import importlib
    for verb in verbs.VERBS.values():
        module = getattr(verb.handler, "module", None)
        if module:
            importlib.import_module(module)


def main(argv=None):
    argv = normalize_argv(sys.argv[1:] if argv is None else list(argv))
    log = Log()  # replaced by the --log/--log-format one once the globals parse
    code = 0
    try:
        register_verbs()
        ctx = cli.make_context("pyrunc", argv)
        with ctx:
            try:
                cli.invoke(ctx)
            finally:
                if isinstance(ctx.obj, Context):
                    log = ctx.obj.log
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        log.error(exc.format_message())
        code = 1
    except click.exceptions.Abort:
        code = 1
    except BaseException as exc:  # noqa: BLE001 - the one catch point
        code = exit_code_for(exc, log, "--debug" in argv)
    flush_stdout()
    sys.exit(code)
