"""linux.memoryPolicy -> set_mempolicy(2) arguments (pyrunc.kernel.mempolicy): the
nodemask layout matters beyond node 0, which a one-node test host never
reaches from the conformance tests."""
from __future__ import annotations

import json

import pytest

from pyrunc import config
from pyrunc.kernel import mempolicy
from pyrunc.errors import ConfigError, PolicyError


def test_mask_bits_and_maxnode():
    mode, mask, maxnode = mempolicy.compile_policy({"mode": "MPOL_BIND", "nodes": "0-2, 70,"})
    assert mode == mempolicy.MODES["MPOL_BIND"]
    assert len(mask) == 16 and maxnode == 129       # two unsigned longs; the kernel reads maxnode-1 bits
    assert int.from_bytes(mask, "little") == 0b111 | 1 << 70


def test_flags_are_or_ed_into_the_mode():
    mode, _mask, _ = mempolicy.compile_policy({"mode": "MPOL_INTERLEAVE", "nodes": "1",
                                               "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_NUMA_BALANCING"]})
    assert mode == 3 | 1 << 15 | 1 << 13


def test_preferred_takes_zero_or_more_nodes():
    assert mempolicy.compile_policy({"mode": "MPOL_PREFERRED"})[1] == bytes(8)


@pytest.mark.parametrize("nodes", ["bad", "1-", "3-1", ",", "70000"])
def test_bad_node_lists(nodes):
    with pytest.raises(PolicyError) as err:
        mempolicy.compile_policy({"mode": "MPOL_BIND", "nodes": nodes})
    assert err.value.field == "nodes"


def test_plan_words_the_refusal(tmp_path):
    # the config pipeline's rule (config/checks/linux.py): plan.build assumes a validated config
    cfg = {"ociVersion": "1.3.0", "root": {"path": "/"}, "process": {"args": ["true"], "cwd": "/"},
           "linux": {"memoryPolicy": {"mode": "MPOL_DEFAULT", "nodes": "0"}}}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match=r"^config.json: linux.memoryPolicy.nodes: MPOL_DEFAULT takes no nodes$"):
        config.load(str(tmp_path))
