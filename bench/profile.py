"""Where pyrunc's own time goes: interpreter start-up, imports per command
(`-X importtime`), validation, seccomp compile, and the phases of create
(fork -> init ready) and start (fifo release -> execve).

Place in the bench: run.py calls `profile_all()` after the interleaved
comparison. The phase probes run pyrunc's own functions in a fresh
interpreter (the same one the `pyrunc` command uses) with timing wrappers
around the module attributes the lifecycle calls; nothing in pyrunc changes.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time

from harness import CLEAN_ENV

HEAVY = ("click", "jsonschema", "pyseccomp", "prctl", "jeepney", "ctypes", "pathlib", "typing",
         "dataclasses", "inspect", "uuid", "hashlib", "socket", "pyrunc.config", "pyrunc.security.seccomp.compile",
         "pyrunc.cgroups.v1", "pyrunc.cgroups.v2", "pyrunc.cgroups.systemd", "pyrunc.init", "pyrunc.plan")


def launcher(binary):
    """(interpreter argv, script) of a `#!/abs/python [flags]` entry script."""
    with open(binary, "rb") as f:
        first = f.readline().decode(errors="replace").strip()
    if not first.startswith("#!"):
        return None, binary
    parts = first[2:].split()
    return parts, binary


def _median_run(argv, n):
    """(median wall seconds, median CPU seconds) of running argv n times."""
    walls, cpus = [], []
    null = [(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0), (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)]
    for _ in range(n):
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, CLEAN_ENV, file_actions=null)
        _, _status, ru = os.wait4(pid, 0)
        walls.append(time.perf_counter() - t0)
        cpus.append(ru.ru_utime + ru.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def interpreter(binary, runc, n=20):
    """Start-up costs: wall-time medians, and `<label> (cpu)` CPU-time medians."""
    interp, script = launcher(binary)
    runs = {}
    if interp:
        py = interp[0]
        runs["python -I -c pass"] = [py, "-I", "-c", "pass"]
        runs["python -I -S -c pass"] = [py, "-I", "-S", "-c", "pass"]
        runs[f"launcher interpreter ({' '.join(interp[1:]) or 'no flags'}) -c pass"] = interp + ["-c", "pass"]
    runs["pyrunc --version (click)"] = [binary, "--version"]
    runs["runc --version"] = [runc, "--version"]
    out = {}
    for label, argv in runs.items():
        out[label], out[label + " (cpu)"] = _median_run(argv, n)
    return out


def importtime_entries(text):
    """(module, self us, cumulative us, depth) for each line `-X importtime` wrote."""
    entries = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line[len("import time:"):].split("|")
        if len(parts) != 3:
            continue
        try:
            self_us, cum_us, raw = int(parts[0]), int(parts[1]), parts[2]
        except ValueError:
            continue
        name = raw.strip()
        depth = (len(raw) - len(raw.lstrip(" ")) - 1) // 2
        entries.append((name, self_us, cum_us, depth))
    return entries


def parse_importtime(text):
    entries = importtime_entries(text)
    total = sum(e[1] for e in entries)
    top = sorted((e for e in entries if e[3] == 0), key=lambda e: -e[2])[:6]
    names = {e[0] for e in entries}
    return {"modules": len(entries), "total_ms": total / 1000,
            "top": [(e[0], e[2] / 1000) for e in top],
            "heavy": sorted(n for n in names if n in HEAVY)}


def importtimes(rt, bundles, workdir, spawner):
    """`-X importtime` for each verb, driven through one lifecycle."""
    interp, script = launcher(rt.binary)
    if not interp:
        return {}

    def timed(verb_args):
        argv = interp + ["-X", "importtime", script, "--root", rt.root, *verb_args]
        # stderr to a file, not a pipe: the container's init inherits it and
        # keeps it open while it waits, so a pipe would never see EOF
        with tempfile.TemporaryFile(dir=workdir) as err:
            proc = subprocess.run(argv, env=CLEAN_ENV, stdout=subprocess.DEVNULL, stderr=err)
            err.seek(0)
            text = err.read().decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(verb_args)}: {text.strip().splitlines()[-1:]}")
        return parse_importtime(text)

    b = bundles.get(rt, 0)
    out = {}
    pidfile = os.path.join(workdir, "it.pid")
    out["create"] = timed(["create", "--bundle", b, "--pid-file", pidfile, "it1"])
    out["state"] = timed(["state", "it1"])
    pid = int(open(pidfile).read())
    out["start"] = timed(["start", "it1"])
    spawner.wait_exit(pid)
    out["delete"] = timed(["delete", "it1"])
    rt.call("create", "--bundle", b, "--pid-file", pidfile, "it2")
    pid = int(open(pidfile).read())
    out["kill"] = timed(["kill", "it2", "KILL"])
    spawner.wait_exit(pid)
    rt.call("delete", "it2")
    out["run"] = timed(["run", "--bundle", b, "it3"])
    os.unlink(pidfile)
    return out


# Runs inside pyrunc's interpreter: times the phases of create and start.
_PHASES = r'''
import json, os, sys, time
root, bundle, cid, cache = sys.argv[1:5]
T = {}
def wrap(mod, name, key):
    fn = getattr(mod, name)
    def w(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            T[key] = T.get(key, 0.0) + time.perf_counter() - t
    setattr(mod, name, w)
from pyrunc.kernel import cgroup_prepay
cgroup_prepay.start()  # what pyrunc.cli does first for create (see kernel/cgroup_prepay.py)
t0 = time.perf_counter()
from pyrunc import config, plan
from pyrunc.lifecycle import Options
from pyrunc.lifecycle import create, delete, start
from pyrunc.process import spawn
from pyrunc.kernel import procfs
T["import lifecycle, config, plan, spawn"] = time.perf_counter() - t0
wrap(config, "load", "validate + seccomp compile (config.load)")
wrap(plan, "build", "plan.build")
wrap(create, "resolve_capabilities", "capabilities")
orig_mgr = create.cgroup_manager
def mgr_wrapped(*a, **k):
    t = time.perf_counter()
    mgr = orig_mgr(*a, **k)
    T["cgroup describe"] = time.perf_counter() - t
    if mgr is not None:
        create = mgr.create
        def timed_create():
            t = time.perf_counter()
            try:
                return create()
            finally:
                T["cgroup create + resources"] = time.perf_counter() - t
        mgr.create = timed_create
    return mgr
create.cgroup_manager = mgr_wrapped
wrap(spawn, "spawn", "fork -> init ready (spawn; has the record, fifo and cgroup create)")
import pyrunc.store as state_mod
wrap(state_mod, "write_atomic", "state writes (temp + rename), create+start")
wrap(start, "release", "start: fifo release -> execve")
opts = Options(root)
if cache == "cold":
    import shutil; shutil.rmtree(os.path.join(root, ".cache"), ignore_errors=True)
t = time.perf_counter()
pid = create.create(opts, cid, bundle)
T["create (total, in-process)"] = time.perf_counter() - t
t = time.perf_counter()
start.start(opts, cid)
T["start (total, in-process)"] = time.perf_counter() - t
deadline = time.monotonic() + 10
while procfs.start_time(pid) is not None and time.monotonic() < deadline:
    time.sleep(0.0005)
t = time.perf_counter()
delete.delete(opts, cid)
T["delete (total, in-process)"] = time.perf_counter() - t
print(json.dumps(T))
'''

_VALIDATION = r'''
import json, os, sys, time, tempfile
bundle = sys.argv[1]
T = {}
t = time.perf_counter(); from pyrunc import config; T["import pyrunc.config"] = time.perf_counter() - t
t = time.perf_counter(); config.load_bundle(bundle, warn=lambda m: None); T["load_bundle, no cache, cold (jsonschema import + compile)"] = time.perf_counter() - t
t = time.perf_counter(); config.load_bundle(bundle, warn=lambda m: None); T["load_bundle, no cache, warm validator"] = time.perf_counter() - t
with tempfile.TemporaryDirectory() as cache:
    config.load_bundle(bundle, cache_dir=cache, warn=lambda m: None)
    t = time.perf_counter(); config.load_bundle(bundle, cache_dir=cache, warn=lambda m: None); T["load_bundle, cache hit (schema skipped)"] = time.perf_counter() - t
t = time.perf_counter(); import jsonschema; T["import jsonschema after the loads (0 if they loaded it)"] = time.perf_counter() - t
print(json.dumps(T))
'''

_JSONSCHEMA = r'''
import json, time
t = time.perf_counter(); import jsonschema; print(json.dumps({"import jsonschema, fresh interpreter": time.perf_counter() - t}))
'''

_SECCOMP = r'''
import json, sys, time
profile = json.load(open(sys.argv[1]))
T = {}
t = time.perf_counter(); from pyrunc.security.seccomp import compile as seccomp; T["import pyrunc.security.seccomp.compile"] = time.perf_counter() - t
t = time.perf_counter(); seccomp.compile_seccomp(profile, lambda m: None); T["compile podman profile, cold (libseccomp load)"] = time.perf_counter() - t
t = time.perf_counter(); seccomp.compile_seccomp(profile, lambda m: None); T["compile podman profile, warm"] = time.perf_counter() - t
print(json.dumps(T))
'''


def _probe(interp, code, *args):
    argv = [interp[0], "-I", "-c", code, *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:  # files: see importtimes()
        proc = subprocess.run(argv, env=CLEAN_ENV, stdout=out, stderr=err, timeout=120)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        tail = (stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail}
    return json.loads(stdout.strip().splitlines()[-1])


def profile_all(rt, bundles, workdir, spawner, seccomp_profile=None):
    out = {}
    interp, _ = launcher(rt.binary)
    out["importtime"] = importtimes(rt, bundles, workdir, spawner)
    if not interp:
        return out
    b = bundles.get(rt, 0)
    out["create phases, verdict cache cold"] = _probe(interp, _PHASES, rt.root, b, "ph1", "cold")
    spawner.reap_orphans()
    out["create phases, verdict cache warm"] = _probe(interp, _PHASES, rt.root, b, "ph2", "warm")
    spawner.reap_orphans()
    out["validation"] = _probe(interp, _VALIDATION, b)
    out["validation"].update(_probe(interp, _JSONSCHEMA))
    if seccomp_profile is not None:
        path = os.path.join(workdir, "podman-seccomp.json")
        with open(path, "w") as f:
            json.dump(seccomp_profile, f)
        out["seccomp"] = _probe(interp, _SECCOMP, path)
    return out


def render(prof, interp_times):
    lines = ["where pyrunc's time goes (ms)"]
    for k, v in interp_times.items():
        lines.append(f"  {k}: {v * 1000:.1f}")
    for verb, it in prof.get("importtime", {}).items():
        top = ", ".join(f"{n} {ms:.1f}" for n, ms in it["top"][:4])
        heavy = ", ".join(it["heavy"]) or "none"
        lines.append(f"  imports for {verb}: {it['modules']} modules, {it['total_ms']:.1f} ms (under -X importtime);"
                     f" top: {top}; heavy: {heavy}")
    for section in ("create phases, verdict cache cold", "create phases, verdict cache warm", "validation", "seccomp"):
        data = prof.get(section)
        if not data:
            continue
        lines.append(f"  {section}:")
        for k, v in data.items():
            lines.append(f"    {k}: {v * 1000:.1f}" if isinstance(v, (int, float)) else f"    {k}: {v}")
    return "\n".join(lines)
