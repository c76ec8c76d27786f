#!/usr/bin/env python3
"""How much of `pyrunc create` is config validation, cold and warm (issue 3).

Place: bench/, run by hand (`.venv/bin/python bench/validation.py`). Every
number is a median over fresh interpreters, because what matters is the cost a
real create pays: imports included.

  validation    `from pyrunc.config import load_bundle; load_bundle(...)` timed
                inside a fresh interpreter: cold (empty verdict cache: the
                compiled validator), warm (cache hit), nocache (no cache_dir),
                invalid (an invalid config: jsonschema imported to word errors)
  create        `pyrunc create` + `pyrunc delete` wall time with the cache
                removed before each create (cold) or kept (warm); skipped
                without root, a rootfs or a working create (--no-create skips it)
  share         validation (timed after the cli and lifecycle imports, i.e.
                what create adds) / create wall time
  imports       `python -X importtime -m pyrunc ... state|kill|delete|start`:
                must not load jsonschema (nor pyrunc.config)

The package is byte-compiled first (as pip does on install): with
PYTHONDONTWRITEBYTECODE set, every run would otherwise pay for compiling
the sources, which no installed pyrunc does.
"""
from __future__ import annotations

import argparse
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
PY = sys.executable
ROOTFS = os.path.join(REPO, "bundles", "busybox", "rootfs")
CGROUP_PARENT = "pyrunc-valbench"   # our own parent: other benches use pyrunc-bench

_TIMED = r"""
import sys, time
if len(sys.argv) > 3:          # "in create": what the cli and lifecycle import anyway is not ours
    import pyrunc.cli.clickapp, pyrunc.lifecycle.create  # noqa: E401
t0 = time.perf_counter()
from pyrunc.config import load_bundle
from pyrunc.errors import ConfigError
try:
    load_bundle(sys.argv[1], cache_dir=sys.argv[2] or None, warn=lambda line: None)
except ConfigError:
    pass
t1 = time.perf_counter()
print((t1 - t0) * 1000.0, "jsonschema" in sys.modules)
"""


def make_bundle(where: str) -> str:
    with open(os.path.join(REPO, "bundles", "busybox", "config.json")) as f:
        cfg = json.load(f)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["true"]
    cfg["root"] = {"path": ROOTFS, "readonly": True}
    os.makedirs(where, exist_ok=True)
    with open(os.path.join(where, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return where


def set_cgroup(bundle: str, cid: str) -> None:
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/{cid}"
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)


def timed_load(bundle: str, cache_dir: str | None, in_create: bool = False) -> tuple[float, bool]:
    argv = [PY, "-c", _TIMED, bundle, cache_dir or ""] + (["in-create"] if in_create else [])
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    ms, imported = out.stdout.split()
    return float(ms), imported == "True"


def wall(argv) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=False)
    return (time.perf_counter() - t0) * 1000.0


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def bench_validation(bundle: str, runs: int) -> dict:
    cache_dir = tempfile.mkdtemp(prefix="pyrunc-valbench-cache-")
    res = {"cold": [], "warm": [], "nocache": [], "warm_in_create": [], "cold_in_create": [], "invalid": [],
           "jsonschema_on_warm": False, "jsonschema_on_cold": False, "jsonschema_on_invalid": True}
    invalid = make_bundle(tempfile.mkdtemp(prefix="pyrunc-valbench-bad-"))
    with open(os.path.join(invalid, "config.json")) as f:
        bad = json.load(f)
    bad["linux"]["namespaces"][0]["type"] = "pidd"
    with open(os.path.join(invalid, "config.json"), "w") as f:
        json.dump(bad, f)
    try:
        for _ in range(runs):
            shutil.rmtree(cache_dir, ignore_errors=True)
            ms, imported = timed_load(bundle, cache_dir)
            res["cold"].append(ms)
            res["jsonschema_on_cold"] |= imported
            ms, imported = timed_load(bundle, cache_dir)      # the cache is now warm
            res["warm"].append(ms)
            res["jsonschema_on_warm"] |= imported
            res["nocache"].append(timed_load(bundle, None)[0])
            res["warm_in_create"].append(timed_load(bundle, cache_dir, in_create=True)[0])
            shutil.rmtree(cache_dir, ignore_errors=True)
            res["cold_in_create"].append(timed_load(bundle, cache_dir, in_create=True)[0])
            ms, imported = timed_load(invalid, cache_dir)
            res["invalid"].append(ms)
            res["jsonschema_on_invalid"] &= imported
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
        shutil.rmtree(invalid, ignore_errors=True)
    return res


def pyrunc_argv(root: str, *args) -> list[str]:
    return [PY, "-m", "pyrunc", "--root", root, *args]


def bench_create(bundle: str, runs: int) -> dict | None:
    if os.geteuid() != 0 or not os.path.isdir(os.path.join(ROOTFS, "bin")):
        return None
    root = tempfile.mkdtemp(prefix="pyrunc-valbench-root-")
    res = {"cold": [], "warm": []}
    try:
        for mode in ("cold", "warm", "cold", "warm") * runs:
            if len(res[mode]) >= runs:
                continue
            cid = f"bench-{uuid.uuid4().hex[:8]}"
            set_cgroup(bundle, cid)
            if mode == "cold":
                shutil.rmtree(os.path.join(root, ".cache"), ignore_errors=True)
            else:   # the first warm run must really hit: validate this exact file once
                subprocess.run([PY, "-c", _TIMED, bundle, os.path.join(root, ".cache")], capture_output=True)
            # The container's init inherits create's stdio and lives on: a pipe would
            # never see EOF, so its output goes to a file.
            with tempfile.TemporaryFile() as log:
                t0 = time.perf_counter()
                try:
                    proc = subprocess.run(pyrunc_argv(root, "create", "--bundle", bundle, cid), stdout=log,
                                          stderr=log, stdin=subprocess.DEVNULL, timeout=60)
                    rc = proc.returncode
                except subprocess.TimeoutExpired:
                    rc = "timeout"
                took = (time.perf_counter() - t0) * 1000.0
                subprocess.run(pyrunc_argv(root, "delete", "--force", cid), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=60)
                if rc != 0:
                    log.seek(0)
                    print(f"  create failed ({rc}), skipping the create part: {log.read().decode()[:300]}")
                    return None
            res[mode].append(took)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        for ctrl in os.listdir("/sys/fs/cgroup"):
            parent = os.path.join("/sys/fs/cgroup", ctrl, CGROUP_PARENT)
            if os.path.isdir(parent):
                for leaf in os.listdir(parent):
                    if os.path.isdir(os.path.join(parent, leaf)) and leaf.startswith("bench-"):
                        try:
                            os.rmdir(os.path.join(parent, leaf))
                        except OSError:
                            pass
                try:
                    os.rmdir(parent)
                except OSError:
                    pass
    return res


def bench_imports() -> dict:
    """Per verb: did `-X importtime` show jsonschema / pyrunc.config, and the total import ms."""
    root = tempfile.mkdtemp(prefix="pyrunc-valbench-root-")
    out = {}
    try:
        for verb in (["state", "nosuch"], ["kill", "nosuch"], ["delete", "nosuch"], ["start", "nosuch"]):
            proc = subprocess.run([PY, "-X", "importtime", *pyrunc_argv(root, *verb)[1:]],
                                  capture_output=True, text=True)
            lines = [l for l in proc.stderr.splitlines()
                     if l.startswith("import time:") and l.split("|")[0].split(":")[1].strip().isdigit()]
            names = [l.split("|")[-1].strip() for l in lines]
            self_us = sum(int(l.split("|")[0].split(":")[1]) for l in lines)
            out[verb[0]] = {"jsonschema": any(n.split(".")[0] == "jsonschema" for n in names),
                            "pyrunc.config": any(n.startswith("pyrunc.config") for n in names),
                            "import_ms": self_us / 1000.0, "modules": len(names)}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--no-create", action="store_true", help="skip the pyrunc create part")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    subprocess.run([PY, "-m", "compileall", "-q", os.path.join(REPO, "pyrunc"), os.path.join(REPO, "spec")],
                   check=False, stdout=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="pyrunc-valbench-")
    try:
        bundle = make_bundle(os.path.join(work, "bundle"))
        base = median([wall([PY, "-c", "pass"]) for _ in range(args.runs)])
        val = bench_validation(bundle, args.runs)
        create = None if args.no_create else bench_create(bundle, args.runs)
        imports = bench_imports()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "runs": args.runs,
        "python_startup_ms": round(base, 1),
        "validation_ms": {k: round(median(val[k]), 2)
                          for k in ("cold", "warm", "nocache", "invalid", "cold_in_create", "warm_in_create")},
        "jsonschema_imported": {"cold": val["jsonschema_on_cold"], "warm": val["jsonschema_on_warm"],
                                "invalid": val["jsonschema_on_invalid"]},
        "create_ms": {k: round(median(v), 1) for k, v in create.items()} if create else None,
        "imports": imports,
    }
    if create:
        result["validation_share_of_create"] = {
            k: round(median(val[f"{k}_in_create"]) / median(create[k]), 3) for k in ("cold", "warm")}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    v = result["validation_ms"]
    print(f"python startup (python -c pass):        {base:7.1f} ms")
    print(f"load_bundle, cold cache (compiled):     {v['cold']:7.2f} ms   jsonschema imported: {val['jsonschema_on_cold']}")
    print(f"load_bundle, warm cache:                {v['warm']:7.2f} ms   jsonschema imported: {val['jsonschema_on_warm']}")
    print(f"load_bundle, no cache_dir:              {v['nocache']:7.2f} ms")
    print(f"load_bundle, invalid config (messages): {v['invalid']:7.2f} ms   jsonschema imported: {val['jsonschema_on_invalid']}")
    print(f"  the same after cli+container imports:  cold {v['cold_in_create']:.2f} ms, "
          f"warm {v['warm_in_create']:.2f} ms (what create adds)")
    if create:
        c, s = result["create_ms"], result["validation_share_of_create"]
        print(f"pyrunc create, cold cache:              {c['cold']:7.1f} ms   validation share {s['cold']:.1%}")
        print(f"pyrunc create, warm cache:              {c['warm']:7.1f} ms   validation share {s['warm']:.1%}")
    else:
        print("pyrunc create:                          (skipped)")
    for verb, info in imports.items():
        print(f"pyrunc {verb:<6} imports: {info['modules']:3d} modules, {info['import_ms']:6.1f} ms self time; "
              f"jsonschema: {'YES' if info['jsonschema'] else 'no'}, pyrunc.config: "
              f"{'YES' if info['pyrunc.config'] else 'no'}")
    bad = ([verb for verb, info in imports.items() if info["jsonschema"]] or val["jsonschema_on_warm"]
           or val["jsonschema_on_cold"])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
