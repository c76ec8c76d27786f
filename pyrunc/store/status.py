"""Container status: derived from facts, never trusted from disk alone.

A container is `stopped` when its init pid is gone or reused (start time
differs), `created` while its exec fifo exists, `paused` while its cgroup is
frozen, else `running`; `creating` until create has written the pid. ALLOWED
is the one table of which operation each status permits (runc's semantics).
"""

from pyrunc.errors import InvalidState
from pyrunc.kernel import procfs

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"

ALLOWED = {
    "start": {CREATED},
    "kill": {CREATED, RUNNING, PAUSED},
    "delete": {CREATED, STOPPED},
    "pause": {RUNNING},
    "resume": {PAUSED},
    "exec": {CREATED, RUNNING},
    "update": {CREATED, RUNNING, PAUSED},
    "ps": {CREATED, RUNNING, PAUSED},
    "events": {CREATED, RUNNING, PAUSED},
}

# runc's wording, which clients match on
REFUSALS = {
    "start": {RUNNING: "cannot start an already running container",
              STOPPED: "cannot start a container that has stopped",
              PAUSED: "cannot start an already running container"},
    "kill": {STOPPED: "container not running"},
    "delete": {RUNNING: "cannot delete container that is not stopped: running",
               PAUSED: "cannot delete container that is not stopped: paused"},
    "pause": {STOPPED: "container not running", CREATED: "container not running",
              PAUSED: "container already paused"},
    "resume": {RUNNING: "container not paused", STOPPED: "container not running",
               CREATED: "container not paused"},
    "exec": {STOPPED: "cannot exec in a stopped container", PAUSED: "cannot exec in a paused container"},
}


def derive(record: dict | None, fifo_present: bool, frozen=lambda: False,
           creator_alive=lambda: False) -> str:
    """`creator_alive()` says whether a live pyrunc still holds the container's
    lock: a half-made container is `creating` while it does, `stopped` after."""
    if record is None or record.get("corrupt"):
        return CREATING if record is None and creator_alive() else STOPPED
    pid = record.get("pid") or 0
    if record.get("status") == CREATING:
        alive = pid and procfs.is_alive(pid, record.get("pid_start"))
        return CREATING if creator_alive() and (alive or not pid) else STOPPED
    if not pid or not procfs.is_alive(pid, record.get("pid_start")):
        return STOPPED
    if fifo_present:
        return CREATED
    if frozen():
        return PAUSED
    return RUNNING


def require(operation: str, status: str) -> None:
    if status in ALLOWED[operation]:
        return
    msg = REFUSALS.get(operation, {}).get(status) or f"cannot {operation} a container that is {status}"
    raise InvalidState(msg)
