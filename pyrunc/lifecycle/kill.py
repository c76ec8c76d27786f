"""`kill`: a signal to the container's init, or with --all to every process
in its cgroup (also once the init is gone, as runc and containerd's shim
expect). Hot: shims call it on every stop; import-light.
"""

import posix  # not os: the hot verbs never load it (pyrunc/kernel/posixos.py)

from pyrunc.errors import InvalidState
from pyrunc.kernel import procfs
from pyrunc.kernel.cpython import signal
from pyrunc.lifecycle import load, owns, status_of
from pyrunc.store import status as st


def kill(opts, cid, sig, all_processes=False):
    cdir, record = load(opts, cid)
    with cdir:
        status = status_of(cdir, record)
        if all_processes and record.get("cgroup") and status != st.CREATING:
            # runc: --all signals whatever the cgroup holds, even once the
            # init is gone (a container without a pid namespace leaves its
            # children behind); a stopped container whose cgroup is gone is
            # not an error. Once stopped, a shared cgroup it did not make
            # holds only others' processes: left alone, as delete does.
            from pyrunc import cgroups
            mgr = cgroups.load_manager(record["cgroup"])
            if status == st.STOPPED and (not owns(record["cgroup"]) or not mgr.pids()):
                # nothing left to signal (pids() is [] once the cgroup is
                # gone), and nothing can appear: a cgroup without a process
                # gains one only by a write to it (no fork from inside), so
                # the freeze signal_all wraps would guard nothing
                return
            mgr.signal_all(sig)
            return
        st.require("kill", status)
        _signal(record, sig)


def _signal(record, sig):
    pid = record["pid"]
    try:
        pidfd = posix.pidfd_open(pid)
    except ProcessLookupError:
        raise InvalidState("container not running") from None
    try:
        # the pidfd pins the process: check it is still the init we made
        if not procfs.is_alive(pid, record.get("pid_start")):
            raise InvalidState("container not running")
        signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        raise InvalidState("container not running") from None
    finally:
        posix.close(pidfd)
