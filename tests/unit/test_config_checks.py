"""Semantic rules and SHOULD-warn cases of pyrunc.config (what the schema cannot express)."""
from __future__ import annotations

import copy
import json

import pytest

from pyrunc.config import check_bundle, load_bundle
from pyrunc.config.checks import bundle as bundle_checks, namespaces, pipeline
from pyrunc.errors import ConfigError
from tests.unit.test_config_messages import BASE


@pytest.fixture
def bundle(tmp_path):
    (tmp_path / "rootfs").mkdir()

    def write(change=None):
        cfg = copy.deepcopy(BASE)
        if change:
            change(cfg)
        (tmp_path / "config.json").write_text(json.dumps(cfg))
        return str(tmp_path)
    return write


def _warnings(bundle_dir):
    lines = []
    load_bundle(bundle_dir, warn=lines.append)
    return lines


def test_relative_mount_destination_warns_once(bundle):
    d = bundle(lambda c: c["mounts"].append({"destination": "data", "type": "tmpfs", "source": "tmpfs"}))
    assert _warnings(d) == ['config.json: mounts[1].destination: "data" is relative (deprecated); taken as relative to /']


def _listed_warnings(bundle_dir):
    """What `pyrunc validate` lists (create reports capabilities in one runc line instead)."""
    from pyrunc.config import WARNING, check_bundle
    _cfg, found = check_bundle(bundle_dir)
    return [f.text() for f in found if f.severity == WARNING]


def test_unknown_capability_warns_not_fails(bundle):
    d = bundle(lambda c: c["process"]["capabilities"].update(effective=["CAP_KILL", "CAP_TELEPORT"]))
    assert _listed_warnings(d) == ['config.json: process.capabilities.effective[1]: "CAP_TELEPORT" is not a Linux capability; ignored']
    assert _warnings(d) == []  # create: one line from pyrunc.security.capabilities, not one per field


def test_capability_newer_than_kernel_warns(bundle, monkeypatch):
    monkeypatch.setattr(pipeline.Context, "cap_last_cap", property(lambda self: 37))
    d = bundle(lambda c: c["process"]["capabilities"].update(bounding=["CAP_BPF"]))
    assert _listed_warnings(d) == ['config.json: process.capabilities.bounding[0]: "CAP_BPF" is not known to this kernel; ignored']


def test_prestart_is_accepted_quietly(bundle):
    # deprecated in the spec, but the spec asks for no warning and runc gives none
    d = bundle(lambda c: c["hooks"].update(prestart=[{"path": "/bin/true"}]))
    assert _warnings(d) == []


def test_default_warning_goes_to_stderr(bundle, capsys):
    d = bundle(lambda c: c["mounts"].append({"destination": "data"}))
    load_bundle(d)
    assert capsys.readouterr().err == ('pyrunc: warning: config.json: mounts[1].destination: "data" is relative '
                                       '(deprecated); taken as relative to /\n')


def test_warnings_are_not_reported_when_config_fails(bundle):
    d = bundle(lambda c: (c["mounts"].append({"destination": "data"}), c["process"].update(args=[])))
    lines = []
    with pytest.raises(ConfigError):
        load_bundle(d, warn=lines.append)
    assert lines == []


def test_unknown_fields_and_annotations_are_accepted(bundle):
    def change(c):
        c["proccess"] = {"args": ["x"]}
        c["linux"]["readOnly"] = True
        c["annotations"]["com.example.anything"] = "x"
        c["windows"] = {"layerFolders": []}
    d = bundle(change)
    assert load_bundle(d, warn=lambda line: pytest.fail(line))["proccess"] == {"args": ["x"]}
    _cfg, found = check_bundle(d, strict=True)
    assert [(f.severity, f.path, f.message) for f in found] == [
        ("strict", "windows", "is for another platform; ignored on Linux"),
        ("strict", "linux.readOnly", "unknown field; ignored"),
        ("strict", "proccess", "unknown field; ignored"),
        ("strict", 'annotations["com.example.anything"]', "annotation key not used by pyrunc"),
    ]


def test_joining_namespaces_by_path(bundle):
    d = bundle(lambda c: c["linux"]["namespaces"].extend([{"type": "ipc", "path": "/proc/self/ns/ipc"},
                                                          {"type": "cgroup", "path": "/proc/self/ns/cgroup"}]))
    assert load_bundle(d, warn=lambda line: None)


@pytest.mark.parametrize("path,kind", [("/proc/self/ns/net", "network"), ("/proc/self/ns/mnt", "mount"),
                                       ("/proc/self/ns/pid", "pid"), ("/proc/self/ns/user", "user"),
                                       ("/proc/self/ns/uts", "uts")])
def test_namespace_type_of(path, kind):
    assert namespaces.namespace_type_of(path) == kind


def test_namespace_type_of_plain_file(tmp_path):
    (tmp_path / "f").write_text("")
    assert namespaces.namespace_type_of(str(tmp_path / "f")) is None
    assert namespaces.namespace_type_of(str(tmp_path)) is None


def test_user_namespace_allows_mappings(bundle):
    def change(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    assert load_bundle(bundle(change), warn=lambda line: None)


def test_semver_major():
    assert bundle_checks.semver_major("1.0.0-rc5+dev") == 1
    assert bundle_checks.semver_major("1.3") is None
    assert bundle_checks.semver_major("v1.0.0") is None


def test_config_returned_unchanged(bundle):
    d = bundle()
    with open(f"{d}/config.json") as f:
        assert load_bundle(d) == json.load(f)


def test_newer_minor_version_warns(bundle):
    d = bundle(lambda c: c.update(ociVersion="1.4.0"))
    assert _warnings(d) == ['config.json: ociVersion: "1.4.0" is newer than runtime-spec 1.3.0; fields added since are ignored']


def test_a_refused_seccomp_profile_costs_no_libseccomp(bundle):
    """The profile's rules (checks/seccomp.py) decide before anything compiles:
    a profile they refuse never loads pyseccomp, and create and validate word it alike."""
    import subprocess
    import sys
    d = bundle(lambda c: c["linux"]["seccomp"].update(defaultAction="SCMP_ACT_NOTIFY"))
    code = ("import sys\nfrom pyrunc.config import check_bundle\n"
            f"_cfg, found = check_bundle({d!r})\n"
            "print([f.text() for f in found]); print('pyseccomp' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [
        "['config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action']", "False"]
    with pytest.raises(ConfigError) as exc:
        load_bundle(d)
    assert str(exc.value) == "config.json: linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"


def test_capability_outside_the_runtimes_bounding_set_warns(bundle, monkeypatch):
    """Create always said so (in runc's one line); `validate` now lists it too."""
    monkeypatch.setattr(pipeline.Context, "grantable", property(lambda self: set(range(41)) - {24}))
    d = bundle(lambda c: c["process"]["capabilities"].update(bounding=["CAP_KILL", "CAP_SYS_RESOURCE"]))
    assert _listed_warnings(d) == ['config.json: process.capabilities.bounding[1]: '
                                   '"CAP_SYS_RESOURCE" is not in this runtime\'s bounding set; ignored']
    assert _warnings(d) == []  # create: the one runc line, from report_capabilities


@pytest.mark.requires("root")
def test_validate_reads_the_real_bounding_set(bundle):
    """`pyrunc validate` run without CAP_SYS_TIME in its bounding set (dropped
    just for it) names that capability, as create would in runc's line."""
    import subprocess
    import sys

    def drop():
        import prctl
        prctl.capbset_drop(prctl.CAP_SYS_TIME)
    d = bundle(lambda c: c["process"]["capabilities"].update(bounding=["CAP_KILL", "CAP_SYS_TIME"]))
    proc = subprocess.run([sys.executable, "-m", "pyrunc", "validate", "-b", d], capture_output=True,
                          text=True, preexec_fn=drop)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        'warning: config.json: process.capabilities.bounding[1]: "CAP_SYS_TIME" is not in this '
        "runtime's bounding set; ignored",
        f"{d}: valid (1 warning)"]
