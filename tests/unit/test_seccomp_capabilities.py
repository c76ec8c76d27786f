"""Capability names -> numbers (pyrunc.security.capabilities) and the parent-side
checks of the other process security fields (pyrunc.config.checks.process)."""
from __future__ import annotations

import pytest

from pyrunc.security import capabilities as caps
from pyrunc.config.checks import process as process_checks
from pyrunc.kernel import procfs
from pyrunc.errors import ConfigError


def test_table_matches_python_prctl():
    import prctl
    named = {name: getattr(prctl, name) for name in caps.CAPABILITY_NAMES if hasattr(prctl, name)}
    assert len(named) >= 38  # python-prctl 1.8 stops before the newest ones
    for name, nr in named.items():
        assert caps.CAPABILITY_NUMBERS[name] == nr


def test_resolve_all_sets():
    got = caps.resolve_capabilities({
        "bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_KILL"],
        "permitted": ["CAP_KILL", "CAP_CHOWN"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"],
    })
    assert got == {"bounding": [0, 5], "effective": [5], "permitted": [5, 0],
                   "inheritable": [5], "ambient": [5]}


def test_missing_sets_are_empty_and_none_is_none():
    assert caps.resolve_capabilities({}) == {
        s: [] for s in caps.SETS}
    assert caps.resolve_capabilities(None) is None


def test_unknown_and_ungrantable_names_give_one_warning():
    """The rule (pyrunc.config.checks.process) reports them in runc's one line and
    names them; the translation leaves them out."""
    lines = []
    wanted = {
        "bounding": ["CAP_CHOWN", "CAP_NOPE", "CAP_CHECKPOINT_RESTORE", "CAP_SYS_RESOURCE"],
        "effective": ["CAP_NOPE", "cap_chown"],
    }
    skip = process_checks.report_capabilities(wanted, lines.append, last_cap=39, grantable=set(range(41)) - {24})
    got = caps.resolve_capabilities(wanted, skip=skip)
    assert got["bounding"] == [0] and got["effective"] == []
    assert lines == ["ignoring unknown or unavailable capabilities: "
                     "[CAP_CHECKPOINT_RESTORE CAP_NOPE CAP_SYS_RESOURCE cap_chown]"]


def test_ambient_needs_permitted_and_inheritable():
    """Dropped with a debug line only: runc says nothing louder, and `runc
    spec`'s config asks for ambient caps without inheritable ones."""
    warnings, debug = [], []
    got = caps.resolve_capabilities({"permitted": ["CAP_KILL", "CAP_CHOWN"], "inheritable": ["CAP_KILL"],
                                     "ambient": ["CAP_KILL", "CAP_CHOWN"]}, debug=debug.append)
    assert got["ambient"] == [5]
    assert process_checks.report_capabilities({"ambient": ["CAP_KILL", "CAP_CHOWN"]}, warnings.append,
                                              last_cap=40, grantable=set(range(41))) == frozenset()
    assert warnings == []
    assert debug == ["ignoring ambient capabilities that are not both permitted and inheritable: [CAP_CHOWN]"]


def test_host_bounding_set_parses_status(tmp_path):
    p = tmp_path / "status"
    p.write_text("Name:\tx\nCapBnd:\t000001fffeffffff\n")
    assert caps.host_bounding_set(str(p)) == set(range(41)) - {24}


def test_mask():
    assert caps.mask([0, 5, 29]) == 0x20000021


@pytest.mark.parametrize("text,cpus", [("0", {0}), ("0-2,5", {0, 1, 2, 5}), (" 1 , 3-4 ,", {1, 3, 4})])
def test_cpu_list(text, cpus):
    assert procfs.parse_cpu_list(text) == cpus


@pytest.mark.parametrize("text", ["", ",", "a", "3-1", "-1", "70000"])
def test_bad_cpu_list(text):
    with pytest.raises(ValueError):
        procfs.parse_cpu_list(text)


@pytest.mark.parametrize("cfg,message", [
    ({"process": {"ioPriority": {"class": "IOPRIO_CLASS_NOPE"}}},
     "config.json: process.ioPriority: invalid io priority class: IOPRIO_CLASS_NOPE"),
    ({"process": {"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 9}}},
     "config.json: process.ioPriority: invalid io priority: 9 (must be 0..7)"),
    ({"process": {"scheduler": {"policy": "SCHED_NOPE"}}},
     "config.json: process.scheduler: invalid scheduler policy: SCHED_NOPE"),
    ({"process": {"scheduler": {"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_NOPE"]}}},
     "config.json: process.scheduler: invalid scheduler flag: SCHED_FLAG_NOPE"),
    ({"linux": {"personality": {"domain": "LINUX64"}}},
     "config.json: linux.personality: invalid personality domain LINUX64"),
    ({"process": {"execCPUAffinity": {"initial": "3-1"}}},
     "config.json: process.execCPUAffinity.initial: invalid range: 3-1"),
    pytest.param({"process": {"selinuxLabel": "system_u:system_r:container_t:s0"}},
                 "config.json: process.selinuxLabel: selinux label is specified in config, "
                 "but selinux is disabled or not supported", marks=pytest.mark.requires("no_selinux")),
    pytest.param({"process": {"apparmorProfile": "docker-default"}},
                 "config.json: process.apparmorProfile: apparmor profile is specified in config, "
                 "but apparmor is not enabled on this host", marks=pytest.mark.requires("no_apparmor")),
])
def test_check_process_security_errors(cfg, message):
    with pytest.raises(ConfigError) as exc:
        process_checks.check_process_security(cfg)
    assert str(exc.value) == message


def test_personality_flags_warn():
    lines = []
    process_checks.check_process_security({"linux": {"personality": {"domain": "LINUX", "flags": ["X"]}}},
                                    lines.append)
    assert lines == ["ignoring unsupported personality flags: [X]"]


def test_valid_fields_pass():
    process_checks.check_process_security({"process": {
        "ioPriority": {"class": "IOPRIO_CLASS_IDLE"},
        "scheduler": {"policy": "SCHED_BATCH", "nice": 3, "flags": ["SCHED_FLAG_RESET_ON_FORK"]},
        "execCPUAffinity": {"initial": "0", "final": "0-1"}},
        "linux": {"personality": {"domain": "LINUX32"}}})
