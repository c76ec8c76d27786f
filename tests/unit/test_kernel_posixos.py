"""pyrunc/kernel/posixos.py answers as os and os.path do, for the strings
pyrunc passes: the hot verbs use it instead of importing os (issue 19)."""
from __future__ import annotations

import os
import posixpath

from hypothesis import given
from hypothesis import strategies as hs

from pyrunc.kernel import posixos

PATHS = hs.lists(hs.sampled_from(["", "/", "//", "///", ".", "..", "a", "b.c", "d/"]), max_size=6).map("".join)


@given(PATHS)
def test_abspath_dirname_isabs(path):
    assert posixos.abspath(path) == posixpath.abspath(path)
    assert posixos.dirname(path) == posixpath.dirname(path)
    assert posixos.isabs(path) == posixpath.isabs(path)


@given(PATHS, hs.lists(PATHS, max_size=3))
def test_join(a, rest):
    assert posixos.join(a, *rest) == posixpath.join(a, *rest)


def test_exists_isdir(tmp_path):
    (tmp_path / "f").write_text("")
    (tmp_path / "link").symlink_to(tmp_path)
    for p in (tmp_path, tmp_path / "f", tmp_path / "link", tmp_path / "nothing", "", "a\0b"):
        assert posixos.exists(str(p)) == os.path.exists(str(p)), p
        assert posixos.isdir(str(p)) == os.path.isdir(str(p)), p


def test_walk_dirs_is_os_walk_top_down(tmp_path):
    for d in ("a/b/c", "a/d", "e", "f/g"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "a" / "file").write_text("")
    (tmp_path / "e" / "up").symlink_to(tmp_path)  # not followed
    assert list(posixos.walk_dirs(str(tmp_path))) == [d for d, _, _ in os.walk(str(tmp_path))]
    assert list(posixos.walk_dirs(str(tmp_path / "missing"))) == []


def test_getenv_follows_os_environ_once_loaded(monkeypatch):
    monkeypatch.setenv("PYRUNC_POSIXOS_TEST", "x\udcff")
    assert posixos.getenv("PYRUNC_POSIXOS_TEST") == "x\udcff"
    monkeypatch.delenv("PYRUNC_POSIXOS_TEST")
    assert posixos.getenv("PYRUNC_POSIXOS_TEST", "d") == "d"
