"""The CLI in-process: argv spellings runc accepts (`--flag=value`, single-dash
long forms), --version, and the one catch point (one stderr line, exit code,
--log json record, never a traceback). No root, no containers."""
from __future__ import annotations

import json

import pytest

from pyrunc.cli import clickapp as cli


def _main(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err, err
    return exc.value.code, out, err


@pytest.mark.parametrize("argv,want", [
    (["-bundle", "b", "x"], ["--bundle", "b", "x"]),
    (["-pid-file=/p", "x"], ["--pid-file=/p", "x"]),
    (["-root", "/r", "state", "x"], ["--root", "/r", "state", "x"]),
    (["-no-pivot", "-no-new-keyring", "-detach"], ["--no-pivot", "--no-new-keyring", "--detach"]),
    (["-log-format", "json"], ["--log-format", "json"]),
    (["-b", "x", "-d", "-a", "-f", "-q"], ["-b", "x", "-d", "-a", "-f", "-q"]),  # real short flags stay
    (["-unknownflag"], ["-unknownflag"]),
    (["run", "--", "-bundle"], ["run", "--", "-bundle"]),  # nothing after -- is touched
    (["update", "-cpu-share", "5", "-cpu-shares=6", "x"], ["update", "--cpu-share", "5", "--cpu-shares=6", "x"]),
    (["-strict", "-stats", "-quiet", "-ignore-paused"], ["--strict", "--stats", "--quiet", "--ignore-paused"]),
])
def test_normalize_argv(argv, want):
    assert cli.normalize_argv(argv) == want


@pytest.mark.parametrize("flag", ["--version", "-v", "-version"])
def test_version(capsys, flag):
    code, out, _ = _main([flag], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("pyrunc version ")
    assert lines[1].startswith("commit: ")  # runc's shape: version, commit, spec
    assert lines[2] == "spec: 1.3.0"


def test_missing_container_one_line(tmp_path, capsys):
    code, out, err = _main(["--root", str(tmp_path), "state", "nope"], capsys)
    assert code == 1 and out == ""
    assert err == "container does not exist\n"


@pytest.mark.parametrize("argv", [
    ["--root={root}", "delete", "nope"],
    ["-root", "{root}", "kill", "nope", "KILL"],
    ["--root", "{root}", "start", "nope"],
])
def test_flag_spellings_reach_the_verb(tmp_path, capsys, argv):
    argv = [a.replace("{root}", str(tmp_path)) for a in argv]
    code, _, err = _main(argv, capsys)
    assert code == 1 and err.strip() == "container does not exist"


def test_log_json_record(tmp_path, capsys):
    log = tmp_path / "log"
    code, _, err = _main(["--root", str(tmp_path), "--log", str(log), "--log-format=json", "state", "nope"], capsys)
    assert code == 1 and err.strip() == "container does not exist"
    (record,) = [json.loads(l) for l in log.read_text().splitlines()]
    assert record["level"] == "error" and record["msg"] == "container does not exist"
    assert record["time"].endswith("Z")


def test_log_text_record(tmp_path, capsys):
    log = tmp_path / "log"
    _main(["--root", str(tmp_path), "-log", str(log), "state", "nope"], capsys)
    text = log.read_text()
    assert 'level=error msg="container does not exist"' in text and text.startswith('time="')


@pytest.mark.parametrize("argv,msg", [
    (["state"], "container id cannot be empty"),
    (["state", "bad/id"], "invalid container id format: bad/id"),
    (["kill", "x", "SIGNOPE"], "unknown signal"),
    (["create", "--preserve-fds", "-1", "x"], "--preserve-fds"),
])
def test_usage_errors(tmp_path, capsys, argv, msg):
    code, _, err = _main(["--root", str(tmp_path), *argv], capsys)
    assert code != 0
    assert msg in err
    assert len(err.strip().splitlines()) == 1, err


def test_unknown_verb_and_flag_fail_without_traceback(tmp_path, capsys):
    code, _, err = _main(["--root", str(tmp_path), "frobnicate"], capsys)
    assert code != 0 and err
    code, _, err = _main(["--root", str(tmp_path), "state", "--bogus", "x"], capsys)
    assert code != 0 and err


def test_list_empty_root(tmp_path, capsys):
    code, out, _ = _main(["--root", str(tmp_path / "none"), "list", "-q"], capsys)
    assert code == 0 and out == ""
    code, out, _ = _main(["--root", str(tmp_path / "none"), "list", "--format", "json"], capsys)
    assert code == 0 and json.loads(out) in ([], None)
    code, out, _ = _main(["--root", str(tmp_path / "none"), "list"], capsys)
    assert code == 0 and out.split()[:3] == ["ID", "PID", "STATUS"]


def test_spec_and_refusal(tmp_path, capsys):
    code, _, _ = _main(["spec", "-b", str(tmp_path)], capsys)
    assert code == 0
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["process"]["args"] == ["sh"] and cfg["root"]["path"] == "rootfs"
    code, _, err = _main(["spec", f"--bundle={tmp_path}"], capsys)
    assert code == 1 and "exists" in err
    sub = tmp_path / "rl"
    sub.mkdir()
    assert _main(["spec", "--rootless", "-bundle", str(sub)], capsys)[0] == 0
    rl = json.loads((sub / "config.json").read_text())
    assert any(ns["type"] == "user" for ns in rl["linux"]["namespaces"])


def test_delete_force_missing_succeeds(tmp_path, capsys):
    code, _, err = _main(["--root", str(tmp_path), "delete", "--force", "nope"], capsys)
    assert code == 0 and err == ""


def test_normalize_knows_every_option_of_the_table():
    """runc's single-dash spelling works for every flag a verb has, the
    names taken from the verb table (pyrunc.cli.verbs), not a list kept by hand."""
    from pyrunc.cli import verbs
    for verb in verbs.VERBS.values():
        for o in verbs.GLOBALS + verb.options:
            for name in (o.name, *o.aliases):
                assert cli.normalize_argv([f"-{name}"]) == [f"--{name}"], (verb.name, name)
