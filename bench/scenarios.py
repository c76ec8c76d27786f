"""The measured scenarios: each takes one Runtime and returns one sample,
a dict of metric -> number (seconds, or KiB for memory).

Place in the bench: run.py calls every scenario for pyrunc and runc in turn
(A B A B ...) after a warm-up; report.py turns the samples into medians and
ratios. Every scenario leaves nothing behind: the container it made is
deleted (and its init reaped) before it returns.
"""
from __future__ import annotations

import itertools
import os
import time

from harness import proc_memory, read_pid

_ids = itertools.count()


def _cid(tag):
    return f"b{os.getpid()}-{tag}-{next(_ids)}"


def _pidfile(workdir, cid):
    return os.path.join(workdir, f"{cid}.pid")


def run_true(rt, bundles, workdir, variant="plain"):
    """1 (and 7): `run` of /bin/true, foreground; run deletes the container itself."""
    res = rt.call("run", "--bundle", bundles.get(rt, 0, variant), _cid("run"))
    return {"seconds": res.seconds, "cpu_s": res.cpu}


def run_unique(rt, bundles, workdir):
    """1b: `run` with a config never seen before (as podman/containerd send)."""
    res = rt.call("run", "--bundle", bundles.unique(rt), _cid("uniq"))
    return {"seconds": res.seconds, "cpu_s": res.cpu}


def cycle(rt, bundles, workdir, variant="plain"):
    """2 and 6: create -> start -> (init exits) -> delete, as a shim drives it.
    The waiting init's memory is read between create and start (not timed)."""
    cid = _cid("cyc")
    pidfile = _pidfile(workdir, cid)
    c = rt.call("create", "--bundle", bundles.get(rt, 0, variant), "--pid-file", pidfile, cid)
    pid = read_pid(pidfile)
    mem = proc_memory(pid) or {}
    s = rt.call("start", cid)
    t0 = time.perf_counter()
    if not rt.spawner.wait_exit(pid):
        raise RuntimeError(f"{rt.name}: container {cid} did not exit")
    waited = time.perf_counter() - t0
    d = rt.call("delete", cid)
    os.unlink(pidfile)
    out = {"seconds": c.seconds + s.seconds + waited + d.seconds,
           "create_s": c.seconds, "start_s": s.seconds, "delete_s": d.seconds,
           "cpu_s": c.cpu + s.cpu + d.cpu, "create_cpu_s": c.cpu, "start_cpu_s": s.cpu}
    for key, value in mem.items():
        out[f"init_{key}_kib"] = value
    return out


def sequential(rt, bundles, workdir, n=100):
    """3: n `run`s one after another, total wall time."""
    b = bundles.get(rt, 0)
    t0 = time.perf_counter()
    for _ in range(n):
        rt.call("run", "--bundle", b, _cid("seq"))
    return {"seconds": time.perf_counter() - t0}


def concurrent(rt, bundles, workdir, n=20):
    """4: n `run`s started at once (one bundle and cgroup each), total wall time."""
    started = []
    paths = [bundles.get(rt, slot + 1) for slot in range(n)]
    t0 = time.perf_counter()
    for b in paths:
        argv = rt.argv("run", "--bundle", b, _cid("conc"))
        started.append((argv,) + rt.spawner.start(argv, rt.name))
    failures = []
    for argv, pid, t, out in started:
        res = rt.spawner.finish(argv, pid, t, out)
        if res.code != 0:
            failures.append(res.stderr.strip())
    seconds = time.perf_counter() - t0
    if failures:
        raise RuntimeError(f"{rt.name}: {len(failures)} concurrent runs failed: {failures[0]}")
    return {"seconds": seconds}


def state_kill_delete(rt, bundles, workdir):
    """5: `state`, `kill KILL` and `delete` alone, on a created container."""
    cid = _cid("skd")
    pidfile = _pidfile(workdir, cid)
    rt.call("create", "--bundle", bundles.get(rt, 0), "--pid-file", pidfile, cid)
    pid = read_pid(pidfile)
    s = rt.call("state", cid)
    k = rt.call("kill", cid, "KILL")
    if not rt.spawner.wait_exit(pid):
        raise RuntimeError(f"{rt.name}: container {cid} survived SIGKILL")
    d = rt.call("delete", cid)
    os.unlink(pidfile)
    out = {"state_s": s.seconds, "kill_s": k.seconds, "delete_s": d.seconds,
           "state_cpu_s": s.cpu, "kill_cpu_s": k.cpu, "delete_cpu_s": d.cpu}
    interp = _script_interpreter(rt.binary)
    if interp:
        # the hot verbs' target is CPU above the bare interpreter the launcher
        # runs: measured here, in the same rounds, not at another load
        out["bare_cpu_s"] = rt.spawner.run([interp, "-I", "-S", "-c", "pass"], rt.name).cpu
    return out


def _script_interpreter(binary):
    """The interpreter of a `#!` script (pyrunc's launcher), else None (runc)."""
    try:
        with open(binary, "rb") as f:
            first = f.readline(4096)
    except OSError:
        return None
    return first[2:].split()[0].decode() if first.startswith(b"#!") and first[2:].split() else None


def peak_rss(rt, bundles, workdir):
    """6: peak RSS of each command (KiB, through GNU time): create, state,
    start, kill, delete, run."""
    out = {}
    b = bundles.get(rt, 0)
    cid = _cid("rss")
    pidfile = _pidfile(workdir, cid)
    out["create"] = rt.peak_rss("create", "--bundle", b, "--pid-file", pidfile, cid)
    pid = read_pid(pidfile)
    out["state"] = rt.peak_rss("state", cid)
    out["start"] = rt.peak_rss("start", cid)
    rt.spawner.wait_exit(pid)
    out["delete"] = rt.peak_rss("delete", cid)
    cid = _cid("rss")
    rt.call("create", "--bundle", b, "--pid-file", pidfile, cid)
    pid = read_pid(pidfile)
    out["kill"] = rt.peak_rss("kill", cid, "KILL")
    rt.spawner.wait_exit(pid)
    rt.call("delete", cid)
    os.unlink(pidfile)
    out["run"] = rt.peak_rss("run", "--bundle", b, _cid("rss"))
    return {f"{verb}_rss_kib": kib for verb, kib in out.items()}
