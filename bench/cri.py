#!/usr/bin/env python3
"""A Kubernetes pod start, pyrunc vs runc: `sudo .venv/bin/python bench/cri.py`.

Issue 19's CRI target: what kubelet waits for when it starts a pod, timed
through containerd's CRI with a RuntimeClass handler for each runtime, side
by side in one run. It reuses the CRI test harness (tests/e2e/cri/harness.py:
a private containerd with handlers `pyrunc` and `runc`, a CNI bridge in a
network namespace of its own, images from a loopback registry), so it needs
what the tests need (`scripts/test` installs it: containerd, CNI plugins,
docker-registry, the [test] extras).

Each round, for each handler in turn (interleaved, so load drifts hit both):
  pod start  RunPodSandbox (the pause container: the runtime's create+start,
             CNI) + CreateContainer + StartContainer of one busybox container
  pod stop   StopPodSandbox + RemovePodSandbox (the shim's kill, delete)
Prints median [min-max] per handler and the pyrunc/runc ratio. Benchmarks,
not tests: nothing asserts a timing. Everything the harness made is removed
at the end (its teardown lists any leftover, and this exits 1 then).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import cgroup_leaks, support  # noqa: E402
from tests.e2e.cri.harness import CriContainerd  # noqa: E402
from bench.report import left_behind, side_by_side  # noqa: E402

HANDLERS = ("pyrunc", "runc")


def one_pod(cri: CriContainerd, handler: str) -> tuple[float, float]:
    t0 = time.perf_counter()
    pod = cri.run_pod(handler)
    pod.run(["sleep", "1000"])
    t1 = time.perf_counter()
    pod.stop()
    pod.remove()
    return t1 - t0, time.perf_counter() - t1


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/cri.py: needs root (containerd, namespaces, cgroups)", file=sys.stderr)
        return 2
    cri = CriContainerd(Path(tempfile.mkdtemp(prefix="pyrunc-cri-", dir="/tmp")))
    times: dict[str, dict[str, list[float]]] = {h: {"start": [], "stop": []} for h in HANDLERS}
    left: list[str] = []
    try:
        cri.setup()
        cri.pull()
        for r in range(args.warmup + args.rounds):
            for h in (HANDLERS if r % 2 == 0 else HANDLERS[::-1]):
                start, stop = one_pod(cri, h)
                if r >= args.warmup:
                    times[h]["start"].append(start)
                    times[h]["stop"].append(stop)
    finally:
        left = cri.teardown()
        cgroup_leaks.remove_empty_parents("/sys/fs/cgroup", support.TEST_CGROUP_PARENT)
    print(f"CRI pods through containerd (SystemdCgroup = {cri.systemd}), "
          f"{args.rounds} rounds, load average {os.getloadavg()[0]:.2f}")
    for what in ("start", "stop"):
        print(f"pod {what:5}  " + side_by_side(times["pyrunc"][what], times["runc"][what])
              + ("  (target <= 1.0x)" if what == "start" else ""))
    return left_behind("bench/cri.py", left)


if __name__ == "__main__":
    sys.exit(main())
