#!/usr/bin/env python3
"""What seccomp costs a create: pyrunc's compile + load vs runc (issue 4).

Place: bench/, run by hand as root (`.venv/bin/python bench/seccomp.py`).
Two real-world profiles: podman's generated `linux.seccomp` (from
../shared/fixtures/clients/podman-config.json) and Docker's full default
profile (Debian's containers-common /usr/share/containers/seccomp.json,
converted to OCI form the way podman does, tests/seccomp_profiles.py; with
every capability in the bounding set, so the most rules survive).

  compile cold  a fresh interpreter: import pyrunc.security.seccomp.compile (and pyseccomp,
                libseccomp) + compile_seccomp, as a create pays it
  compile warm  compile_seccomp again in one process (the libseccomp work)
  cache hit     a fresh interpreter served by pyrunc.security.seccomp.cache, as every
                create after the first with the same profile is
  load          seccomp(2) of the compiled program in a forked child
  per syscall   extra ns of a getppid() with the filter loaded (binary-tree
                filter, as runc asks libseccomp for above 32 rules)
  create        `create` + `delete --force` wall time of a busybox bundle with
                the profile minus the same without it, for pyrunc and runc
                (runc compiles and loads in its Go init; this is the
                end-to-end price of the profile for each runtime); pyrunc
                twice: with its compiled-seccomp cache (every create after
                the first, as under podman) and with the cache emptied
Medians over --runs repetitions.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from tests import seccomp_profiles  # noqa: E402  (the converter lives with the tests)

PY = sys.executable
PYRUNC = os.path.join(REPO, ".venv", "bin", "pyrunc")
CGROUP_PARENT = "pyrunc-bench-seccomp"  # ours alone: we rmdir it at the end

_COLD = r"""
import json, sys, time
prof = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
from pyrunc.security.seccomp.compile import compile_seccomp
c = compile_seccomp(prof)
print(time.perf_counter() - t0, c.instructions)
"""


def median_ms(values):
    return round(statistics.median(values) * 1000, 2)


def compile_cold(profile_path, runs):
    times, insns = [], 0
    for _ in range(runs):
        out = subprocess.run([PY, "-c", _COLD, profile_path], capture_output=True, text=True,
                             check=True, cwd=REPO).stdout.split()
        times.append(float(out[0]))
        insns = int(out[1])
    return median_ms(times), insns


_HIT = r"""
import json, sys, time
prof = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
from pyrunc.security.seccomp.cache import compile_cached
c = compile_cached(prof, cache_dir=sys.argv[2])
print(time.perf_counter() - t0, "pyseccomp" in sys.modules)
"""


def cache_hit_cold(profile_path, cache_dir, runs):
    """A fresh interpreter served from the compiled-seccomp cache (the
    first run fills it); imports included. Also: was libseccomp loaded?"""
    subprocess.run([PY, "-c", _HIT, profile_path, cache_dir], check=True, cwd=REPO, capture_output=True)
    times, loaded = [], False
    for _ in range(runs):
        out = subprocess.run([PY, "-c", _HIT, profile_path, cache_dir], capture_output=True, text=True,
                             check=True, cwd=REPO).stdout.split()
        times.append(float(out[0]))
        loaded = loaded or out[1] == "True"
    return median_ms(times), loaded


def compile_warm(profile, runs):
    from pyrunc.security.seccomp.compile import compile_seccomp
    compile_seccomp(profile)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        compile_seccomp(profile)
        times.append(time.perf_counter() - t0)
    return median_ms(times)


def load_in_child(profile, runs):
    from pyrunc.init import apply_security as security
    from pyrunc.security.seccomp.compile import compile_seccomp
    compiled = compile_seccomp(profile)
    times = []
    for _ in range(runs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            t0 = time.perf_counter()
            security.load_seccomp(compiled)
            os.write(w, repr(time.perf_counter() - t0).encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            times.append(float(f.read()))
        os.waitpid(pid, 0)
    return median_ms(times)


def syscall_overhead(profile, calls=200_000):
    """ns per getppid() in a child with the filter loaded, minus without:
    what every syscall of the container pays for the filter."""
    from pyrunc.init import apply_security as security
    from pyrunc.security.seccomp.compile import compile_seccomp
    compiled = compile_seccomp(profile) if profile is not None else None

    def child_ns():
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            if compiled is not None:
                security.load_seccomp(compiled)
            getppid = os.getppid
            t0 = time.perf_counter_ns()
            for _ in range(calls):
                getppid()
            os.write(w, str((time.perf_counter_ns() - t0) / calls).encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r) as f:
            value = float(f.read())
        os.waitpid(pid, 0)
        return value

    return child_ns()


def _overhead(profile, rounds=7):
    """Interleaved with/without measurements, min of each: noise only adds."""
    with_f, without = [], []
    for _ in range(rounds):
        with_f.append(syscall_overhead(profile))
        without.append(syscall_overhead(None))
    return round(min(with_f) - min(without), 1)


def _bundle(workdir, profile):
    cfg = json.load(open(os.path.join(REPO, "bundles", "busybox", "config.json")))
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["sleep", "100"]
    if profile is not None:
        cfg["linux"]["seccomp"] = copy.deepcopy(profile)
    else:
        cfg["linux"].pop("seccomp", None)
    path = tempfile.mkdtemp(dir=workdir)
    # the shared rootfs by absolute path (runc refuses a symlinked rootfs);
    # read-only, so neither runtime writes into it
    cfg["root"] = {"path": os.path.join(REPO, "bundles", "busybox", "rootfs"), "readonly": True}
    return path, cfg


def create_cost(binary, workdir, profile, runs, cold_cache=False):
    """Median create+delete wall time with `profile` (None: without seccomp).
    cold_cache: remove pyrunc's compiled-seccomp cache before each create."""
    root = tempfile.mkdtemp(dir=workdir, prefix="root-")
    bundle, cfg = _bundle(workdir, profile)
    times = []
    for _ in range(runs):
        if cold_cache:
            cache = os.path.join(root, ".cache")
            for name in os.listdir(cache) if os.path.isdir(cache) else ():
                if name.startswith("seccomp-"):
                    os.unlink(os.path.join(cache, name))
        cid = f"sb-{uuid.uuid4().hex[:8]}"
        cfg["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/{cid}"
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(cfg, f)
        # the container's init inherits create's stdio: files, never pipes
        # (a pipe would keep us waiting for the container to exit)
        with tempfile.TemporaryFile(dir=workdir) as err:
            t0 = time.perf_counter()
            proc = subprocess.run([binary, "--root", root, "create", "-b", bundle, cid],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            if proc.returncode != 0:
                err.seek(0)
                raise RuntimeError(f"{binary} create: {err.read().decode(errors='replace').strip()}")
            subprocess.run([binary, "--root", root, "delete", "--force", cid], check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _rm_cgroups():
    for ctrl in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", ctrl, CGROUP_PARENT)
        if not os.path.isdir(top):
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--no-create", action="store_true", help="skip the create comparison")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)

    from pyrunc.security.capabilities import CAPABILITY_NAMES
    profiles = {"podman": seccomp_profiles.podman_seccomp()}
    if seccomp_profiles.MOBY_PROFILE.exists():
        profiles["docker-default"] = seccomp_profiles.docker_default_seccomp(list(CAPABILITY_NAMES))
    result = {}
    workdir = tempfile.mkdtemp(prefix="pyrunc-bench-seccomp-")
    try:
        for name, prof in profiles.items():
            path = os.path.join(workdir, f"{name}.json")
            with open(path, "w") as f:
                json.dump(prof, f)
            cold, insns = compile_cold(path, args.runs)
            hit_ms, hit_loaded_libseccomp = cache_hit_cold(path, os.path.join(workdir, f"cache-{name}"), args.runs)
            row = {"rules": sum(len(r["names"]) for r in prof["syscalls"]), "bpf_instructions": insns,
                   "compile_cold_ms": cold, "compile_warm_ms": compile_warm(prof, args.runs),
                   "cache_hit_cold_ms": hit_ms, "cache_hit_loads_libseccomp": hit_loaded_libseccomp,
                   "load_ms": load_in_child(prof, args.runs),
                   "syscall_overhead_ns": _overhead(prof)}
            can_create = os.geteuid() == 0 and not args.no_create
            if can_create:
                for rt, binary in (("pyrunc", PYRUNC), ("runc", shutil.which("runc"))):
                    if not binary or not os.path.exists(binary):
                        continue
                    try:
                        base = create_cost(binary, workdir, None, args.runs)
                        with_prof = create_cost(binary, workdir, prof, args.runs)
                    except RuntimeError as exc:
                        row[f"{rt}_create_error"] = str(exc)
                        continue
                    row[f"{rt}_create_ms"] = round(with_prof * 1000, 1)
                    row[f"{rt}_seccomp_cost_ms"] = round((with_prof - base) * 1000, 1)
                    if rt == "pyrunc":
                        cold = create_cost(binary, workdir, prof, args.runs, cold_cache=True)
                        row["pyrunc_cold_cache_create_ms"] = round(cold * 1000, 1)
                        row["pyrunc_cold_cache_seccomp_cost_ms"] = round((cold - base) * 1000, 1)
            result[name] = row
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        _rm_cgroups()
    if args.json:
        print(json.dumps(result, indent=1))
        return
    for name, row in result.items():
        print(f"{name}: {row['rules']} syscall names -> {row['bpf_instructions']} BPF instructions")
        print(f"  compile cold {row['compile_cold_ms']} ms (fresh interpreter, imports included), "
              f"warm {row['compile_warm_ms']} ms; load {row['load_ms']} ms; "
              f"+{row['syscall_overhead_ns']} ns per syscall (getppid)")
        print(f"  cache hit {row['cache_hit_cold_ms']} ms (fresh interpreter, imports included; "
              f"libseccomp {'loaded' if row['cache_hit_loads_libseccomp'] else 'not loaded'})")
        for rt in ("pyrunc", "runc"):
            if f"{rt}_create_ms" in row:
                print(f"  {rt:6} create+delete {row[f'{rt}_create_ms']} ms, "
                      f"of which the profile {row[f'{rt}_seccomp_cost_ms']} ms"
                      + (" (compiled-seccomp cache hit)" if rt == "pyrunc" else ""))
            if rt == "pyrunc" and "pyrunc_cold_cache_create_ms" in row:
                print(f"  pyrunc create+delete {row['pyrunc_cold_cache_create_ms']} ms with the cache "
                      f"emptied each time, of which the profile {row['pyrunc_cold_cache_seccomp_cost_ms']} ms")
            elif f"{rt}_create_error" in row:
                print(f"  {rt:6} create failed: {row[f'{rt}_create_error']}")


if __name__ == "__main__":
    main()
