"""Module-scoped CRI set-up: one private containerd (CRI on, handlers pyrunc
and runc) for the module, one shared pod per handler for the tests that only
need containers, and the clean-up check: the module fails if containerd, the
runtimes or the registry left anything behind."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

# the CRI client's Python packages: the [test] extras on the host, Debian's
# grpcio/protobuf and the stubs' wheel in the guest (tests/vm/build-guest)
from tests.e2e.cri.harness import CriContainerd, handlers


@pytest.fixture(scope="module")
def cri(_reaper):
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
