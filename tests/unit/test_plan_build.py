"""plan.build: a validated config becomes the flat plan the child executes.
Pure, so it is tested here without root or a kernel."""
from __future__ import annotations

import os
import signal

import pytest

from pyrunc import plan as planner
from pyrunc.errors import ConfigError, UsageError
from pyrunc.kernel import syscalls as k
from tests import support


def _cfg(**over):
    cfg = support.base_config()
    cfg.update(over)
    return cfg


def _build(cfg, bundle="/bundle", **kw):
    return planner.build(cfg, "cid", bundle, **kw)


def test_rootfs_relative_to_bundle_and_flags(tmp_path):
    (tmp_path / "rootfs").mkdir()
    p = _build(_cfg(), str(tmp_path), no_pivot=True, no_new_keyring=True, preserve_fds=2)
    assert p.rootfs == str(tmp_path / "rootfs")
    assert p.readonly_root is True
    assert (p.no_pivot, p.no_new_keyring, p.preserve_fds) == (True, True, 2)
    assert p.container_id == "cid" and p.bundle == str(tmp_path)


def test_rootfs_absolute_path_kept(tmp_path):
    cfg = _cfg()
    cfg["root"] = {"path": str(tmp_path)}
    assert _build(cfg).rootfs == str(tmp_path)


def test_namespaces_ordered_user_first_and_split_new_from_joined():
    cfg = _cfg()
    cfg["linux"]["namespaces"] = [{"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"},
                                  {"type": "user"}, {"type": "pid"}, {"type": "time"}]
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 10}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 2000, "size": 1},
                                   {"containerID": 5, "hostID": 3000, "size": 2}]
    cfg.pop("hostname")
    p = _build(cfg)
    assert p.new_namespaces == ("user", "pid", "mount", "time")
    assert p.join_namespaces == (("network", "/proc/1/ns/net"),)
    assert p.has("network") and p.has("user") and not p.has("uts")
    assert p.uid_map == "0 1000 10\n"
    assert p.gid_map == "0 2000 1\n5 3000 2\n"


def test_time_offsets_rendered_for_timens_offsets():
    cfg = _cfg()
    cfg["linux"]["timeOffsets"] = {"monotonic": {"secs": 10, "nanosecs": 5}, "boottime": {"secs": -3}}
    text = _build(cfg).time_offsets
    assert sorted(text.splitlines()) == ["boottime -3 0", "monotonic 10 5"]


def test_mount_options_split_into_flags_propagation_and_data():
    cfg = _cfg()
    cfg["mounts"] = [{"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                      "options": ["ro", "nosuid", "nodev", "noexec", "rslave", "size=4m", "mode=755",
                                  "rro", "tmpcopyup"]}]
    (m,) = _build(cfg).mounts
    assert m.flags == k.MS_RDONLY | k.MS_NOSUID | k.MS_NODEV | k.MS_NOEXEC
    assert m.propagation == (k.MS_SLAVE | k.MS_REC,)
    assert m.data == "size=4m,mode=755"
    assert m.recursive_attrs == ("rro",)
    assert not m.bind and not m.cgroup


def test_later_option_overrides_earlier():
    cfg = _cfg()
    cfg["mounts"] = [{"destination": "/d", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "rw", "nosuid", "suid"]}]
    assert _build(cfg).mounts[0].flags == 0


def test_bind_source_relative_to_bundle(tmp_path):
    (tmp_path / "data").mkdir()
    cfg = _cfg()
    cfg["mounts"] = [{"destination": "data/", "type": "none", "source": "data", "options": ["rbind", "ro"]}]
    (m,) = _build(cfg, str(tmp_path)).mounts
    assert m.bind and m.source == str(tmp_path / "data")
    assert m.destination == "/data"  # relative destinations are taken from /
    assert m.flags & (k.MS_BIND | k.MS_REC | k.MS_RDONLY) == k.MS_BIND | k.MS_REC | k.MS_RDONLY


def test_missing_bind_source_is_left_to_the_mount(tmp_path):
    # an earlier mount may make it inside the rootfs (runc's mount-order case);
    # the pipeline (pyrunc.config) refuses a missing source outside the rootfs
    cfg = _cfg()
    cfg["mounts"] = [{"destination": "/x", "type": "bind", "source": str(tmp_path / "absent")}]
    assert _build(cfg).mounts[0].source == str(tmp_path / "absent")


def test_paths_spelling_the_rootfs_are_container_paths(tmp_path):
    # runc's mount-order tests: $rootfs/mnt/x is /mnt/x; lexically, by whole
    # components ($rootfs2 is not below $rootfs), written or resolved form
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "rootfs").mkdir()
    os.symlink("real", tmp_path / "bundle")
    root = str(tmp_path / "bundle" / "rootfs")
    real = str(tmp_path / "real" / "rootfs")
    cfg = _cfg()
    cfg["mounts"] = [{"destination": f"{root}/mnt/x", "type": "bind", "source": f"{real}/mnt"},
                     {"destination": root, "type": "bind", "source": f"{root}2/y"},
                     {"destination": f"{root}2/z", "type": "tmpfs", "source": f"{root}/tmpfs"}]
    x, top, other = _build(cfg, str(tmp_path / "bundle")).mounts
    assert (x.destination, x.source_in_root) == ("/mnt/x", "/mnt")
    assert (top.destination, top.source_in_root) == ("/", None)
    assert (other.destination, other.source_in_root) == (f"{root}2/z", None)


def test_device_file_mode_keeps_permission_bits_only():
    # podman's --device sends 8630 = 0o20666: the type comes from `type`
    cfg = _cfg()
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 8630}]
    assert _build(cfg).devices[0].mode == 0o666


def test_bind_over_dev_skips_default_devices(tmp_path):
    cfg = _cfg()
    assert _build(cfg).setup_dev is True
    cfg["mounts"].append({"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]})
    assert _build(cfg).setup_dev is False


def test_cgroup_mount_is_marked():
    cfg = _cfg()
    (m,) = [m for m in _build(cfg).mounts if m.destination == "/sys/fs/cgroup"]
    assert m.cgroup and m.flags & k.MS_RDONLY


def test_devices_default_mode_and_kinds():
    cfg = _cfg()
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229},
                               {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0, "fileMode": 0o600,
                                "uid": 1, "gid": 2}]
    fuse, sda = _build(cfg).devices
    assert (fuse.kind, fuse.major, fuse.minor, fuse.mode) == ("c", 10, 229, 0o666)
    assert (sda.kind, sda.mode, sda.uid, sda.gid) == ("b", 0o600, 1, 2)


def test_default_devices_and_links_are_runcs():
    paths = {d[0] for d in planner.DEFAULT_DEVICES}
    assert paths == {"/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom"}
    assert dict((dst, src) for src, dst in planner.DEFAULT_SYMLINKS) == {
        "/dev/fd": "/proc/self/fd", "/dev/stdin": "/proc/self/fd/0",
        "/dev/stdout": "/proc/self/fd/1", "/dev/stderr": "/proc/self/fd/2"}


def test_process_fields():
    cfg = _cfg()
    cfg["process"].update(args=["sh", "-c", "x"], env=["A=1"], cwd="/work", terminal=True,
                          consoleSize={"height": 24, "width": 80}, oomScoreAdj=100,
                          user={"uid": 1, "gid": 2, "umask": 0o077, "additionalGids": [3, 4]},
                          rlimits=[{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}])
    cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "5"}
    p = _build(cfg)
    assert p.args == ("sh", "-c", "x") and p.env == ("A=1",) and p.cwd == "/work"
    assert p.terminal and p.console_size == (24, 80)
    assert p.oom_score_adj == 100
    assert p.user == planner.User(uid=1, gid=2, umask=0o077, additional_gids=(3, 4))
    import resource
    assert p.rlimits == (("RLIMIT_NOFILE", resource.RLIMIT_NOFILE, 10, 20),)
    assert p.sysctl == (("kernel.shmmax", "5"), ("net.ipv4.ip_forward", "1"))
    assert p.masked_paths[0] == "/proc/acpi" and "/proc/sys" in p.readonly_paths


def test_unknown_rlimit():
    # the rule is the config pipeline's (plan.build assumes a validated config):
    # test_plan_frozen.py checks that `validate` reports it
    from pyrunc.config import ERROR, check_bundle
    import json
    import tempfile
    cfg = _cfg()
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]
    with tempfile.TemporaryDirectory() as d:
        os.mkdir(os.path.join(d, "rootfs"))
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        with pytest.raises(ConfigError, match="RLIMIT_BOGUS"):
            from pyrunc import config
            config.load(d)
        _doc, found = check_bundle(d, thorough=True)
        assert any("RLIMIT_BOGUS" in x.text() for x in found if x.severity == ERROR)


def test_hooks_split_by_where_they_run():
    cfg = _cfg()
    cfg["hooks"] = {"createContainer": [{"path": "/a"}], "startContainer": [{"path": "/b"}],
                    "createRuntime": [{"path": "/c"}]}
    p = _build(cfg)
    assert p.hooks_create_container == ({"path": "/a"},)
    assert p.hooks_start_container == ({"path": "/b"},)
    assert p.runtime_hooks_at_create is True
    assert _build(_cfg()).runtime_hooks_at_create is False


def test_rootfs_propagation_values():
    # runc's eight: the spec's four and their recursive forms
    cfg = _cfg()
    for value, flag in (("private", k.MS_PRIVATE), ("rprivate", k.MS_PRIVATE | k.MS_REC),
                        ("shared", k.MS_SHARED), ("rshared", k.MS_SHARED | k.MS_REC),
                        ("slave", k.MS_SLAVE), ("rslave", k.MS_SLAVE | k.MS_REC),
                        ("unbindable", k.MS_UNBINDABLE), ("runbindable", k.MS_UNBINDABLE | k.MS_REC)):
        cfg["linux"]["rootfsPropagation"] = value
        assert _build(cfg).rootfs_propagation == flag
    cfg["linux"].pop("rootfsPropagation")
    assert _build(cfg).rootfs_propagation == 0


@pytest.mark.parametrize("text,num", [("9", 9), ("KILL", 9), ("SIGKILL", 9), ("kill", 9), ("sigterm", 15),
                                      ("TERM", 15), ("1", 1), ("SIGRTMIN", int(signal.SIGRTMIN)),
                                      ("SIGRTMIN+2", int(signal.SIGRTMIN) + 2), ("RTMAX", int(signal.SIGRTMAX))])
def test_signal_number(text, num):
    assert planner.signal_number(text) == num


@pytest.mark.parametrize("bad", ["0", "999", "SIGNOPE", "", "-9"])
def test_signal_number_rejects(bad):
    with pytest.raises(UsageError, match="unknown signal"):
        planner.signal_number(bad)


@pytest.mark.parametrize("dest,want", [("/dev", "/dev"), ("dev/", "/dev"), ("//x/../y/", "/y"), ("/a/./b", "/a/b")])
def test_destination_normalized(dest, want):
    cfg = _cfg()
    cfg["mounts"] = [{"destination": dest, "type": "tmpfs", "source": "tmpfs"}]
    assert _build(cfg).mounts[0].destination == want
