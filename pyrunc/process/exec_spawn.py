"""The parent's side of starting an exec'd process in a running container.

The same machinery as the init's spawn (spawn.py): stage-1 from
init/stage1.py joins the container's namespaces by path (the plan lists them
as join_namespaces, no new ones) and forks stage-2, which here is
init/exec_child.py (ctx.next_stage says so). Sync steps as in sync.py:

  1  parent -> stage1  go      stage-1 is in the container's cgroup
  4  stage1 -> parent  pid     the exec'd process's host pid; stage-1 exits
  -  EOF                       the process called execve (its sync end is
                               close-on-exec): success
  *  child  -> parent  error   it could not start; it exits

There is no `ready` and no exec fifo: an exec'd process runs as soon as it
is set up. A failure kills what was forked and raises one ExecError
(exit 255, as runc).
"""
from __future__ import annotations

from pyrunc.errors import ChildFailed, PeerGone, ExecError
from pyrunc.process import spawn, sync


def spawn_exec(plan, ctx, *, place_in_cgroup, where, self_placement=None) -> int:
    """Fork, join, exec; returns the host pid once execve happened.
    self_placement: as spawn.spawn's (the container's cgroup exists)."""
    sock, kids = spawn.fork_stage1(plan, ctx, self_placement)
    try:
        with spawn.failing_as(ExecError, where, kids, "the process exited unexpectedly during set-up"):
            pid = spawn.until_pid(sock, kids, plan, place_in_cgroup)
            try:
                msg = sync.recv(sock)
            except PeerGone:
                return pid  # EOF: execve closed the child's end
            if msg.get("t") == sync.ERROR:
                raise ChildFailed(msg.get("msg"))
            raise ChildFailed(f"sync: unexpected {msg.get('t')}")
    finally:
        sock.close()
