"""pyrunc.cli, the click-free entry for every verb of the table
(pyrunc.cli.verbs): it must know every option the click commands have, answer
exactly as click's path does (stdout, stderr, exit code, the handler's call),
hand everything else to click, and never load click or anything heavy for
state/start/kill/delete. Every verb body exists once. No root, no containers."""
from __future__ import annotations

import ast
import json
import pathlib
import subprocess
import sys

import click
import pytest

from pyrunc.cli import clickapp as cli
import pyrunc.cli as fastcli
from pyrunc.cli import verbs


def _names(command):
    longs, shorts = {}, {}
    for p in command.params:
        if not isinstance(p, click.Option) or p.name in ("version",):
            continue
        for opt in p.opts:
            if opt.startswith("--"):
                longs[opt[2:]] = not p.is_flag
                long_name = opt[2:]
        for opt in p.opts:
            if not opt.startswith("--"):
                shorts[opt[1:]] = long_name
    return longs, shorts


def _table(options):
    longs, shorts = {}, {}
    for o in options:
        for name in (o.name, *o.aliases):
            longs[name] = o.value
        if o.short:
            shorts[o.short] = o.name
    return longs, shorts


def test_globals_match_click():
    longs, _ = _names(cli.cli)
    assert longs == _table(verbs.GLOBALS)[0]


def test_every_table_verb_is_a_click_command_and_no_other():
    assert set(cli.cli.commands) == set(verbs.VERBS)


@pytest.mark.parametrize("verb", sorted(verbs.VERBS))
def test_verb_options_match_click(verb):
    cli.register_verbs()
    longs, shorts = _names(cli.cli.commands[verb])
    known, fast_shorts = _table(verbs.VERBS[verb].options)
    assert longs == known, "a click option changed: update pyrunc/cli/verbs.py"
    assert shorts == fast_shorts
    args = [p for p in cli.cli.commands[verb].params if isinstance(p, click.Argument)]
    assert len(args) == len(verbs.VERBS[verb].args)


def _run(main, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


CASES = [
    ["--root", "{root}", "state", "nope"],
    ["--root={root}", "delete", "nope"],
    ["-root", "{root}", "kill", "nope", "KILL"],
    ["--root", "{root}", "kill", "nope"],
    ["--root", "{root}", "kill", "-a", "nope", "9"],
    ["--root", "{root}", "kill", "--all", "nope", "NOPE"],
    ["--root", "{root}", "start", "nope"],
    ["--root", "{root}", "delete", "--force", "nope"],
    ["--root", "{root}", "delete", "nope", "-f"],
    ["--root", "{root}", "delete", "-force", "nope"],
    ["--root", "{root}", "state"],
    ["--root", "{root}", "state", ""],
    ["--root", "{root}", "state", "bad/id"],
    ["--root", "{root}", "state", ".hidden"],
    ["--root", "{root}", "--debug", "state", "nope"],
    ["--root", "{root}", "--log-format", "json", "--log", "{root}/log", "state", "nope"],
    ["--root", "{root}", "create", "--bundle", "{root}/none", "c1"],
    ["--root", "{root}", "create", "-b", "{root}/none", "--pid-file={root}/p", "c1"],
    ["--root", "{root}", "create", "--preserve-fds", "-1", "c1"],
    ["--root", "{root}", "create", "--preserve-fds=-1", "c1"],
    ["--root", "{root}", "create", "--preserve-fds", "x", "c1"],
    ["--root", "{root}", "run", "-d", "--bundle", "{root}/none", "c1"],
    ["--root", "{root}", "run", "-bundle", "{root}/none", "--no-subreaper", "--keep", "c1"],
    ["--root", "{root}", "run", "c1"],
    ["--root", "{root}", "exec", "nope", "true"],
    ["--root", "{root}", "exec", "--process", "{root}/p.json", "--detach", "--pid-file", "{root}/pid", "nope"],
    ["--root", "{root}", "exec", "-t", "-e", "A=1", "-e", "B=2", "-u", "0:0", "-g", "5", "-g", "6",
     "--cwd", "/", "--cap", "CAP_KILL", "--cgroup", "sub", "nope", "sh", "-c", "x", "--tty"],
    ["--root", "{root}", "exec"],
    ["--root", "{root}", "exec", "nope"],
    ["--root", "{root}", "exec", "", "true"],
    ["--root", "{root}", "exec", "--preserve-fds", "-1", "nope", "true"],
    ["--root", "{root}", "--log-format", "json", "--log", "{root}/log", "exec", "nope", "true"],
    # the other verbs of the table
    ["--root", "{root}", "list"],
    ["--root", "{root}", "list", "-q"],
    ["--root", "{root}", "list", "--format", "json"],
    ["--root", "{root}", "list", "-f=json"],
    ["--root", "{root}", "spec", "-b", "{root}/none"],
    ["--root", "{root}", "spec", "--rootless", "--bundle={root}/none"],
    ["--root", "{root}", "spec", "-b", "{root}/exists"],
    ["--root", "{root}", "features"],
    ["--root", "{root}", "validate", "-b", "{root}/none"],
    ["--root", "{root}", "validate", "--strict", "--format", "json", "--bundle", "{root}/none"],
    ["--root", "{root}", "validate", "-bundle", "{root}/exists", "-format=text"],
    ["--root", "{root}", "pause", "nope"],
    ["--root", "{root}", "pause"],
    ["--root", "{root}", "resume", "nope"],
    ["--root", "{root}", "ps", "nope"],
    ["--root", "{root}", "ps", "-f", "json", "nope", "-o", "pid"],
    ["--root", "{root}", "ps", "--format", "yaml", "nope"],
    ["--root", "{root}", "ps"],
    ["--root", "{root}", "ps", "nope", "--", "-ef"],
    ["--root", "{root}", "exec", "nope", "sh", "--", "-c"],
    ["--root", "{root}", "update", "--memory", "64m", "--cpu-shares", "5", "nope"],
    ["--root", "{root}", "update", "--memory", "1x", "nope"],
    ["--root", "{root}", "update", "--l3-cache-schema", "x", "nope"],
    ["--root", "{root}", "update", "-r", "{root}/none.json", "nope"],
    ["--root", "{root}", "update", "--cpu-quota", "abc", "nope"],
    ["--root", "{root}", "events", "nope"],
    ["--root", "{root}", "events", "--stats", "--interval", "0s", "nope"],
    ["--root", "{root}", "events", "--interval", "1q", "nope"],
    # click's own answers (fallback): usage errors, help, unknown flags, extra args
    ["--root", "{root}", "state", "a", "b"],
    ["--root", "{root}", "state", "--bogus", "a"],
    ["--root", "{root}", "delete", "--force=1", "a"],
    ["--root", "{root}", "--log-format", "yaml", "state", "a"],
    ["--root"],
    ["--root", "{root}", "state", "--help"],
    ["--root", "{root}", "nosuchverb"],
    ["--root", "{root}", "list", "--format", "yaml"],
    ["--root", "{root}", "validate", "--format", "yaml"],
    ["--root", "{root}", "ps", "--bogus", "nope"],
    ["--root", "{root}", "update", "--cpu-quota", "-1", "nope"],
    ["--root", "{root}", "features", "x"],
    ["--root", "{root}", "kill", "--", "x"],
    ["--root", "{root}", "exec", "-g", "x", "nope", "true"],
    ["--root", "{root}", "exec", "--bogus", "nope", "true"],
    ["--root", "{root}", "exec", "--", "nope", "true"],
    [],
]


@pytest.mark.parametrize("argv", CASES, ids=lambda a: " ".join(a) or "(none)")
def test_same_answer_as_click(tmp_path, capsys, argv):
    argv = [a.replace("{root}", str(tmp_path)) for a in argv]
    (tmp_path / "exists").mkdir()
    (tmp_path / "exists" / "config.json").write_text("{}")
    want = _run(cli.main, argv, capsys)
    log = tmp_path / "log"
    want_log = log.read_text() if log.exists() else None
    if log.exists():
        log.unlink()
    got = _run(fastcli.main, argv, capsys)
    assert got == want
    got_log = log.read_text() if log.exists() else None
    if want_log is not None:
        strip = [{k: v for k, v in json.loads(line).items() if k != "time"} for line in want_log.splitlines()]
        assert strip == [{k: v for k, v in json.loads(line).items() if k != "time"}
                         for line in got_log.splitlines()]


@pytest.mark.parametrize("argv", [
    ["state", "x"], ["--root", "/r", "start", "x"], ["-root=/r", "--debug", "kill", "x", "KILL"],
    ["--root", "/r", "delete", "-f", "x"], ["--systemd-cgroup", "run", "-d", "-b", "b", "x"],
    ["create", "--bundle=b", "--pid-file", "p", "--console-socket", "s", "--no-pivot", "x"],
    ["exec", "--process", "p.json", "--detach", "--pid-file", "f", "x"],
    ["exec", "-t", "--console-socket", "s", "x", "sh", "-c", "--not-ours"],
])
def test_fast_path_takes_the_common_spellings(argv):
    fastcli.parse(argv)  # no _Fallback


def test_hot_verbs_import_nothing_heavy(tmp_path):
    code = (
        "import sys\n"
        "import pyrunc.cli as fastcli\n"
        "for verb in (['state', 'x'], ['start', 'x'], ['kill', 'x', 'KILL'], ['delete', 'x']):\n"
        f"    try: fastcli.main(['--root', {str(tmp_path)!r}] + verb)\n"
        "    except SystemExit: pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    loaded = set(proc.stdout.split())
    heavy = {"click", "jsonschema", "pyseccomp", "prctl", "jeepney", "ctypes", "pyrunc.cli.clickapp", "pyrunc.config",
             "pyrunc.plan", "pyrunc.security.seccomp.compile", "pyrunc.init", "pyrunc.cgroups.v1", "pyrunc.cgroups.v2",
             # other verbs' handlers: the table imports them only when they run
             "pyrunc.lifecycle.create", "pyrunc.lifecycle.run", "pyrunc.lifecycle.exec", "pyrunc.cli.cgroup_cmds",
             "pyrunc.cli.validate_cmd", "pyrunc.lifecycle.cgroup_verbs", "pyrunc.default_spec", "pyrunc.features"}
    assert not loaded & heavy


def _full_argv(verb, short):
    """Every option of a verb given once (a repeated one twice), long or short."""
    argv = []
    for o in verb.options:
        flag = f"-{o.short}" if short and o.short else f"--{o.name}"
        if not o.value:
            argv.append(flag)
            continue
        value = o.choices[-1] if o.choices else "7" if o.integer else f"{o.name}-v"
        argv += [flag, value] * (2 if o.repeated else 1)
    for a in verb.args:
        argv += ["sh", "-c", "--x"] if a.rest else ["KILL" if a.name == "signal" else "cid"]
    return argv


def _calls(monkeypatch, main, argv):
    calls = []
    for verb in verbs.VERBS.values():
        def record(opts, values, args, log, name=verb.name):
            calls.append((name, opts.root, opts.rootless, opts.systemd_cgroup, log.fmt, values, list(args)))
        monkeypatch.setattr(verb, "handler", record)
    monkeypatch.setattr(fastcli, "prepay", lambda verb, values, systemd_cgroup=False: calls.append(("prepay", verb.name, systemd_cgroup)))
    monkeypatch.setattr(verbs, "prepay", lambda verb, values, systemd_cgroup=False: calls.append(("prepay", verb.name, systemd_cgroup)))
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    return calls


@pytest.mark.parametrize("short", [False, True], ids=["long", "short"])
@pytest.mark.parametrize("name", sorted(verbs.VERBS))
@pytest.mark.parametrize("spelling", [[], ["--root", "{root}", "--rootless", "true", "--systemd-cgroup",
                                           "--log-format", "json", "--log", "{root}/log"]],
                         ids=["plain", "globals"])
def test_both_parsers_make_the_same_call(tmp_path, monkeypatch, name, short, spelling):
    """Every verb, every option: the fast path takes the argv (no fallback),
    and the handler gets the very same options, values and positionals as
    when click parses it, defaults included."""
    argv = [a.replace("{root}", str(tmp_path)) for a in spelling] + [name] + _full_argv(verbs.VERBS[name], short)
    fastcli.parse(argv)  # no _Fallback: the fast path answers it
    fast = _calls(monkeypatch, fastcli.main, argv)
    slow = _calls(monkeypatch, cli.main, argv)
    assert fast == slow and fast[-1][0] == name
    bare = [a.replace("{root}", str(tmp_path)) for a in spelling] + [name]
    assert _calls(monkeypatch, fastcli.main, bare) == _calls(monkeypatch, cli.main, bare)


CLI = pathlib.Path(cli.__file__).parent


def test_no_verb_body_exists_twice():
    """Only the table's handlers (pyrunc/cli/verbs.py, and the modules its
    `elsewhere` entries name) call into pyrunc.lifecycle, each lifecycle
    function from one module; the fast parser calls none; no click command is
    written by hand (clickapp generates them from the table)."""
    bodies = {verbs.__name__} | {v.handler.module for v in verbs.VERBS.values() if hasattr(v.handler, "module")}
    callers = {}   # "pyrunc.lifecycle.x.function" -> cli modules calling it
    for path in sorted(CLI.glob("*.py")):
        module = f"pyrunc.cli.{path.stem}"
        tree = ast.parse(path.read_text())
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pyrunc.lifecycle"):
                for a in node.names:
                    target = f"{node.module}.{a.name}"
                    aliases[a.asname or a.name] = target
                    callers.setdefault(target, set()).add(module)
            if isinstance(node, ast.Attribute) and node.attr in ("command", "group") and \
                    isinstance(node.value, ast.Name) and node.value.id == "click":
                raise AssertionError(f"{path.name}:{node.lineno}: a hand-written click command")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id in aliases:
                callers.setdefault(f"{aliases[node.func.value.id]}.{node.func.attr}", set()).add(module)
    assert callers and all(mods <= bodies for mods in callers.values()), callers
    functions = {name: mods for name, mods in callers.items() if name.count(".") == 3}
    assert "pyrunc.lifecycle.state.state" in functions and "pyrunc.lifecycle.cgroup_verbs.update" in functions
    assert all(len(mods) == 1 for mods in functions.values()), functions
