"""linux.mountLabel as pyrunc formats and plans it (runc's go-selinux
FormatMountLabel); what the kernel does with it is tests/conformance/test_security_selinux.py's.
"""
from __future__ import annotations

from pyrunc import plan
from pyrunc.init.rootfs import with_mount_label
from tests import support

LABEL = "system_u:object_r:container_file_t:s0:c1,c2"


def test_context_option_is_quoted_and_appended():
    # quoted: the level's comma would otherwise end the option
    assert with_mount_label(None, LABEL) == f'context="{LABEL}"'
    assert with_mount_label("mode=755,size=65536k", LABEL) == f'mode=755,size=65536k,context="{LABEL}"'


def test_no_label_leaves_the_data_alone():
    assert with_mount_label("mode=755", None) == "mode=755"
    assert with_mount_label(None, "") is None


def test_the_plan_carries_the_label_only_where_selinux_runs():
    cfg = support.base_config()
    cfg["linux"]["mountLabel"] = LABEL
    got = plan.build(cfg, "c", "/tmp").mount_label
    assert got == (LABEL if support.selinux_enabled() else None)
    del cfg["linux"]["mountLabel"]
    assert plan.build(cfg, "c", "/tmp").mount_label is None
