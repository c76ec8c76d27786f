"""cgroupsPath resolution and hierarchy discovery (pyrunc.cgroups.layout)."""
from __future__ import annotations

import os

import pytest

from pyrunc.cgroups import layout, new_manager
from pyrunc.errors import CgroupError
from tests.unit.test_cgroups_fakefs import FakeCgroupFS

OWN = "9:name=systemd:/user.slice/s\n4:memory:/process_api/abc\n1:cpu,cpuacct:/c\n0::/user.slice/s/me\n"


def test_empty_path_defaults_under_pyrunc_parent():
    assert layout.inner_path("web", None) == "/pyrunc/web"
    assert layout.inner_path("web", "") == "/pyrunc/web"


@pytest.mark.parametrize("given,want", [
    ("/a/b", "/a/b"), ("/a/../b", "/b"), ("/../../x", "/x"), ("//a//b/", "/a/b"),
    ("a/b", "a/b"), ("../../x", "x"), ("a/./b/../c", "a/c"),
])
def test_paths_are_cleaned_like_runc(given, want):
    assert layout.inner_path("id", given) == want


@pytest.mark.parametrize("given", ["/", "/..", ".."])
def test_root_cgroup_is_refused(given):
    with pytest.raises(CgroupError, match="root cgroup"):
        layout.inner_path("id", given)


def test_parse_proc_cgroup():
    got = layout.parse_proc_cgroup(OWN)
    assert got == {"name=systemd": "/user.slice/s", "memory": "/process_api/abc", "cpu": "/c", "cpuacct": "/c",
                   "": "/user.slice/s/me"}


def test_v1_absolute_paths_per_hierarchy_including_hybrid_unified(tmp_path):
    fs = FakeCgroupFS(tmp_path, "hybrid")
    paths = layout.v1_paths("/pyrunc-test/x", fs.root, OWN, fs.mountinfo)
    assert paths["memory"] == f"{fs.root}/memory/pyrunc-test/x"
    assert paths["name=systemd"] == f"{fs.root}/systemd/pyrunc-test/x"
    assert paths[""] == f"{fs.root}/unified/pyrunc-test/x"   # runc joins the hybrid cgroup2 too
    assert list(paths)[0] == "cpuset"                         # cpuset first, as runc orders


def test_v1_relative_paths_are_below_own_cgroup(tmp_path):
    fs = FakeCgroupFS(tmp_path, "hybrid")
    paths = layout.v1_paths("rel/x", fs.root, OWN, fs.mountinfo)
    assert paths["memory"] == f"{fs.root}/memory/process_api/abc/rel/x"
    assert paths["cpu"] == f"{fs.root}/cpu/c/rel/x"
    assert paths["devices"] == f"{fs.root}/devices/rel/x"      # own cgroup "/" when absent
    assert paths[""] == f"{fs.root}/unified/user.slice/s/me/rel/x"


def test_v2_relative_path_uses_parent_of_own_cgroup(tmp_path):
    fs = FakeCgroupFS(tmp_path, "v2")
    assert layout.v2_path("rel/x", fs.root, OWN) == f"{fs.root}/user.slice/s/rel/x"
    assert layout.v2_path("/abs/x", fs.root, OWN) == f"{fs.root}/abs/x"


def test_comounted_and_named_hierarchies_come_from_mountinfo(tmp_path):
    root = tmp_path / "cg"
    for d in ("cpu,cpuacct", "devices", "systemd", "foo"):
        (root / d).mkdir(parents=True)
    os.symlink("cpu,cpuacct", root / "cpu")
    mountinfo = (f"30 1 0:5 / {tmp_path} rw - tmpfs tmpfs rw\n"
                 f"32 30 0:29 / {root}/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
                 f"33 30 0:30 / {root}/devices rw - cgroup cgroup rw,devices\n"
                 f"34 30 0:31 / {root}/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
                 f"35 30 0:32 / {root}/foo rw - cgroup cgroup rw,name=foo\n"
                 f"36 1 0:29 / /elsewhere/cpu rw - cgroup cgroup rw,cpu,cpuacct\n")
    mounts = layout.v1_mounts(str(root), mountinfo)
    assert mounts["cpu"] == mounts["cpuacct"] == f"{root}/cpu,cpuacct"
    assert mounts["name=systemd"] == f"{root}/systemd"
    assert mounts["devices"] == f"{root}/devices"
    assert "" not in mounts                                   # no cgroup2 under root
    paths = layout.v1_paths("/p/x", str(root), "", mountinfo)
    assert paths["cpu"] == paths["cpuacct"] == f"{root}/cpu,cpuacct/p/x"
    assert "name=foo" not in paths                            # runc joins name=systemd only


def test_a_plain_directory_under_the_root_is_no_hierarchy(tmp_path):
    fs = FakeCgroupFS(tmp_path, "hybrid")
    os.mkdir(f"{fs.root}/hugetlb")                            # someone's mkdir, not a mount
    os.mkdir(f"{fs.root}/net_cls,net_prio")
    mounts = layout.v1_mounts(fs.root, fs.mountinfo)
    assert "hugetlb" not in mounts and "net_cls" not in mounts
    m = new_manager("c1", "/t/c1", None, root=fs.root, mountinfo=fs.mountinfo)
    assert "hugetlb" not in m.paths and "net_prio" not in m.paths
    assert m.paths["memory"] == f"{fs.root}/memory/t/c1"


def test_relative_path_below_a_subtree_mount_is_taken_from_its_root(tmp_path):
    """A nested container sees its hierarchy mounted from /docker/abc while
    /proc/self/cgroup still names /docker/abc/...: runc joins them by the
    mount's root."""
    root = tmp_path / "cg"
    mountinfo = (f"32 30 0:29 /docker/abc {root}/memory rw - cgroup cgroup rw,memory\n"
                 f"33 30 0:30 /docker/abc {root}/devices rw - cgroup cgroup rw,devices\n")
    own = "5:memory:/docker/abc/shim\n4:devices:/docker/abc\n"
    paths = layout.v1_paths("ctr", str(root), own, mountinfo)
    assert paths == {"memory": f"{root}/memory/shim/ctr", "devices": f"{root}/devices/ctr"}


def test_mountinfo_escapes_are_undone():
    info = "40 31 0:37 / /sys/fs/cgroup/my\\040dir rw - cgroup cgroup rw,pids\n"
    assert layout.parse_cgroup_mounts(info) == [("/sys/fs/cgroup/my dir", "/", "cgroup", ["pids"])]


def test_new_manager_is_pure_and_records_everything(tmp_path):
    fs = FakeCgroupFS(tmp_path, "hybrid")
    mgr = new_manager("c1", None, {"memory": {"limit": 1}}, root=fs.root, mountinfo=fs.mountinfo)
    rec = mgr.record()
    assert not os.path.exists(f"{fs.root}/memory/pyrunc")     # nothing made yet
    assert rec["driver"] == "fs" and rec["path"] == "/pyrunc/c1"
    assert rec["paths"]["memory"] == f"{fs.root}/memory/pyrunc/c1"
    assert f"{fs.root}/memory/pyrunc" in rec["prune"]          # our default parent may go when empty


def test_user_parent_is_not_prunable_up_front(tmp_path):
    fs = FakeCgroupFS(tmp_path, "v2")
    rec = new_manager("c1", "/kubepods/pod1/c1", None, root=fs.root).record()
    assert rec["driver"] == "fs2" and rec["paths"] == {"": f"{fs.root}/kubepods/pod1/c1"}
    assert rec["prune"] == []


@pytest.mark.parametrize("mode", ["hybrid", "v2"])
def test_systemd_form_without_systemd_flag_is_a_relative_path(tmp_path, mode):
    # containerd's CRI writes this form whatever its SystemdCgroup setting;
    # runc's cgroupfs driver takes it as a relative path, colons and all
    fs = FakeCgroupFS(tmp_path, mode)
    rec = new_manager("c1", "test.slice:cri-containerd:abc", None, root=fs.root,
                      proc_self_cgroup=OWN, mountinfo=fs.mountinfo).record()
    if mode == "v2":
        assert rec["paths"] == {"": f"{fs.root}/user.slice/s/test.slice:cri-containerd:abc"}
    else:
        assert rec["paths"]["memory"] == f"{fs.root}/memory/process_api/abc/test.slice:cri-containerd:abc"
        assert rec["paths"]["devices"] == f"{fs.root}/devices/test.slice:cri-containerd:abc"
    assert rec["prune"] == []   # the runtime's own cgroup is never ours to remove
