"""pyrunc.cli.fastparse, the click-free entry for the lifecycle verbs: it must know
every option the click commands have, answer exactly as click's path does
(stdout, stderr, exit code), hand everything else to click, and never load
click or anything heavy for state/start/kill/delete. No root, no containers."""
from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from pyrunc.cli import clickapp as cli
from pyrunc.cli import fastparse as fastcli


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


def test_globals_match_click():
    longs, _ = _names(cli.cli)
    assert longs == fastcli.GLOBALS


@pytest.mark.parametrize("verb", sorted(fastcli.VERBS))
def test_verb_options_match_click(verb):
    cli.register_verbs()  # exec lives in cli/exec_cmd.py, added when the CLI runs
    longs, shorts = _names(cli.cli.commands[verb])
    known, fast_shorts, max_args = fastcli.VERBS[verb]
    assert longs == known, "a click option changed: update pyrunc/cli/fastparse.py VERBS"
    assert shorts == fast_shorts
    args = [p for p in cli.cli.commands[verb].params if isinstance(p, click.Argument)]
    assert len(args) == max_args


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
    # click's own answers (fallback): usage errors, help, unknown flags, extra args
    ["--root", "{root}", "state", "a", "b"],
    ["--root", "{root}", "state", "--bogus", "a"],
    ["--root", "{root}", "delete", "--force=1", "a"],
    ["--root", "{root}", "--log-format", "yaml", "state", "a"],
    ["--root"],
    ["--root", "{root}", "state", "--help"],
    ["--root", "{root}", "nosuchverb"],
    ["--root", "{root}", "list"],
    ["--root", "{root}", "kill", "--", "x"],
    ["--root", "{root}", "exec", "-g", "x", "nope", "true"],
    ["--root", "{root}", "exec", "--bogus", "nope", "true"],
    ["--root", "{root}", "exec", "--", "nope", "true"],
    [],
]


@pytest.mark.parametrize("argv", CASES, ids=lambda a: " ".join(a) or "(none)")
def test_same_answer_as_click(tmp_path, capsys, argv):
    argv = [a.replace("{root}", str(tmp_path)) for a in argv]
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
        "from pyrunc.cli import fastparse as fastcli\n"
        "for verb in (['state', 'x'], ['start', 'x'], ['kill', 'x', 'KILL'], ['delete', 'x']):\n"
        f"    try: fastcli.main(['--root', {str(tmp_path)!r}] + verb)\n"
        "    except SystemExit: pass\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    loaded = set(proc.stdout.split())
    heavy = {"click", "jsonschema", "pyseccomp", "prctl", "jeepney", "ctypes", "pyrunc.cli.clickapp", "pyrunc.config",
             "pyrunc.plan", "pyrunc.security.seccomp.compile", "pyrunc.init", "pyrunc.cgroups.v1", "pyrunc.cgroups.v2"}
    assert not loaded & heavy
