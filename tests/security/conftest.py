"""Fixtures of the CVE replays.

Every replay must be able to fail. Each one says in its docstring how that is
shown: against runc 1.1.5 where that runc is vulnerable (the test is then
`xfail(strict=True)` for runc, see `fails_with_runc`), or with pyrunc's one
guarding line turned off: test_guards_are_load_bearing.py runs the replay
again with PYRUNC_TEST_DISABLED_GUARDS=<name,...> and expects it to fail.
That variable is read here only, by the tests: it makes the `runtime`
fixture write pyrunc's test-only guards file into the test's private state
root (pyrunc/testhooks.py); pyrunc itself never reads the environment for it.
"""
from __future__ import annotations

import os

import pytest

from tests import support

GUARDS_ENV = "PYRUNC_TEST_DISABLED_GUARDS"


def disabled_guards() -> list[str]:
    return [g for g in os.environ.get(GUARDS_ENV, "").split(",") if g]


def turn_guards_off(root) -> None:
    """Write the guards file into a runtime's state root (only when asked)."""
    names = disabled_guards()
    if not names or support.is_runc():
        return
    from pyrunc import testhooks as testguards
    os.makedirs(root, mode=0o711, exist_ok=True)
    with open(os.path.join(root, testguards.GUARDS_FILE), "w") as f:
        f.write("\n".join(names) + "\n")


def fails_with_runc(reason: str):
    """The replay fails against runc 1.1.5 (e.g. it is vulnerable): strict
    xfail, so a runc that passes it is noticed."""
    return pytest.mark.xfail(support.is_runc(), strict=True, reason=f"runc 1.1.5: {reason}")


@pytest.fixture
def runtime(runtime):
    turn_guards_off(runtime.root)
    return runtime
