"""Module-scoped CRI set-up: one private containerd (CRI on, handlers pyrunc
and runc) for the module, one shared pod per handler for the tests that only
need containers, and the clean-up check: the module fails if containerd, the
runtimes or the registry left anything behind."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# the CRI client's Python packages come with the [test] extras from PyPI; in
# the guest (Debian's python, without them) the rest of the suite must still
# collect: test_cri_pods.py skips itself there, saying why (a skip raised
# here would take the whole `tests` package with it on pytest 7)
try:
    from tests.e2e.cri.harness import CriContainerd, handlers
except ImportError:
    if os.environ.get("PYRUNC_IN_GUEST") != "1":
        raise
    CriContainerd = None

    def handlers():
        return ["pyrunc"]


@pytest.fixture(scope="module")
def cri(_reaper):
    assert CriContainerd is not None, "test_cri_pods.py skips itself without the CRI packages"
    # short and under /tmp: containerd's socket path must stay below 108 bytes
    client = CriContainerd(Path(tempfile.mkdtemp(prefix="pyrunc-cri-", dir="/tmp")))
    try:
        client.setup()
        client.pull()
        yield client
    finally:
        left = client.teardown()
    assert not left, "the CRI run left behind:\n" + "\n".join(left)


@pytest.fixture(scope="module", params=handlers())
def shared_pod(cri, request):
    """A running pod (CNI network) under one handler, shared by the module's tests."""
    p = cri.run_pod(request.param)
    yield p
    p.stop()
    p.remove()


@pytest.fixture
def pod(shared_pod):
    """The handler's shared pod; the containers the test made in it are removed after it."""
    yield shared_pod
    while shared_pod.made:
        shared_pod.remove_container(shared_pod.made[-1])
