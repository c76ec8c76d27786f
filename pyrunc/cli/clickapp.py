"""The command line: runc's verbs, flags and exit codes, and the one catch point.

Global flags come before the verb. Each verb is one thin function that calls
pyrunc.lifecycle. Every failure ends here as exactly one stderr line (and one
--log record); a traceback only with --debug. Only this package imports click.
"""
from __future__ import annotations

import json
import os
import sys

import click

from pyrunc.errors import PyruncError, UsageError, describe_oserror, exit_code_for
from pyrunc.log import Log, flush_stdout, setup

# long options that runc (Go's flag parsing) also accepts with one dash
_VALUE_OPTIONS = {"root", "log", "log-format", "rootless", "bundle", "pid-file", "console-socket",
                  "preserve-fds", "format", "process", "cwd", "env", "user", "additional-gids",
                  "cap", "apparmor", "process-label", "cgroup", "resources", "interval",
                  "memory", "memory-swap", "memory-reservation", "kernel-memory", "kernel-memory-tcp",
                  "cpu-shares", "cpu-quota", "cpu-period", "cpu-rt-period", "cpu-rt-runtime",
                  "cpuset-cpus", "cpuset-mems", "pids-limit", "blkio-weight", "l3-cache-schema",
                  "mem-bw-schema", "criu", "signal", "cpu-idle"}
_FLAG_OPTIONS = {"debug", "systemd-cgroup", "detach", "no-pivot", "no-new-keyring", "keep",
                 "no-subreaper", "force", "all", "help", "version", "tty", "no-new-privs",
                 "ignore-paused", "strict", "stats", "quiet"}


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", default=None, help="root directory for container state")
@click.option("--log", "log_path", default=None, help="log file (default: stderr only)")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text")
@click.option("--debug", is_flag=True, help="debug output, tracebacks included")
@click.option("--systemd-cgroup", is_flag=True, help="use the systemd cgroup driver")
@click.option("--rootless", default="auto", help="rootless mode: true, false or auto")
@click.option("--criu", default=None, hidden=True)
@click.option("-v", "--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="print the version")
@click.pass_context
def cli(ctx, root, log_path, log_format, debug, systemd_cgroup, rootless, criu):
    """pyrunc: an OCI container runtime (runc-compatible)."""
    from pyrunc.lifecycle.common import Options
    from pyrunc.store.statedir import default_root
    log = Log(log_path, log_format, debug)
    setup(log)  # --log opened now: an unusable path fails every verb, as runc's
    root = os.path.abspath(root) if root else default_root()
    ctx.obj = Context(Options(root, log=log, systemd_cgroup=systemd_cgroup, rootless=rootless), log)


def start_cgroup_prepay(preserve_fds):
    """create, run and exec place a process in a cgroup soon: start the
    kernel's wait for that now (pyrunc.kernel.cgroup_prepay)."""
    from pyrunc.kernel import cgroup_prepay as prepay
    prepay.start(preserve_fds)


@cli.command()
@click.option("-b", "--bundle", default=".", help="path to the bundle")
@click.option("--rootless", is_flag=True, help="a config for a rootless container")
def spec(bundle, rootless):
    """Create a new specification file (config.json)."""
    from pyrunc.default_spec import default_spec
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise PyruncError("File config.json exists. Remove it first")
    try:
        with open(path, "x") as f:
            json.dump(default_spec(rootless), f, indent="\t")
    except OSError as exc:
        raise PyruncError(f"{path}: {describe_oserror(exc)}") from None


def _create_options(f):
    f = click.option("-b", "--bundle", default=".", help="path to the bundle")(f)
    f = click.option("--pid-file", default=None)(f)
    f = click.option("--console-socket", default=None)(f)
    f = click.option("--no-pivot", is_flag=True)(f)
    f = click.option("--no-new-keyring", is_flag=True)(f)
    f = click.option("--preserve-fds", type=int, default=0)(f)
    return f


@cli.command()
@_create_options
@click.argument("container_id", required=False)
@click.pass_obj
def create(obj, bundle, pid_file, console_socket, no_pivot, no_new_keyring, preserve_fds, container_id):
    """Create a container."""
    start_cgroup_prepay(preserve_fds)
    from pyrunc.lifecycle import create as create_verb
    create_verb.create(obj.opts, _need_id(container_id), bundle, pid_file=pid_file,
                        console_socket=console_socket, no_pivot=no_pivot,
                        no_new_keyring=no_new_keyring, preserve_fds=_fds(preserve_fds))


@cli.command()
@_create_options
@click.option("-d", "--detach", is_flag=True)
@click.option("--keep", is_flag=True)
@click.option("--no-subreaper", is_flag=True)
@click.argument("container_id", required=False)
@click.pass_obj
def run(obj, bundle, pid_file, console_socket, no_pivot, no_new_keyring, preserve_fds, detach,
        keep, no_subreaper, container_id):
    """Create and run a container."""
    start_cgroup_prepay(preserve_fds)
    from pyrunc.lifecycle import run as runner
    code = runner.run(obj.opts, _need_id(container_id), bundle, pid_file=pid_file,
                      console_socket=console_socket, no_pivot=no_pivot,
                      no_new_keyring=no_new_keyring, preserve_fds=_fds(preserve_fds),
                      detach=detach, keep=keep, subreaper=not no_subreaper)
    sys.exit(code)


@cli.command()
@click.argument("container_id", required=False)
@click.pass_obj
def start(obj, container_id):
    """Start a created container."""
    from pyrunc.lifecycle import start as start_verb
    start_verb.start(obj.opts, _need_id(container_id))


@cli.command()
@click.argument("container_id", required=False)
@click.pass_obj
def state(obj, container_id):
    """Print the state of a container."""
    from pyrunc.lifecycle import state as state_verb
    click.echo(state_verb.to_json(state_verb.state(obj.opts, _need_id(container_id))))


@cli.command()
@click.option("-a", "--all", "all_processes", is_flag=True, help="signal all processes in the container")
@click.argument("container_id", required=False)
@click.argument("signal", required=False, default="SIGTERM")
@click.pass_obj
def kill(obj, all_processes, container_id, signal):
    """Send a signal to a container's init (default SIGTERM)."""
    from pyrunc.kernel.signals import kill_signal
    from pyrunc.lifecycle import kill as kill_verb
    kill_verb.kill(obj.opts, _need_id(container_id), kill_signal(signal), all_processes)


@cli.command()
@click.option("-f", "--force", is_flag=True, help="kill the container first if it runs")
@click.argument("container_id", required=False)
@click.pass_obj
def delete(obj, force, container_id):
    """Delete a container and everything it holds."""
    from pyrunc.lifecycle import delete as delete_verb
    delete_verb.delete(obj.opts, _need_id(container_id), force=force)


@cli.command("list")
@click.option("-f", "--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("-q", "--quiet", is_flag=True, help="print only the ids")
@click.pass_obj
def list_(obj, fmt, quiet):
    """List containers."""
    from pyrunc.lifecycle import state as state_verb
    items = state_verb.list_containers(obj.opts)
    if quiet:
        for item in items:
            click.echo(item["id"])
    elif fmt == "json":
        # runc's encoding/json: compact, and `null` when there is none
        click.echo(json.dumps(items or None, separators=(",", ":")))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(i["id"], str(i["pid"]), i["status"], i["bundle"], i["created"], i["owner"]) for i in items]
        widths = [max(12, max(len(r[c]) for r in rows) + 3) for c in range(5)]
        for r in rows:
            click.echo("".join(r[c].ljust(widths[c]) for c in range(5)) + r[5])


def register_verbs():
    """Add the verbs that live in modules of their own.

    No verb is optional: a module that fails to import, or lacks a command it
    should have, is a broken pyrunc, and says so (`internal error: ...`
    from main's catch point, exit 1) rather than leaving click to answer `No
    such command` and a test suite to take that for an absent feature."""
    from pyrunc.cli import cgroup_cmds, exec_cmd, validate_cmd
    for mod, names in ((validate_cmd, ("validate",)),
                       (exec_cmd, ("exec_", "features")),
                       (cgroup_cmds, ("pause", "resume", "ps", "update", "events"))):
        for name in names:
            cmd = getattr(mod, name)
            if not isinstance(cmd, click.Command):
                raise TypeError(f"{mod.__name__}.{name} is not a click command")
            cli.add_command(cmd)


def _need_id(container_id):
    if not container_id:
        raise UsageError("container id cannot be empty")
    from pyrunc.store.statedir import check_id
    check_id(container_id)
    return container_id


def _fds(n):
    if n < 0:
        raise UsageError("--preserve-fds: must be a non-negative number")
    return n


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
