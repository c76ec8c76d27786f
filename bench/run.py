#!/usr/bin/env python3
"""pyrunc vs runc, side by side: `sudo .venv/bin/python bench/run.py [--quick]`.

The flow: build the bundles (runc spec + /bin/true over bundles/busybox/rootfs),
warm both runtimes up, then for each scenario take samples interleaved
(pyrunc, runc, pyrunc, runc, ...), then profile where pyrunc's own time goes.
Prints the table (median [min-max], ratio pyrunc/runc) and the issue's
targets, and writes everything to bench/results/<utc time>.json and
bench/results/latest.json. Private --root dirs in a temp dir, cgroups under
/pyrunc-bench/<runtime>/; all of it is removed at the end, also on failure.
Benchmarks, not tests: nothing here asserts a timing.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bundles as bundles_mod  # noqa: E402
import harness  # noqa: E402
import profile as prof_mod  # noqa: E402
import report  # noqa: E402
import scenarios as sc  # noqa: E402

REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pyrunc", default=os.path.join(REPO, ".venv", "bin", "pyrunc"), help="pyrunc command")
    p.add_argument("--runc", default=shutil.which("runc") or "runc", help="runc command")
    p.add_argument("--rounds", type=int, default=15, help="samples per runtime for the single-container scenarios")
    p.add_argument("--seq-rounds", type=int, default=3, help="samples of 100 sequential runs")
    p.add_argument("--conc-rounds", type=int, default=5, help="samples of 20 concurrent runs")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--gap", type=float, default=100.0,
                   help="idle ms before each sample (0: back to back; see README, 'The gap')")
    p.add_argument("--quick", action="store_true", help="5 rounds, 1 sample of 100 sequential, 2 of 20 concurrent")
    p.add_argument("--only", action="append", default=[],
                   help="scenario to run (repeatable): run run_unique cycle skd seq100 conc20 rss run_sec cycle_sec")
    p.add_argument("--no-profile", action="store_true", help="skip 'where the time goes'")
    p.add_argument("--out", default=None, help="JSON file (default bench/results/<time>.json)")
    a = p.parse_args(argv)
    if a.quick:
        a.rounds, a.seq_rounds, a.conc_rounds, a.warmup = 5, 1, 2, 2
    return a


def plan(args, have_seccomp):
    r = args.rounds
    items = [
        ("run", sc.run_true, {}, r),
        ("run_unique", sc.run_unique, {}, r),
        ("cycle", sc.cycle, {}, r),
        ("skd", sc.state_kill_delete, {}, r),
        ("seq100", sc.sequential, {"n": 100}, args.seq_rounds),
        ("conc20", sc.concurrent, {"n": 20}, args.conc_rounds),
    ]
    if os.access(harness.GNU_TIME, os.X_OK):
        items.append(("rss", sc.peak_rss, {}, 3))
    if have_seccomp:
        items += [("run_sec", sc.run_true, {"variant": "secres"}, r),
                  ("cycle_sec", sc.cycle, {"variant": "secres"}, r)]
    if args.only:
        items = [i for i in items if i[0] in args.only]
    return items


def git_rev():
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def first_line(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return "?"


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        sys.exit("bench: run as root (containers with cgroups)")
    bundles_mod.ensure_rootfs()
    harness.become_subreaper()
    workdir = tempfile.mkdtemp(prefix="pyrunc-bench-")
    spawner = harness.Spawner(workdir)
    runtimes = [harness.Runtime("pyrunc", args.pyrunc, spawner, workdir),
                harness.Runtime("runc", args.runc, spawner, workdir)]
    base = bundles_mod.runc_spec(args.runc)
    bset = bundles_mod.Bundles(workdir, base)
    profile, profile_src = bundles_mod.podman_seccomp()
    if profile is not None:
        bset.add_variant("secres", bundles_mod.with_security(base, profile))
    meta = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "host": platform.node(),
        "kernel": platform.release(), "cpus": os.cpu_count(), "git": git_rev(),
        "pyrunc": args.pyrunc, "pyrunc_launcher": open(args.pyrunc, "rb").readline().decode(errors="replace").strip(),
        "runc": first_line([args.runc, "--version"]), "rounds": args.rounds, "seq_rounds": args.seq_rounds,
        "conc_rounds": args.conc_rounds, "gap_ms": args.gap, "seccomp_profile": profile_src,
        "loadavg_before": os.getloadavg(),
    }
    samples, errors, prof, interp = {}, {}, {}, {}
    try:
        for name, fn, kw, rounds in plan(args, profile is not None):
            print(f"bench: {name} ({rounds} rounds)", file=sys.stderr, flush=True)
            samples[name] = {rt.name: [] for rt in runtimes}
            warm = 0 if name in ("seq100", "conc20") else args.warmup
            if name == "conc20":
                warm = 1
            for i in range(warm + rounds):
                for rt in runtimes:
                    if rt.name in errors.get(name, {}):
                        continue
                    # each sample starts from an idle kernel: right after the other
                    # runtime's cgroup.procs write, a write skips the RCU grace
                    # period that write would otherwise wait for (README: "The gap")
                    time.sleep(args.gap / 1000)
                    try:
                        sample = fn(rt, bset, workdir, **kw)
                    except Exception as exc:  # noqa: BLE001 - report, go on with the rest
                        errors.setdefault(name, {})[rt.name] = str(exc)
                        print(f"bench: {name} {rt.name}: {exc}", file=sys.stderr)
                        rt.cleanup()
                        continue
                    finally:
                        spawner.reap_orphans()
                    if i >= warm:
                        samples[name][rt.name].append(sample)
            spawner.forget()
        if not args.no_profile:
            print("bench: profile", file=sys.stderr, flush=True)
            try:
                interp = prof_mod.interpreter(args.pyrunc, args.runc)
                prof = prof_mod.profile_all(runtimes[0], bset, workdir, spawner, profile)
            except Exception as exc:  # noqa: BLE001
                errors["profile"] = {"pyrunc": f"{exc}"}
                traceback.print_exc()
    finally:
        for rt in runtimes:
            rt.cleanup()
        left = harness.remove_bench_cgroups()
        shutil.rmtree(workdir, ignore_errors=True)
        if left:
            print(f"bench: could not remove cgroups: {left}", file=sys.stderr)

    rows = report.summarize(samples)
    goals = report.targets(rows, interp)
    meta["loadavg_after"] = os.getloadavg()
    head = (f"pyrunc {meta['git']} vs {meta['runc']}; {meta['cpus']} CPUs, load average "
            f"{meta['loadavg_before'][0]:.1f} before, {meta['loadavg_after'][0]:.1f} after; "
            f"{args.rounds} rounds (interleaved, after {args.warmup} warm-up, {args.gap:g} ms idle before each)")
    text = [head, "", report.table(rows), "", report.targets_table(goals)]
    if interp or prof:
        text += ["", prof_mod.render(prof, interp)]
    for name, per in errors.items():
        for rt, msg in per.items():
            text.append(f"error: {name} {rt}: {msg}")
    print("\n".join(text))
    out = args.out or os.path.join(RESULTS, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + ".json")
    data = {"meta": meta, "rows": rows, "targets": goals, "interpreter": interp, "profile": prof,
            "errors": errors, "samples": samples, "table": "\n".join(text)}
    harness.write_json(out, data)
    if args.out is None:
        harness.write_json(os.path.join(RESULTS, "latest.json"), data)
    print(f"\nbench: results in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
