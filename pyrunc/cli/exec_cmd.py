"""`pyrunc exec` and `pyrunc features`: the verbs podman and containerd need
besides the lifecycle. Thin: flags in, pyrunc.lifecycle.exec / pyrunc.features
out. Registered by cli/__init__.py (register_verbs).

exec takes runc's flags; everything after the container id is the command
(options there belong to it). Like runc, any failure of exec itself exits
255 with `exec failed: ...`, so callers can tell it from the process's own
exit status.
"""
from __future__ import annotations

import json
import sys

import click


@click.command("exec", context_settings={"allow_interspersed_args": False,
                                         "ignore_unknown_options": True})
@click.option("--console-socket", default=None, metavar="PATH",
              help="AF_UNIX socket to send the pty master to")
@click.option("--pid-file", default=None, metavar="FILE", help="write the process's pid here")
@click.option("-p", "--process", "process_file", default=None, metavar="FILE",
              help="an OCI process JSON; the other process flags are then ignored")
@click.option("--cwd", default=None, help="working directory in the container")
@click.option("-e", "--env", multiple=True, help="KEY=VALUE to add to the environment")
@click.option("-t", "--tty", is_flag=True, default=None, help="allocate a pseudo-TTY")
@click.option("-u", "--user", default=None, help="uid[:gid]")
@click.option("-g", "--additional-gids", type=int, multiple=True, help="additional gid")
@click.option("-c", "--cap", multiple=True, help="a capability to add")
@click.option("--no-new-privs", is_flag=True, default=None, help="set no_new_privileges")
@click.option("--apparmor", default=None, help="AppArmor profile")
@click.option("--process-label", default=None, help="SELinux label")
@click.option("-d", "--detach", is_flag=True, help="detach from the process")
@click.option("--preserve-fds", type=int, default=0, help="pass N fds after stdio")
@click.option("--cgroup", multiple=True, help="[controller:]path of a sub-cgroup to run in")
@click.option("--ignore-paused", is_flag=True, help="allow exec in a paused container")
@click.argument("container_id", required=False)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def exec_(obj, console_socket, pid_file, process_file, cwd, env, tty, user, additional_gids, cap,
          no_new_privs, apparmor, process_label, detach, preserve_fds, cgroup, ignore_paused,
          container_id, command):
    """Execute a new process inside a container."""
    from pyrunc.cli.clickapp import start_cgroup_prepay
    start_cgroup_prepay(preserve_fds)  # the exec'd process joins the container's cgroup
    from pyrunc.lifecycle import exec as ex
    code = ex.run_exec(obj.opts, container_id, command, process_file=process_file, cwd=cwd,
                       env=env, tty=tty, user=user, additional_gids=additional_gids, cap=cap,
                       no_new_privs=no_new_privs, apparmor=apparmor, process_label=process_label,
                       detach=detach, pid_file=pid_file, console_socket=console_socket,
                       preserve_fds=preserve_fds, cgroup=cgroup, ignore_paused=ignore_paused)
    sys.stdout.flush()
    sys.exit(code)


@click.command("features")
def features() -> None:
    """Show the enabled features (runtime-spec features.md)."""
    from pyrunc import features as feat
    click.echo(json.dumps(feat.document(), indent=4))
