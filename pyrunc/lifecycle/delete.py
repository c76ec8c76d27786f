"""`delete`: remove a stopped container (with --force, any container): its
init and what else its own cgroup holds, its network devices back to the
host, the cgroup, the state dir; then the poststop hooks. Hot: shims call it
for every container; import-light.
"""

import posix  # not os: the hot verbs never load it (pyrunc/kernel/posixos.py)

from pyrunc.errors import ContainerNotFound, HookError, InvalidState
from pyrunc.kernel import procfs
from pyrunc.kernel.cpython import signal
from pyrunc.lifecycle import kill_cgroup, load, owns, quietly, run_hooks, state_for_hooks, status_of
from pyrunc.store import status as st
from pyrunc.testhooks import reached


def delete(opts, cid, force=False):
    try:
        cdir, record = load(opts, cid)
    except ContainerNotFound:
        if force:
            return  # runc: delete --force of a missing container succeeds
        raise
    with cdir:
        status = status_of(cdir, record)
        reached("delete:after-lock")
        if status in (st.RUNNING, st.PAUSED) and not force:
            st.require("delete", status)
        mgr = None
        if record.get("cgroup"):
            from pyrunc import cgroups
            mgr = cgroups.load_manager(record["cgroup"])
        if status == st.CREATING and not force:
            raise InvalidState("cannot delete a container that is being created")
        if status != st.STOPPED and record.get("pid"):
            _return_net_devices(opts, record)
            _kill_and_wait(record, mgr, status)
        reached("delete:after-kill")
        # a stopped container's own cgroup usually holds nothing: one rmdir
        # each (remove_if_unused); else what is left there is killed first
        quick = status == st.STOPPED and owns(record.get("cgroup") or {})
        if mgr is not None and not (quick and mgr.remove_if_unused()):
            # a half-made container, a container without its own pid
            # namespace or an exec'd process may leave processes behind
            kill_cgroup(mgr, record["cgroup"])
            if owns(record["cgroup"]):  # a shared cgroup is not ours to remove
                mgr.destroy()
        reached("delete:after-cgroup")
        cdir.remove()
    if record.get("pid"):
        try:
            run_hooks("poststop", (record.get("hooks") or {}).get("poststop"),
                       state_for_hooks(record, st.STOPPED))
        except HookError as exc:
            opts.log.warn(str(exc))


def _return_net_devices(opts, record):
    """linux.netDevices go back to the host while the init's namespace lives."""
    if not record.get("net_devices") or not procfs.is_alive(record["pid"], record.get("pid_start")):
        return
    from pyrunc.lifecycle import netdevices
    quietly(opts.log, netdevices.move_out, record["net_devices"], record["pid"])


def _kill_and_wait(record, mgr, status):
    pid = record["pid"]
    try:
        pidfd = posix.pidfd_open(pid)
    except ProcessLookupError:
        pidfd = None
    try:
        if pidfd is not None and procfs.is_alive(pid, record.get("pid_start")):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            # a frozen task cannot die, even in a sub-cgroup that froze itself
            if mgr is not None and owns(record.get("cgroup") or {}):
                mgr.thaw_tree()
            elif mgr is not None and status == st.PAUSED:
                mgr.thaw()
            import select  # delete --force of a live container only
            select.select([pidfd], [], [], 10.0)
    finally:
        if pidfd is not None:
            posix.close(pidfd)
