"""Module-scoped client set-up for the e2e suite: the Debian packages are
installed by scripts/deps/e2e.sh (the test set-up command runs it), each
client runs confined to a private temp dir, and tear-down fails the module
if anything was left behind (containers, tasks, mounts, processes, cgroups)."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests import support
from tests.e2e.clients import Containerd, OrphanReaper, Podman, runtime_lacks


def _private_dir(prefix: str) -> Path:
    # short and under /tmp: containerd's socket path must stay below 108 bytes
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


@pytest.fixture(scope="module")
def runtime_ready():
    """Fail (never skip) when the runtime under test lacks what the clients
    call: a pyrunc whose `--version` or `VERB --help` broke is a regression."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    why = runtime_lacks(support.runtime_binary())
    if why:
        pytest.fail(why)


@pytest.fixture(scope="module")
def need_verbs(runtime_ready):
    """need_verbs("exec", "pause"): fail the test when the runtime lacks them."""
    known: dict[str, str | None] = {}

    def need(*verbs):
        for verb in verbs:
            if verb not in known:
                known[verb] = runtime_lacks(support.runtime_binary(), (verb,))
            if known[verb]:
                pytest.fail(known[verb])
    return need


@pytest.fixture(scope="module")
def _reaper(runtime_ready):
    with OrphanReaper():
        yield


@pytest.fixture(scope="module")
def podman(_reaper):
    client = Podman(_private_dir("pyrunc-podman-"), support.runtime_binary())
    try:
        client.setup()
        yield client
    finally:
        left = client.teardown()
    assert not left, "podman left behind:\n" + "\n".join(left)


@pytest.fixture(scope="module")
def containerd(_reaper):
    client = Containerd(_private_dir("pyrunc-ctrd-"), support.runtime_binary())
    try:
        client.setup()
        yield client
    finally:
        left = client.teardown()
    assert not left, "containerd left behind:\n" + "\n".join(left)
