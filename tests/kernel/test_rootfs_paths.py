"""pyrunc.init.paths: mkdir -p and friends inside a hostile rootfs.

Real openat2(RESOLVE_IN_ROOT) on a tmp dir standing in for the rootfs: every
way to a directory (there already, one component missing, several missing,
through symlinks absolute, relative, dangling and `..`-laden) must end
inside the root, and what cannot be a directory is named in one line."""
from __future__ import annotations

import os

import pytest

from pyrunc.errors import InitError
from pyrunc.init import paths


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "rootfs"
    r.mkdir()
    fd = os.open(r, os.O_RDONLY | os.O_DIRECTORY)
    yield r, fd
    os.close(fd)


def _where(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


@pytest.mark.parametrize("path", ["/a", "/a/b", "a/b/c/", "/a/./b//c"])
def test_creates_what_is_missing(root, path):
    r, fd = root
    got = _where(paths.mkdir_all(fd, path))
    want = os.path.normpath(str(r) + "/" + path)
    assert got == want and os.path.isdir(want)


def test_an_existing_directory_is_opened_as_is(root):
    r, fd = root
    (r / "x" / "y").mkdir(parents=True)
    assert _where(paths.mkdir_all(fd, "/x/y")) == str(r / "x" / "y")


@pytest.mark.parametrize("link", ["/", "/etc", "../../..", "/../../outside"])
def test_symlinks_resolve_inside_the_root(root, link):
    r, fd = root
    os.symlink(link, r / "l")
    got = _where(paths.mkdir_all(fd, "/l/new"))
    assert got.startswith(str(r) + "/"), got


def test_a_dangling_symlink_leaf_is_created_inside_the_root(root):
    r, fd = root
    os.symlink("/elsewhere/dir", r / "dangling")
    got = _where(paths.mkdir_all(fd, "/dangling"))
    assert got == str(r / "elsewhere" / "dir")


def test_a_file_in_the_way_is_named(root):
    r, fd = root
    (r / "f").write_text("")
    with pytest.raises(InitError, match=r"^mkdir /f: not a directory$"):
        paths.mkdir_all(fd, "/f/sub")
