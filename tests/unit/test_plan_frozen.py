"""The hand-off to the child is declared and built once (issue 15): the Plan
is built with every input and frozen, and the child reads declared fields
only, of the Plan and of process/spawn.Context. No root needed.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from pyrunc import plan as planner
from pyrunc.process.spawn import Context
from pyrunc.records import FrozenInstanceError
from tests import support

PYRUNC = Path(__file__).resolve().parents[2] / "pyrunc"


def test_plan_is_frozen(tmp_path):
    plan = planner.build(support.base_config(), "cid", str(tmp_path))
    with pytest.raises(FrozenInstanceError):
        plan.env = ()  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        plan.preserve_fds += 1  # type: ignore[misc]


def test_build_takes_every_input_create_and_exec_have(tmp_path):
    cfg = support.base_config()
    cfg["process"]["env"] = ["PATH=/bin", "LISTEN_FDS=9"]
    extra = planner.MountOp(destination="/run/x", source="/s", fstype="bind", flags=0, data="", bind=True)
    plan = planner.build(cfg, "cid", str(tmp_path), preserve_fds=3, seccomp="filter",
                         capabilities={"bounding": [1]}, cgroup_dirs=[("cpu", "/sys/fs/cgroup/cpu/x")],
                         extra_env=("LISTEN_FDS=2", "LISTEN_PID=1"), extra_mounts=(extra,),
                         rootfs="/run/rootfs", join_namespaces=(("user", "/proc/7/ns/user"),))
    assert plan.env == ("PATH=/bin", "LISTEN_FDS=2", "LISTEN_PID=1")
    assert plan.mounts[-1] is extra and plan.preserve_fds == 3
    assert (plan.seccomp, plan.capabilities) == ("filter", {"bounding": [1]})
    assert plan.cgroup_dirs == (("cpu", "/sys/fs/cgroup/cpu/x"),)
    assert plan.rootfs == "/run/rootfs"
    assert (plan.new_namespaces, plan.join_namespaces) == ((), (("user", "/proc/7/ns/user"),))


def _attributes_read(names, var):
    """Every `var.<attr>` in the modules `names` (pyrunc-relative paths)."""
    found = set()
    for name in names:
        for path in sorted(PYRUNC.glob(name)):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == var:
                    found.add((node.attr, f"{path.relative_to(PYRUNC)}:{node.lineno}"))
    return found


def test_the_child_reads_declared_fields_only():
    plan_api = set(planner.Plan.__record_fields__) | {"has"}
    undeclared = [(a, where) for a, where in _attributes_read(["init/*.py", "process/*.py"], "plan")
                  if a not in plan_api]
    assert undeclared == []
    ctx_fields = set(Context.__record_fields__)
    undeclared = [(a, where) for a, where in _attributes_read(["init/*.py", "process/*.py", "lifecycle/*.py"], "ctx")
                  if a not in ctx_fields]
    assert undeclared == []


def test_no_getattr_with_default_on_the_hand_off():
    pattern = re.compile(r"getattr\((plan|ctx|self\.plan|user), ")
    hits = [f"{p.relative_to(PYRUNC)}: {line.strip()}" for p in sorted(PYRUNC.rglob("*.py"))
            for line in p.read_text().splitlines() if pattern.search(line)]
    assert hits == []


def test_context_fields_are_set_at_construction():
    ctx = Context(fifo_path="/f", console_fd=5, seccomp_agent_fd=7, seccomp_state={"a": 1}, next_stage="exec_child")
    assert (ctx.fifo_path, ctx.console_fd, ctx.seccomp_agent_fd, ctx.next_stage) == ("/f", 5, 7, "exec_child")
    fresh = Context()
    assert (fresh.fifo_fd, fresh.bind_trees, fresh.host_pid, fresh.hook_state) == (-1, None, None, {})
    assert not hasattr(fresh, "notify_fd")
