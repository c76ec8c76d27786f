"""podman's checkpoint and restore (`podman container checkpoint/restore`,
and --export/--import of the checkpoint as a tarball) driving the runtime
under test through conmon, as it drives runc (issue 20).

A container counting on its stdout (conmon's pipes, which restore hands to
the restored process by CRIU's inherit_fd) is checkpointed, restored, and
its log goes on from where it stopped. Needs CRIU working on the host
(`criu check`): runs in the tests/vm guest.
"""
from __future__ import annotations

import pytest

from tests import support

pytestmark = [pytest.mark.requires("root", "podman", "criu")]

# each line "TOKEN:N": a process started afresh would pick another token
COUNT = ["sh", "-c", "t=$RANDOM$RANDOM; i=0; while :; do i=$((i+1)); echo $t:$i; sleep 0.1; done"]
SLOW = 300


def _lines(podman, name) -> list[tuple[str, int]]:
    out = podman.podman("logs", name, check=False).stdout
    return [(t, int(n)) for t, _, n in (line.partition(":") for line in out.split()) if n.isdigit()]


def _numbers(podman, name) -> list[int]:
    return [n for _, n in _lines(podman, name)]


def _wait_count(podman, name, above: int, timeout=90.0) -> list[int]:
    from tests.conformance import probe
    return probe.wait_for(lambda: (n := _numbers(podman, name)) and n[-1] > above and n, timeout,
                          f"{name} to count past {above}")


def _status(podman, name) -> str:
    return podman.podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()


def _goes_on(podman, name, at: int) -> None:
    """One process wrote the whole log (one token), its count never went
    back, and it went on past the checkpoint at `at`."""
    lines = _lines(podman, name)
    numbers = [n for _, n in lines]
    assert len({t for t, _ in lines}) == 1, lines
    assert all(b > a for a, b in zip(numbers, numbers[1:])), numbers
    assert max(numbers) > at, numbers


def test_checkpoint_and_restore(podman):
    name = support.unique_id("e2ecr")
    podman.run("-d", "--name", name, podman.image, *COUNT)
    try:
        _wait_count(podman, name, 3)
        podman.podman("container", "checkpoint", name, timeout=SLOW)
        assert _status(podman, name) == "exited"
        at = _numbers(podman, name)[-1]
        podman.podman("container", "restore", name, timeout=SLOW)
        assert _status(podman, name) == "running"
        _wait_count(podman, name, at + 2)
        _goes_on(podman, name, at)
    finally:
        podman.podman("rm", "--force", "--time", "0", name, check=False)


def test_checkpoint_export_and_import(podman, tmp_path):
    name = support.unique_id("e2ecrx")
    archive = tmp_path / "checkpoint.tar.gz"
    podman.run("-d", "--name", name, podman.image, *COUNT)
    try:
        _wait_count(podman, name, 3)
        podman.podman("container", "checkpoint", "--export", str(archive), name, timeout=SLOW)
        at = _numbers(podman, name)[-1]
        podman.podman("rm", "--force", "--time", "0", name)
        podman.podman("container", "restore", "--import", str(archive), timeout=SLOW)
        assert _status(podman, name) == "running"
        _wait_count(podman, name, at + 2)
        _goes_on(podman, name, at)
    finally:
        podman.podman("rm", "--force", "--time", "0", name, check=False)
