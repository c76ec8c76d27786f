"""pyrunc.records behaves as dataclasses does for what pyrunc uses: init with
defaults and factories, repr, eq, hash, frozen; and it imports nothing."""
from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from pyrunc import records


def _pair(frozen):
    def make(mod):
        @mod.dataclass(frozen=frozen)
        class Op:
            path: str
            major: int
            flags: tuple = ()
            umask: int | None = None
            extra: tuple = mod.field(default_factory=tuple)
        return Op
    return make(dataclasses), make(records)


@pytest.mark.parametrize("frozen", [False, True])
@pytest.mark.parametrize("args,kwargs", [
    (("/dev/null", 1), {}),
    (("/dev/null",), {"major": 3, "umask": 0o22}),
    ((), {"path": "p", "major": 0, "flags": (1, 2), "extra": (1,)}),
])
def test_same_as_dataclasses(frozen, args, kwargs):
    want_cls, got_cls = _pair(frozen)
    want, got = want_cls(*args, **kwargs), got_cls(*args, **kwargs)
    assert repr(got) == repr(want)
    for name in ("path", "major", "flags", "umask", "extra"):
        assert getattr(got, name) == getattr(want, name)
    assert got == got_cls(*args, **kwargs) and got != got_cls("other", 9)
    assert got != want  # another class, as with dataclasses
    assert got_cls.__match_args__ == want_cls.__match_args__
    assert got_cls.flags == want_cls.flags == ()
    assert not hasattr(got_cls, "extra") and not hasattr(want_cls, "extra")
    if frozen:
        assert hash(got) == hash(got_cls(*args, **kwargs)) == hash(tuple(vars(want).values()))
        with pytest.raises(AttributeError):
            got.path = "x"
        with pytest.raises(records.FrozenInstanceError):
            del got.major
    else:
        assert got_cls.__hash__ is None and want_cls.__hash__ is None
        got.path = "x"
        assert got.path == "x"


def test_factory_gives_fresh_values_and_init_errors():
    _, cls = _pair(False)
    a, b = cls("a", 1), cls("b", 2)
    assert a.extra == () and b.extra == ()
    with pytest.raises(TypeError):
        cls("a")
    with pytest.raises(TypeError):
        cls("a", 1, nope=1)
    with pytest.raises(TypeError):
        cls("a", 1, (), None, [], 6)
    with pytest.raises(TypeError):
        cls("a", 1, path="b")


def test_non_default_after_default_is_refused():
    with pytest.raises(TypeError):
        @records.dataclass
        class Bad:
            a: int = 0
            b: int


def test_imports_nothing():
    code = "import sys; before = set(sys.modules); import pyrunc.records; print(sorted(set(sys.modules) - before))"
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['pyrunc', 'pyrunc.records']"


def test_factory_is_called_per_instance():
    @records.dataclass
    class Box:
        items: list = records.field(default_factory=list)
    a, b = Box(), Box()
    assert a.items == [] and a.items is not b.items
