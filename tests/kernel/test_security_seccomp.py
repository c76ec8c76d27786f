"""Seccomp: compile in this (parent) process, load in a throwaway forked child
with pyrunc.init.apply_security.load_seccomp, and watch what the kernel does."""
from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import socket

import pyseccomp
import pytest

from pyrunc.errors import SecurityError
from pyrunc.init import apply_security as security
from pyrunc.security.seccomp.compile import compile_seccomp
from tests import seccomp_testagent, support
from tests.kernel.security_helpers import in_child, status_fields

pytestmark = pytest.mark.requires("root")

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {name: pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
      for name in ("umask", "getpriority", "uname", "getppid", "sched_yield")}


def raw(name, *args):
    """The syscall with no libc caching or retry; (result, errno)."""
    ctypes.set_errno(0)
    res = libc.syscall(ctypes.c_long(NR[name]), *[ctypes.c_long(a) for a in args])
    return res, (ctypes.get_errno() if res == -1 else 0)


def profile(*rules, default="SCMP_ACT_ALLOW", **extra):
    return dict({"defaultAction": default, "syscalls": list(rules)}, **extra)


def load_then(prof, fn, *args):
    compiled = compile_seccomp(prof)

    def child():
        security.load_seccomp(compiled)
        return fn(*args)

    return in_child(child)


def test_errno_action_returns_configured_errno():
    res = load_then(profile({"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}),
                    raw, "getppid").ok()
    assert res == [-1, 42]


def test_errno_without_errnoret_is_eperm():
    res = load_then(profile({"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}), raw, "getppid").ok()
    assert res == [-1, errno.EPERM]


def test_seccomp_field_in_status_shows_filter_mode():
    def read():
        f = status_fields()
        return f.get("Seccomp"), f.get("Seccomp_filters")

    mode, count = load_then(profile({"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}), read).ok()
    assert mode == "2" and count == "1"


@pytest.mark.parametrize("op,value,value2,blocked,allowed", [
    ("SCMP_CMP_EQ", 0o22, 0, [0o22], [0o21, 0o23]),
    ("SCMP_CMP_NE", 0o22, 0, [0o21, 0o23], [0o22]),
    ("SCMP_CMP_LT", 0o22, 0, [0o21, 0], [0o22, 0o23]),
    ("SCMP_CMP_LE", 0o22, 0, [0o22, 0o21], [0o23]),
    ("SCMP_CMP_GT", 0o22, 0, [0o23, 0o777], [0o22, 0]),
    ("SCMP_CMP_GE", 0o22, 0, [0o22, 0o23], [0o21]),
    # value is the mask, valueTwo what the masked argument must equal
    ("SCMP_CMP_MASKED_EQ", 0o070, 0o020, [0o022, 0o727], [0o002, 0o030]),
])
def test_argument_operators(op, value, value2, blocked, allowed):
    rule = {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
            "args": [{"index": 0, "value": value, "valueTwo": value2, "op": op}]}

    def probe():
        return {str(v): raw("umask", v)[1] for v in blocked + allowed}

    got = load_then(profile(rule), probe).ok()
    assert {v: got[str(v)] for v in blocked} == {v: 77 for v in blocked}
    assert {v: got[str(v)] for v in allowed} == {v: 0 for v in allowed}


def test_conditions_on_different_args_are_anded():
    rule = {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55,
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                     {"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]}

    def probe():
        return [raw("getpriority", 0, 0)[1], raw("getpriority", 0, os.getpid())[1],
                raw("getpriority", 1, 0)[1]]

    assert load_then(profile(rule), probe).ok() == [55, 0, 0]


def test_two_conditions_on_one_arg_become_separate_rules():
    # runc: libseccomp cannot AND two tests of one argument, so each test
    # becomes its own rule: blocked if arg0 <= 5 OR arg0 >= 0o20
    rule = {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "errnoRet": 66,
            "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_LE"},
                     {"index": 0, "value": 0o20, "op": "SCMP_CMP_GE"}]}

    def probe():
        return [raw("umask", v)[1] for v in (3, 7, 0o30)]

    assert load_then(profile(rule), probe).ok() == [66, 0, 66]


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS"])
def test_kill_actions(action):
    res = load_then(profile({"names": ["getppid"], "action": action}), raw, "getppid")
    assert res.signal == signal.SIGSYS


def test_trap_delivers_sigsys():
    compiled = compile_seccomp(profile({"names": ["getppid"], "action": "SCMP_ACT_TRAP"}))

    def child():
        got = []
        signal.signal(signal.SIGSYS, lambda *a: got.append("SIGSYS"))
        security.load_seccomp(compiled)
        raw("getppid")
        return got

    assert in_child(child).ok() == ["SIGSYS"]


def test_trace_without_tracer_is_enosys():
    res = load_then(profile({"names": ["getppid"], "action": "SCMP_ACT_TRACE"}), raw, "getppid").ok()
    assert res == [-1, errno.ENOSYS]


@pytest.mark.parametrize("action", ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG"])
def test_allowing_actions(action):
    prof = profile({"names": ["getppid"], "action": action}, default="SCMP_ACT_ALLOW")
    if action == "SCMP_ACT_ALLOW":
        prof["defaultAction"] = "SCMP_ACT_LOG"
    assert load_then(prof, raw, "getppid").ok() == [os.getpid(), 0]


def test_default_errno_ret():
    # default deny with ENOSYS; allow all the interpreter needs, i.e.
    # everything but getppid
    names = _all_syscalls_except({"getppid"})
    prof = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}
    assert load_then(prof, raw, "getppid").ok() == [-1, errno.ENOSYS]


def _all_syscalls_except(excluded, below=1024):
    names = []
    for nr in range(below):
        try:
            name = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, nr).decode()
        except ValueError:
            continue
        if name not in excluded:
            names.append(name)
    return names


def test_enosys_stub_for_syscalls_newer_than_the_profile():
    # Default EPERM; allow every syscall numbered below 400 except getppid.
    # getppid (known to the profile's era) gets EPERM; a number above the
    # newest one named gets ENOSYS, so libc would fall back.
    names = [n for n in _all_syscalls_except({"getppid"}, below=400)]
    prof = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}]}
    compiled = compile_seccomp(prof)

    def child():
        security.load_seccomp(compiled)
        ctypes.set_errno(0)
        new = libc.syscall(ctypes.c_long(435))  # clone3: newer than anything allowed
        new_errno = ctypes.get_errno()
        return [raw("getppid")[1], new, new_errno]

    assert in_child(child).ok() == [errno.EPERM, -1, errno.ENOSYS]


def test_unknown_syscall_names_are_skipped():
    debug = []
    compiled = compile_seccomp(profile({"names": ["no_such_syscall", "getppid"],
                                        "action": "SCMP_ACT_ERRNO"}), debug=debug.append)
    assert compiled.skipped_syscalls == ("no_such_syscall",)
    assert debug and "no_such_syscall" in debug[0]
    assert load_then(profile({"names": ["no_such_syscall", "getppid"], "action": "SCMP_ACT_ERRNO"}),
                     raw, "getppid").ok() == [-1, errno.EPERM]


@pytest.mark.parametrize("flags", [["SECCOMP_FILTER_FLAG_TSYNC"], ["SECCOMP_FILTER_FLAG_LOG"],
                                   ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"], [],
                                   ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                    "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]])
def test_flags_load(flags):
    prof = profile({"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9}, flags=flags)
    assert load_then(prof, raw, "getppid").ok() == [-1, 9]


def test_without_no_new_privs_and_without_cap_sys_admin_loading_fails():
    compiled = compile_seccomp(profile({"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}))

    def child():
        caps = {s: [] for s in ("bounding", "effective", "permitted", "inheritable", "ambient")}
        security.apply_capabilities(caps)
        try:
            security.load_seccomp(compiled)
        except SecurityError as exc:
            return str(exc)
        return "loaded"

    assert in_child(child).ok() == "load seccomp filter: permission denied"


def test_with_no_new_privs_an_unprivileged_process_can_load():
    compiled = compile_seccomp(profile({"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}))

    def child():
        security.set_no_new_privs()
        caps = {s: [] for s in ("bounding", "effective", "permitted", "inheritable", "ambient")}
        security.apply_capabilities(caps)
        security.load_seccomp(compiled)
        return raw("getppid")[1]

    assert in_child(child).ok() == errno.EPERM


def test_the_cached_form_loads_too():
    """What seccomp_cache stores (to_dict, through JSON), read back."""
    from pyrunc.security.seccomp.compile import CompiledSeccomp
    compiled = compile_seccomp(profile({"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3}))
    data = CompiledSeccomp.from_dict(json.loads(json.dumps(compiled.to_dict())))

    def child():
        security.load_seccomp(data)
        return raw("getppid")

    assert in_child(child).ok() == [-1, 3]


def _notify_profile(tmp_path, **extra):
    return profile({"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"},
                   listenerPath=str(tmp_path / "agent.sock"), **extra)


@pytest.mark.parametrize("flags", [None, ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                                   ["SECCOMP_FILTER_FLAG_TSYNC"]])
def test_notify_listener_fd_answers_a_syscall(tmp_path, flags):
    extra = {} if flags is None else {"flags": flags}
    compiled = compile_seccomp(_notify_profile(tmp_path, **extra))
    assert compiled.uses_notify and compiled.flags & 8
    parent, child_sock = socket.socketpair()

    def child():
        parent.close()
        fd = security.load_seccomp(compiled)
        socket.send_fds(child_sock, [b"fd"], [fd])
        os.close(fd)
        return raw("getppid")

    # answer in this process, while the child waits in getppid
    import threading

    def agent():
        _, fds, _, _ = socket.recv_fds(parent, 16, 1)
        n = seccomp_testagent.recv_notif(fds[0])
        seccomp_testagent.respond(fds[0], n["id"], val=4242)
        os.close(fds[0])

    t = threading.Thread(target=agent)
    t.start()
    res = in_child(child)
    t.join(10)
    child_sock.close()
    parent.close()
    assert res.ok() == [4242, 0]


def test_notify_fd_goes_to_the_agent_with_the_process_state(tmp_path):
    from pyrunc.security.seccomp import notify as seccomp_notify

    prof = _notify_profile(tmp_path, listenerMetadata="hello-agent")
    compiled = compile_seccomp(prof)
    with seccomp_testagent.Agent(prof["listenerPath"], lambda n: (0, 777)) as agent:
        agent_fd = seccomp_notify.connect_agent(prof["listenerPath"])
        state = seccomp_notify.process_state({"id": "c1", "bundle": "/b"}, compiled.listener_metadata)

        class Ctx:
            seccomp_agent_fd = agent_fd
            seccomp_state = state
            host_pid = None

        def child():
            held = security.load_seccomp(compiled, Ctx)
            try:
                os.fstat(agent_fd)
                still_open = True
            except OSError:
                still_open = False
            return [held, still_open, raw("getppid")]

        res = in_child(child)
        os.close(agent_fd)
        assert res.ok() == [None, False, [777, 0]]
        assert agent.error is None
        st = agent.state
        assert st["fds"] == ["seccompFd"] and st["metadata"] == "hello-agent"
        assert st["pid"] == st["state"]["pid"] and st["pid"] > 0
        assert st["state"]["id"] == "c1" and st["state"]["status"] == "creating"
        assert [n["nr"] for n in agent.notifs] == [NR["getppid"]]


def test_connect_agent_failure_is_one_line(tmp_path):
    from pyrunc.security.seccomp import notify as seccomp_notify
    from pyrunc.errors import PyruncError

    with pytest.raises(PyruncError) as exc:
        seccomp_notify.connect_agent(str(tmp_path / "nobody.sock"))
    assert str(exc.value).startswith("seccomp: connect to the agent at ")
    assert str(exc.value).endswith(": no such file or directory")


@pytest.mark.requires("shared")
def test_podman_profile_runs_a_program():
    cfg = json.loads((support.SHARED / "fixtures/clients/podman-config.json").read_text())
    compiled = compile_seccomp(cfg["linux"]["seccomp"])

    def child():
        security.load_seccomp(compiled)
        pid = os.fork()
        if pid == 0:
            os.execv("/bin/sh", ["sh", "-c", "echo ok >/dev/null && exit 7"])
        return [os.waitpid(pid, 0)[1] >> 8, raw("getppid")[1]]

    assert in_child(child).ok() == [7, 0]
