#!/usr/bin/env python3
"""`podman run --rm`, pyrunc vs runc: `sudo .venv/bin/python bench/podman.py`.

Issue 19's podman target: what a user of podman waits for, end to end, with
each runtime as podman's `--runtime`, side by side in one run. It reuses the
e2e suite's podman driver (tests/e2e/clients.py: a private containers.conf,
storage, run and tmp dirs, the busybox image imported there, no network,
a cgroup parent of its own), so it needs what those tests need (`scripts/test`
installs podman, conmon and the [test] extras).

Each round, for each runtime in turn (interleaved, so load drifts hit both):
`podman run --rm IMAGE true`, timed from the call to podman's exit (podman,
conmon, the runtime's create, start, state, delete; podman's own cleanup).
Prints median [min-max] per runtime and the pyrunc/runc ratio. Benchmarks,
not tests: nothing asserts a timing. Each podman instance's teardown lists
what it left behind; this exits 1 then.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import cgroup_leaks, support  # noqa: E402
from tests.e2e.clients import Podman  # noqa: E402
from bench.report import left_behind, side_by_side  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--pyrunc", default=str(REPO / ".venv" / "bin" / "pyrunc"), help="pyrunc command")
    p.add_argument("--runc", default="runc", help="runc command")
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        print("bench/podman.py: needs root", file=sys.stderr)
        return 2
    if not shutil.which("podman"):
        print("bench/podman.py: podman is not installed (scripts/test installs it)", file=sys.stderr)
        return 2
    paths = {"pyrunc": os.path.abspath(args.pyrunc), "runc": shutil.which(args.runc) or args.runc}
    clients = {name: Podman(Path(tempfile.mkdtemp(prefix=f"pyrunc-bench-podman-{name}-", dir="/tmp")), path)
               for name, path in paths.items()}
    times: dict[str, list[float]] = {name: [] for name in clients}
    left: list[str] = []
    try:
        for client in clients.values():
            client.setup()
        order = list(clients)
        for r in range(args.warmup + args.rounds):
            for name in (order if r % 2 == 0 else order[::-1]):
                client = clients[name]
                t0 = time.perf_counter()
                client.run("--rm", client.image, "true")
                if r >= args.warmup:
                    times[name].append(time.perf_counter() - t0)
    finally:
        for name, client in clients.items():
            left += [f"{name}: {item}" for item in client.teardown()]
        cgroup_leaks.remove_empty_parents("/sys/fs/cgroup", support.TEST_CGROUP_PARENT)
    print(f"podman run --rm (cgroup manager {clients['runc'].cgroup_manager}), {args.rounds} rounds, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(side_by_side(times["pyrunc"], times["runc"]) + "  (target <= 1.0x)")
    return left_behind("bench/podman.py", left)


if __name__ == "__main__":
    sys.exit(main())
