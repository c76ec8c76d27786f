#!/usr/bin/env python3
"""CPU of the lifecycle verbs for several pyrunc commands, interleaved:
`bench/launchers.py [--rounds N] LAUNCHER...` (as root).

Each round runs, for every launcher in turn (the order rotates from round to
round), create, start, state, kill KILL and delete of a busybox `sleep`,
then `run` of /bin/true, and
takes each command's user+system CPU time from wait4's rusage. Printed: the
median per launcher and verb. Interleaving is what makes two builds
comparable on a machine other work shares: a load that comes and goes hits
every launcher alike, where two separate `bench/run.py` runs meet different
loads. Made to compare launchers (scripts/write-launcher with and without its
bundle, an older checkout's); README "One file for pyrunc's modules".
Place in the bench: stand-alone, beside run.py (which compares with runc).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bundles  # noqa: E402

VERBS = ("create", "start", "state", "kill", "delete", "run")
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}  # as shims call the runtime: a bare environment


def cpu_ms(argv):
    """User+system CPU of one command (and what it reaped), in ms."""
    # stderr to a file: a created init keeps create's stdio open
    with tempfile.TemporaryFile("w+") as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=ENV)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode:
            err.seek(0)
            sys.exit(f"{' '.join(argv)}: exit {proc.returncode}: {err.read().strip()}")
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def wait_stopped(launcher, root, cid):
    for _ in range(500):
        out = subprocess.run([launcher, "--root", root, "state", cid], capture_output=True, text=True, env=ENV)
        if json.loads(out.stdout or "{}").get("status") == "stopped":
            return
        time.sleep(0.01)
    sys.exit(f"{cid}: not stopped 5 s after kill KILL")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=150)
    ap.add_argument("launchers", nargs="+")
    args = ap.parse_args()
    bundles.ensure_rootfs()
    true = bundles.runc_spec()  # /bin/true, for run
    cfg = bundles.runc_spec()
    cfg["process"]["args"] = ["sleep", "1000"]
    tmp = tempfile.mkdtemp(prefix="pyrunc-launchers-")
    samples = {(launcher, verb): [] for launcher in args.launchers for verb in VERBS}
    live = []
    try:
        for j, _ in enumerate(args.launchers):
            bundles.write_bundle(f"{tmp}/bundle{j}", cfg, f"/pyrunc-bench/launchers-{j}")
            bundles.write_bundle(f"{tmp}/true{j}", true, f"/pyrunc-bench/launchers-run-{j}")
        for i in range(args.rounds):
            k = i % len(args.launchers)
            for launcher in args.launchers[k:] + args.launchers[:k]:
                j = args.launchers.index(launcher)
                root, cid = f"{tmp}/root{j}", f"c{i}"
                base = [launcher, "--root", root]
                live.append((launcher, root, cid))
                samples[(launcher, "create")].append(cpu_ms([*base, "create", "--bundle", f"{tmp}/bundle{j}", cid]))
                samples[(launcher, "start")].append(cpu_ms([*base, "start", cid]))
                samples[(launcher, "state")].append(cpu_ms([*base, "state", cid]))
                samples[(launcher, "kill")].append(cpu_ms([*base, "kill", cid, "KILL"]))
                wait_stopped(launcher, root, cid)
                samples[(launcher, "delete")].append(cpu_ms([*base, "delete", cid]))
                live.pop()
                samples[(launcher, "run")].append(cpu_ms([*base, "run", "--bundle", f"{tmp}/true{j}", f"r{i}"]))
    finally:
        for launcher, root, cid in live:
            subprocess.run([launcher, "--root", root, "delete", "--force", cid], capture_output=True, env=ENV)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"CPU (user+sys, ms), medians of {args.rounds} interleaved rounds; load average {os.getloadavg()[0]:.1f}")
    width = max(len(launcher) for launcher in args.launchers)
    print(f"{'launcher':{width}s} " + " ".join(f"{verb:>7s}" for verb in VERBS))
    for launcher in args.launchers:
        print(f"{launcher:{width}s} " + " ".join(f"{statistics.median(samples[(launcher, v)]):7.2f}" for v in VERBS))


if __name__ == "__main__":
    main()
