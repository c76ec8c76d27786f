"""`pause`, `resume`, `ps`, `update`, `stats` and `events`: the verbs that watch
and change a container through its cgroup.

Place in the flow: the CLI (cli/verbs.py and cli/cgroup_cmds.py: runc's flags in,
prints runc's output shapes) and the Python API (pyrunc.api) call these.
Each loads the container's record (pyrunc.store), checks the status table
for the operation, and acts on the cgroup manager rebuilt from state.json
(pyrunc.cgroups.load_manager). No output here: values in, values out.
"""

import time

from pyrunc.errors import InvalidState, PyruncError, UsageError
from pyrunc.lifecycle import load, status_of
from pyrunc.store import status as st

# runc's answers for a stopped (not yet deleted) container; None: allowed,
# e.g. `ps` then lists nothing
_STOPPED = {"events": "container with id {cid} is not running", "update": "container not running",
            "ps": None}


def manager(opts, cid, operation, lock=True):
    """(cgroup manager, status) of the container, after checking that
    `operation` is allowed in its status."""
    from pyrunc import cgroups
    if not cid:
        raise UsageError("container id cannot be empty")
    cdir, record = load(opts, cid, lock=lock)
    with cdir:
        status = status_of(cdir, record)
        if status == st.STOPPED and operation in _STOPPED:
            if _STOPPED[operation] is not None:
                raise InvalidState(_STOPPED[operation].format(cid=cid))
        else:
            st.require(operation, status)
        if not record.get("cgroup"):
            raise PyruncError(f"container {cid}: has no cgroup")
        return cgroups.load_manager(record["cgroup"], warn=opts.log.warn), status


def pause(opts, cid):
    """Freeze every process of a running container (the cgroup freezer)."""
    manager(opts, cid, "pause")[0].freeze()


def resume(opts, cid):
    """Thaw a paused container."""
    manager(opts, cid, "resume")[0].thaw()


def pids(opts, cid):
    """Host pids of the container's processes ([] once stopped). No lock:
    `ps` must not wait for a create or block a delete."""
    mgr, _ = manager(opts, cid, "ps", lock=False)
    return mgr.pids() if mgr.exists() else []


def update(opts, cid, resources):
    """Apply a partial linux.resources to a created, running or paused container."""
    if not isinstance(resources, dict):
        raise UsageError("resources: must be a JSON object of linux.resources")
    mem = resources.get("memory") or {}
    if mem.get("kernel") or mem.get("kernelTCP"):
        opts.log.warn("Kernel memory settings are ignored and will be removed")
    mgr, _ = manager(opts, cid, "update")
    mgr.set(resources)


def stats(opts, cid):
    """One runc-shaped stats record (`events --stats`)."""
    mgr, _ = manager(opts, cid, "events", lock=False)
    return mgr.stats()


def events(opts, cid, interval):
    """("oom", None) as each OOM kill happens and ("stats", {...}) every
    `interval` seconds, until the container's cgroup goes away (it is
    deleted), as runc's `events`. A generator: the caller prints and may stop."""
    if interval <= 0:
        raise UsageError("duration interval must be greater than 0")
    # no lock held while watching: delete must not wait for us
    mgr, _ = manager(opts, cid, "events", lock=False)
    from pyrunc.cgroups.oom import OOMWatch
    watch = OOMWatch(mgr)
    next_stats = time.monotonic() + interval
    try:
        while mgr.exists():
            for _ in range(watch.wait(max(0.0, min(0.5, next_stats - time.monotonic())))):
                yield "oom", None
            if time.monotonic() >= next_stats:
                next_stats += interval
                if mgr.exists():
                    yield "stats", mgr.stats()
    finally:
        watch.close()
