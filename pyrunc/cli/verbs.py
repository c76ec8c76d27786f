"""The one table of pyrunc's verbs: names, runc's flags, and each verb's body.

Place in the flow: `pyrunc.cli` (the `pyrunc` command, no click)
and `pyrunc.cli.clickapp` (click: help, usage errors, anything malformed)
both parse argv against this table and call the same handler:

    handler(opts, values, args, log) -> exit code, or None for 0

`opts` is the lifecycle.common.Options the global flags built, `values` maps
each option's long name to its value (defaults filled in), `args` holds the
positionals in order (a missing one is its default; a `rest` positional is a
tuple of everything after the ones before it), `log` the --log sink. The
handlers call pyrunc.lifecycle; their bodies exist only here (or, for the
longer ones, in the module `elsewhere()` names).

Import-light: stdlib only at import time. A handler imports what its verb
needs when it runs, so `pyrunc state` loads nothing of `run` or `exec`.
"""
import sys


class Opt:
    """One flag, as runc spells it. (Plain classes, not typing/dataclasses:
    those cost the hot path milliseconds to import.)"""
    __slots__ = ("name", "short", "value", "repeated", "integer", "default", "help", "choices", "aliases",
                 "hidden", "metavar", "show_default", "dest")

    def __init__(self, name, short="", *, value=False, repeated=False, integer=False, default=False, help=None,
                 choices=(), aliases=(), hidden=False, metavar=None, show_default=False, dest=""):
        self.name = name                  # long name without dashes: the key in `values`
        self.short = short                # one letter, or ""
        self.value = value                # takes a value (else a flag)
        self.repeated = repeated          # may be given more than once: a tuple of values
        self.integer = integer            # the value is an integer (click's INT)
        self.default = default            # a flag's default is False unless said
        self.help = help
        self.choices = choices            # the only values accepted, when not empty
        self.aliases = aliases            # other long names for the same flag
        self.hidden = hidden
        self.metavar = metavar
        self.show_default = show_default
        self.dest = dest or name.replace("-", "_")   # click's parameter name


def val(name, short="", **kw):
    """An option that takes a value (default None, or () when repeated)."""
    kw.setdefault("default", () if kw.get("repeated") else None)
    return Opt(name, short, value=True, **kw)


class Arg:
    """One positional argument."""
    __slots__ = ("name", "default", "rest")

    def __init__(self, name, default=None, rest=False):
        self.name = name                  # click's name for it (usage: [CONTAINER_ID])
        self.default = default
        self.rest = rest                  # every argument left, options included, untouched


class Verb:
    __slots__ = ("name", "help", "options", "args", "handler", "prepay")

    def __init__(self, name, help, options, args, handler, prepay=False):
        self.name = name
        self.help = help                  # click's help text (its first sentence: the verb list)
        self.options = options
        self.args = args
        self.handler = handler
        self.prepay = prepay              # places a process in a cgroup soon (pyrunc.kernel.cgroup_prepay)


GLOBALS = (
    val("root", help="root directory for container state"),
    val("log", help="log file (default: stderr only)", dest="log_path"),
    val("log-format", default="text", choices=("text", "json")),
    Opt("debug", help="debug output, tracebacks included"),
    Opt("systemd-cgroup", help="use the systemd cgroup driver"),
    val("rootless", default="auto", help="rootless mode: true, false or auto"),
    val("criu", hidden=True),
)

_ID = (Arg("container_id"),)


def elsewhere(module, name):
    """The handler `name` of `module`, imported when the verb runs: a body
    longer than flag-to-call glue lives with its helpers. clickapp imports
    every such module up front, so a broken one fails the CLI loudly."""
    def handler(opts, values, args, log):
        import importlib
        return getattr(importlib.import_module(module), name)(opts, values, args, log)
    handler.module = module  # type: ignore[attr-defined]
    return handler


def need_id(cid):
    """The container id, checked as runc checks it."""
    from pyrunc.errors import UsageError
    if not cid:
        raise UsageError("container id cannot be empty")
    from pyrunc.store import check_id
    check_id(cid)
    return cid


def _fds(n):
    if n < 0:
        from pyrunc.errors import UsageError
        raise UsageError("--preserve-fds: must be a non-negative number")
    return n


def _write(text):
    sys.stdout.write(text + "\n")


# -- the lifecycle verbs: shims call these; the fast parser (pyrunc.cli) must stay light for them ------

def state(opts, values, args, log):
    from pyrunc.lifecycle import state as state_verb
    _write(state_verb.to_json(state_verb.state(opts, need_id(args[0]))))


def start(opts, values, args, log):
    from pyrunc.lifecycle import start as start_verb
    start_verb.start(opts, need_id(args[0]))


def kill(opts, values, args, log):
    from pyrunc.kernel.signals import kill_signal
    from pyrunc.lifecycle import kill as kill_verb
    kill_verb.kill(opts, need_id(args[0]), kill_signal(args[1]), values["all"])


def delete(opts, values, args, log):
    from pyrunc.lifecycle import delete as delete_verb
    delete_verb.delete(opts, need_id(args[0]), force=values["force"])


def _create_args(v):
    return dict(pid_file=v["pid-file"], console_socket=v["console-socket"], no_pivot=v["no-pivot"],
                no_new_keyring=v["no-new-keyring"], preserve_fds=_fds(v["preserve-fds"]))


def create(opts, values, args, log):
    from pyrunc.lifecycle import create as create_verb
    create_verb.create(opts, need_id(args[0]), values["bundle"], **_create_args(values))


def run(opts, values, args, log):
    from pyrunc.lifecycle import run as runner
    return runner.run(opts, need_id(args[0]), values["bundle"], detach=values["detach"], keep=values["keep"],
                      subreaper=not values["no-subreaper"], **_create_args(values))


def exec_(opts, values, args, log):
    from pyrunc.lifecycle import exec as ex
    v = values
    code = ex.run_exec(opts, args[0], args[1], process_file=v["process"], cwd=v["cwd"], env=v["env"],
                       tty=v["tty"], user=v["user"], additional_gids=v["additional-gids"], cap=v["cap"],
                       no_new_privs=v["no-new-privs"], apparmor=v["apparmor"],
                       process_label=v["process-label"], detach=v["detach"], pid_file=v["pid-file"],
                       console_socket=v["console-socket"], preserve_fds=v["preserve-fds"],
                       cgroup=v["cgroup"], ignore_paused=v["ignore-paused"])
    sys.stdout.flush()  # a broken stdout is exec's failure, not the process's
    return code


# -- the others -----------------------------------------------------------------------

def list_(opts, values, args, log):
    import json

    from pyrunc.lifecycle import state as state_verb
    items = state_verb.list_containers(opts)
    if values["quiet"]:
        for item in items:
            _write(item["id"])
    elif values["format"] == "json":
        # runc's encoding/json: compact, and `null` when there is none
        _write(json.dumps(items or None, separators=(",", ":")))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [(i["id"], str(i["pid"]), i["status"], i["bundle"], i["created"], i["owner"]) for i in items]
        widths = [max(12, max(len(r[c]) for r in rows) + 3) for c in range(5)]
        for r in rows:
            _write("".join(r[c].ljust(widths[c]) for c in range(5)) + r[5])


def spec(opts, values, args, log):
    import json
    import os

    from pyrunc.default_spec import default_spec
    from pyrunc.errors import PyruncError, describe_oserror
    path = os.path.join(values["bundle"], "config.json")
    if os.path.exists(path):
        raise PyruncError("File config.json exists. Remove it first")
    try:
        with open(path, "x") as f:
            json.dump(default_spec(values["rootless"]), f, indent="\t")
    except OSError as exc:
        raise PyruncError(f"{path}: {describe_oserror(exc)}") from None


def features(opts, values, args, log):
    import json

    from pyrunc import features as feat
    _write(json.dumps(feat.document(), indent=4))


def pause(opts, values, args, log):
    from pyrunc.lifecycle import cgroup_verbs
    cgroup_verbs.pause(opts, args[0])


def resume(opts, values, args, log):
    from pyrunc.lifecycle import cgroup_verbs
    cgroup_verbs.resume(opts, args[0])


def checkpoint(opts, values, args, log):
    from pyrunc.lifecycle import checkpoint as checkpoint_verb
    checkpoint_verb.checkpoint(opts, need_id(args[0]), values)


def restore(opts, values, args, log):
    from pyrunc.lifecycle import restore as restore_verb
    return restore_verb.restore(opts, need_id(args[0]), values["bundle"], values)


_BUNDLE = val("bundle", "b", default=".", help="path to the bundle")
# in the order `create --help` has always listed them
_CREATE = (val("preserve-fds", integer=True, default=0), Opt("no-new-keyring"), Opt("no-pivot"),
           val("console-socket"), val("pid-file"), _BUNDLE)

# runc's CRIU options, shared by checkpoint and restore
_CRIU = (
    val("image-path", help="path for saving criu image files (default: ./checkpoint)"),
    val("work-path", help="path for saving work files and logs"),
    Opt("tcp-established", help="allow open tcp connections"),
    Opt("ext-unix-sk", help="allow external unix sockets"),
    Opt("shell-job", help="allow shell jobs"),
    Opt("lazy-pages", help="use userfaultfd to lazily restore memory pages"),
    Opt("file-locks", help="handle file locks, for safety"),
    val("manage-cgroups-mode", help="cgroups mode: soft|full|strict|props|ignore (default: soft)"),
    val("empty-ns", repeated=True, help="create a namespace, but don't restore its properties"),
    Opt("auto-dedup", help="enable auto deduplication of memory images"),
)


class Table:
    """The verbs by name, each entry built the first time it is asked for:
    `pyrunc state` builds state's and no other (building all ~80 options costs
    the hot verbs ~0.1 ms). A read-only mapping, in help order."""

    def __init__(self, declared):
        self._declared = declared         # name -> a function that builds its Verb
        self._built = {}

    def __contains__(self, name):
        return name in self._declared

    def __getitem__(self, name):
        verb = self._built.get(name)
        if verb is None:
            verb = self._built[name] = self._declared[name]()
        return verb

    def __iter__(self):
        return iter(self._declared)

    def __len__(self):
        return len(self._declared)

    def keys(self):
        return self._declared.keys()

    def values(self):
        return [self[name] for name in self._declared]

    def items(self):
        return [(name, self[name]) for name in self._declared]


VERBS = Table({
    "state": lambda: Verb("state", "Print the state of a container.", (), _ID, state),
    "start": lambda: Verb("start", "Start a created container.", (), _ID, start),
    "kill": lambda: Verb("kill", "Send a signal to a container's init (default SIGTERM).",
         (Opt("all", "a", help="signal all processes in the container", dest="all_processes"),),
         (Arg("container_id"), Arg("signal", default="SIGTERM")), kill),
    "delete": lambda: Verb("delete", "Delete a container and everything it holds.",
         (Opt("force", "f", help="kill the container first if it runs"),), _ID, delete),
    "create": lambda: Verb("create", "Create a container.", _CREATE, _ID, create, prepay=True),
    "run": lambda: Verb("run", "Create and run a container.",
         _CREATE + (Opt("detach", "d"), Opt("keep"), Opt("no-subreaper")), _ID, run, prepay=True),
    # exec: the id, then the command verbatim (its options are its own); shims
    # call it for every `podman exec`, `ctr tasks exec` and Kubernetes exec probe
    "exec": lambda: Verb("exec", "Execute a new process inside a container.", (
        val("console-socket", metavar="PATH", help="AF_UNIX socket to send the pty master to"),
        val("pid-file", metavar="FILE", help="write the process's pid here"),
        val("process", "p", metavar="FILE", help="an OCI process JSON; the other process flags are then ignored",
            dest="process_file"),
        val("cwd", help="working directory in the container"),
        val("env", "e", repeated=True, help="KEY=VALUE to add to the environment"),
        Opt("tty", "t", default=None, help="allocate a pseudo-TTY"),
        val("user", "u", help="uid[:gid]"),
        val("additional-gids", "g", integer=True, repeated=True, help="additional gid"),
        val("cap", "c", repeated=True, help="a capability to add"),
        Opt("no-new-privs", default=None, help="set no_new_privileges"),
        val("apparmor", help="AppArmor profile"),
        val("process-label", help="SELinux label"),
        Opt("detach", "d", help="detach from the process"),
        val("preserve-fds", integer=True, default=0, help="pass N fds after stdio"),
        val("cgroup", repeated=True, help="[controller:]path of a sub-cgroup to run in"),
        Opt("ignore-paused", help="allow exec in a paused container"),
    ), (Arg("container_id"), Arg("command", rest=True)), exec_, prepay=True),
    "list": lambda: Verb("list", "List containers.", (
        val("format", "f", default="table", choices=("table", "json"), dest="fmt"),
        Opt("quiet", "q", help="print only the ids"),
    ), (), list_),
    "spec": lambda: Verb("spec", "Create a new specification file (config.json).",
         (_BUNDLE, Opt("rootless", help="a config for a rootless container")), (), spec),
    "features": lambda: Verb("features", "Show the enabled features (runtime-spec features.md).", (), (), features),
    "validate": lambda: Verb("validate", "Check a bundle's config.json against runtime-spec 1.3.0 without running it.", (
        val("bundle", "b", default=".", show_default=True, metavar="DIR", help="bundle directory holding config.json"),
        Opt("strict", help="also list (and fail on) unknown fields, unknown annotation keys and other "
                           "platforms' sections"),
        val("format", default="text", choices=("text", "json"), show_default=True, help="output format", dest="fmt"),
    ), (), elsewhere("pyrunc.cli.validate_cmd", "run_validate")),
    "checkpoint": lambda: Verb("checkpoint", "Checkpoint a running container (CRIU).", _CRIU + (
        val("parent-path", help="path for previous criu image files in pre-dump"),
        Opt("leave-running", help="leave the process running after checkpointing"),
        val("page-server", help="ADDRESS:PORT of the page server"),
        Opt("pre-dump", help="dump container's memory information only, leave the container running after this"),
    ), _ID, checkpoint),
    "restore": lambda: Verb("restore", "Restore a container from a previous checkpoint (CRIU).", _CRIU + (
        val("console-socket", help="AF_UNIX socket to send the pty master to"),
        _BUNDLE,
        Opt("detach", "d", help="detach from the container's process"),
        val("pid-file", help="file to write the process id to"),
        Opt("no-subreaper", help="disable the use of the subreaper used to reap reparented processes"),
        Opt("no-pivot", help="do not use pivot root to jail process inside rootfs"),
        val("lsm-profile", help="TYPE:NAME: the LSM profile of the restored process (podman's SELinux label)"),
        val("lsm-mount-context", help="the SELinux mount context of the restored mounts"),
    ), _ID, restore),
    "pause": lambda: Verb("pause", "Suspend all processes in the container (cgroup freezer).", (), _ID, pause),
    "resume": lambda: Verb("resume", "Resume all processes of a paused container.", (), _ID, resume),
    "ps": lambda: Verb("ps", "List the processes in the container (json: a list of host pids).",
         (val("format", "f", default="table", help="table or json", dest="fmt"),),
         (Arg("container_id"), Arg("ps_args", rest=True)), elsewhere("pyrunc.cli.cgroup_cmds", "run_ps")),
    "update": lambda: Verb("update", "Update the resource limits of a container.", (
        val("resources", "r", help="a JSON file of linux.resources to apply ('-' for stdin)", dest="resources_file"),
        val("blkio-weight", help="per-cgroup block IO weight, 10 to 1000"),
        val("cpu-period", help="CPU CFS period (usecs)"),
        val("cpu-quota", help="CPU CFS quota (usecs) per period"),
        val("cpu-share", aliases=("cpu-shares",), help="CPU shares (relative weight)"),
        val("cpu-rt-period", help="CPU realtime period (usecs)"),
        val("cpu-rt-runtime", help="CPU realtime runtime (usecs) per period"),
        val("cpu-idle", help="1 to make the cgroup SCHED_IDLE"),
        val("cpuset-cpus", help="CPUs to use"),
        val("cpuset-mems", help="memory nodes to use"),
        val("kernel-memory", hidden=True),
        val("kernel-memory-tcp", hidden=True),
        val("memory", help="memory limit (bytes, or 64m, 1g, ...)"),
        val("memory-reservation", help="memory soft limit"),
        val("memory-swap", help="memory+swap limit; -1 for unlimited swap"),
        val("pids-limit", help="maximum number of pids"),
        val("l3-cache-schema", hidden=True),
        val("mem-bw-schema", hidden=True),
    ), _ID, elsewhere("pyrunc.cli.cgroup_cmds", "run_update")),
    "events": lambda: Verb("events", "Display container events: OOM notifications and resource statistics.", (
        val("interval", default="5s", help="stats collection interval (e.g. 5s, 500ms)"),
        Opt("stats", help="display the container's stats then exit"),
    ), _ID, elsewhere("pyrunc.cli.cgroup_cmds", "run_events")),
})


def prepay(verb, values, systemd_cgroup=False):
    """create, run and exec place a process in a cgroup soon: start the
    kernel's wait for that now, before their imports (pyrunc.kernel.cgroup_prepay)."""
    if verb.prepay:
        from pyrunc.kernel import cgroup_prepay
        # with cgroupfs, stage-1 joins the cgroup with no wait at all where the
        # kernel allows (kernel/clone_into.py); systemd's unit and exec --cgroup still wait
        cgroup_prepay.start(values["preserve-fds"], self_placing=not systemd_cgroup and not values.get("cgroup"))


def options(values, log):
    """lifecycle.common.Options from the global flags' values."""
    from pyrunc.errors import PyruncError
    from pyrunc.kernel import posixos
    from pyrunc.lifecycle import Options
    from pyrunc.store import default_root
    try:
        root = posixos.abspath(values["root"]) if values["root"] else default_root()
    except PyruncError as exc:  # said by the verbs that use a root (Options.root)
        root = exc
    return Options(root, log=log, systemd_cgroup=values["systemd-cgroup"], rootless=values["rootless"])
