"""The parent's side of starting an exec'd process in a running container.

The same machinery as the init's spawn (spawn.py): stage-1 from
init/stage1.py joins the container's namespaces by path (the plan lists them
as join_namespaces, no new ones) and forks stage-2, which here is
init/exec_child.py (passed as ctx.next_stage). Sync steps as in sync.py:

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

import os

from pyrunc.errors import ExecError
from pyrunc.process import spawn, sync


def spawn_exec(plan, ctx, *, place_in_cgroup, where) -> int:
    """Fork, join, exec; returns the host pid once execve happened."""
    from pyrunc.init import exec_child, stage1  # every child-side module, before fork

    ctx.next_stage = exec_child.run
    parent_sock, child_sock = sync.pair()
    stage1_pid = os.fork()
    if stage1_pid == 0:
        parent_sock.close()
        stage1.run(plan, child_sock, ctx)  # never returns
        os._exit(1)
    child_sock.close()
    pid = 0
    try:
        place_in_cgroup(stage1_pid)
        sync.send(parent_sock, sync.GO)  # 1
        msg = sync.recv(parent_sock)
        if msg.get("t") == sync.ERROR:
            raise sync.ChildFailed(msg.get("msg"))
        if msg.get("t") != sync.PID:
            raise sync.ChildFailed(f"sync: unexpected {msg.get('t')}")
        pid = int(msg["pid"])  # 4
        spawn._reap(stage1_pid)
        stage1_pid = 0
        try:
            msg = sync.recv(parent_sock)
        except sync.PeerGone:
            return pid  # EOF: execve closed the child's end
        if msg.get("t") == sync.ERROR:
            raise sync.ChildFailed(msg.get("msg"))
        raise sync.ChildFailed(f"sync: unexpected {msg.get('t')}")
    except sync.ChildFailed as exc:
        spawn._kill(pid, stage1_pid)
        raise ExecError(f"{where}: {exc}") from None
    except sync.PeerGone:
        spawn._kill(pid, stage1_pid)
        raise ExecError(f"{where}: the process exited unexpectedly during set-up") from None
    except BaseException:
        spawn._kill(pid, stage1_pid)
        raise
    finally:
        parent_sock.close()
