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
    paths = layout.v1_paths("/pyrunc-test/x", fs.root, OWN)
    assert paths["memory"] == f"{fs.root}/memory/pyrunc-test/x"
    assert paths["name=systemd"] == f"{fs.root}/systemd/pyrunc-test/x"
    assert paths[""] == f"{fs.root}/unified/pyrunc-test/x"   # runc joins the hybrid cgroup2 too
    assert list(paths)[0] == "cpuset"                         # cpuset first, as runc orders


def test_v1_relative_paths_are_below_own_cgroup(tmp_path):
    fs = FakeCgroupFS(tmp_path, "hybrid")
    paths = layout.v1_paths("rel/x", fs.root, OWN)
    assert paths["memory"] == f"{fs.root}/memory/process_api/abc/rel/x"
    assert paths["cpu"] == f"{fs.root}/cpu/c/rel/x"
    assert paths["devices"] == f"{fs.root}/devices/rel/x"      # own cgroup "/" when absent
    assert paths[""] == f"{fs.root}/unified/user.slice/s/me/rel/x"


def test_v2_relative_path_uses_parent_of_own_cgroup(tmp_path):
    fs = FakeCgroupFS(tmp_path, "v2")
    assert layout.v2_path("rel/x", fs.root, OWN) == f"{fs.root}/user.slice/s/rel/x"
    assert layout.v2_path("/abs/x", fs.root, OWN) == f"{fs.root}/abs/x"


def test_comounted_hierarchy_serves_both_controllers_and_symlinks_are_skipped(tmp_path):
    root = tmp_path / "cg"
    (root / "cpu,cpuacct").mkdir(parents=True)
    (root / "devices").mkdir()
    os.symlink("cpu,cpuacct", root / "cpu")
    mounts = layout.v1_mounts(str(root))
    assert mounts["cpu"] == mounts["cpuacct"] == str(root / "cpu,cpuacct")


def test_new_manager_is_pure_and_records_everything(tmp_path):
    fs = FakeCgroupFS(tmp_path, "hybrid")
    mgr = new_manager("c1", None, {"memory": {"limit": 1}}, root=fs.root)
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


def test_systemd_form_without_systemd_flag_is_an_error(tmp_path):
    fs = FakeCgroupFS(tmp_path, "v2")
    with pytest.raises(CgroupError, match="systemd form"):
        new_manager("c1", "system.slice:docker:abc", None, root=fs.root)
