"""podman's --tmpfs asks the runtime for `tmpcopyup` (issue 14, item 4): the
tmpfs must start with what the image has at that path. Checked from inside
the container, with the runtime under test (PYRUNC_TEST_RUNTIME=runc runs
the same test against runc)."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.requires("root", "podman")]


def test_tmpfs_starts_with_the_image_contents(podman):
    out = podman.run("--rm", "--tmpfs", "/etc", podman.image, "sh", "-c",
                     "grep -c ^root: /etc/passwd; awk '$2 == \"/etc\" {print $3}' /proc/self/mounts").stdout
    assert out.split() == ["1", "tmpfs"], out


def test_notmpcopyup_leaves_the_image_out(podman):
    # (podman still binds its own /etc/hosts & co. on top)
    out = podman.run("--rm", "--tmpfs", "/etc:notmpcopyup", podman.image, "sh", "-c",
                     "test -e /etc/passwd && echo copied || echo empty").stdout
    assert out.split() == ["empty"], out
