"""The test-only guard switch (pyrunc/testhooks.py) cannot be turned on by
accident: only a root-owned file in a non-default state root, naming known
guards, turns anything off, and it says so on stderr."""
from __future__ import annotations

import os

import pytest

from pyrunc import testhooks as testguards


@pytest.fixture(autouse=True)
def _reset():
    yield
    testguards.DISABLED = frozenset()


def _write(root, text):
    root.mkdir(exist_ok=True)
    (root / testguards.GUARDS_FILE).write_text(text)


def test_nothing_is_off_without_the_file(tmp_path):
    testguards.load(str(tmp_path))
    assert not testguards.off("dumpable")


@pytest.mark.skipif(os.geteuid() != 0, reason="the file must be root's")
def test_known_names_in_the_file_are_off_and_announced(tmp_path, capfd):
    _write(tmp_path, "dumpable\nno-such-guard\n")
    testguards.load(str(tmp_path))
    assert testguards.off("dumpable") and not testguards.off("no-such-guard")
    assert "TEST ONLY" in capfd.readouterr().err


def test_the_default_root_is_never_read(monkeypatch, tmp_path):
    _write(tmp_path, "dumpable\n")
    monkeypatch.setattr(testguards, "DEFAULT_ROOT", str(tmp_path))
    testguards.load(str(tmp_path))
    assert not testguards.off("dumpable")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_a_file_not_owned_by_root_is_ignored(tmp_path):
    _write(tmp_path, "dumpable\n")
    os.chown(tmp_path / testguards.GUARDS_FILE, 65534, 65534)
    testguards.load(str(tmp_path))
    assert not testguards.off("dumpable")


def test_every_guard_is_used_in_pyrunc():
    import pathlib
    src = "".join(p.read_text() for p in pathlib.Path(testguards.__file__).parent.rglob("*.py")
                  if p != pathlib.Path(testguards.__file__))
    unused = [g for g in testguards.GUARDS if f'off("{g}")' not in src]
    assert not unused, unused
