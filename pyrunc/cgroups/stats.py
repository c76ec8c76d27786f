"""Cgroup statistics in the shape of runc's `events --stats` (types.Stats).

Field names and omit-if-zero rules follow runc's JSON tags exactly so that a
consumer (containerd, podman) parses pyrunc's output the same way: Go's
`omitempty` drops zero numbers and empty lists/maps but never a struct, so
`cpu.usage`, `memory.usage` etc. are always present. Read-only and
failure-tolerant: a missing file reads as zero, like a stopped controller.
"""
from __future__ import annotations

import os

from pyrunc.cgroups import fsio

_U64_MAX = (1 << 64) - 1


def _omit(d: dict, *keys: str) -> dict:
    """Go omitempty on the given keys."""
    return {k: v for k, v in d.items() if not (k in keys and not v)}


def usage_entry(limit=0, usage=0, max_=0, failcnt=0) -> dict:
    return _omit({"limit": limit, "usage": usage, "max": max_, "failcnt": failcnt}, "usage", "max")


def empty() -> dict:
    return assemble({}, {}, {}, {}, {}, {}, {})


def assemble(cpu_usage, throttling, cpuset, memory, pids, blkio, hugetlb) -> dict:
    usage = {"total": 0, "percpu": [], "percpu_kernel": [], "percpu_user": [], "kernel": 0, "user": 0}
    usage.update(cpu_usage)
    thr = {"periods": 0, "throttledPeriods": 0, "throttledTime": 0}
    thr.update(throttling)
    cs = {"cpus": [], "cpu_exclusive": 0, "mems": [], "mem_hardwall": 0, "mem_exclusive": 0,
          "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0,
          "sched_load_balance": 0, "sched_relax_domain_level": 0}
    cs.update(cpuset)
    mem = {"cache": 0, "usage": usage_entry(), "swap": usage_entry(), "kernel": usage_entry(),
           "kernelTCP": usage_entry(), "raw": {}}
    mem.update(memory)
    return {
        "cpu": {"usage": _omit(usage, "total", "percpu", "percpu_kernel", "percpu_user"),
                "throttling": _omit(thr, "periods", "throttledPeriods", "throttledTime")},
        "cpuset": _omit(cs, "cpus", "mems"),
        "memory": _omit(mem, "cache", "raw"),
        "pids": _omit({"current": pids.get("current", 0), "limit": pids.get("limit", 0)}, "current", "limit"),
        "blkio": {k: v for k, v in blkio.items() if v},
        "hugetlb": hugetlb,
        "intel_rdt": {},
        "network_interfaces": None,
    }


def parse_cpu_list(text: str | None) -> list[int]:
    out: list[int] = []
    for part in (text or "").strip().split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def _blkio_entries(text: str | None) -> list[dict]:
    out = []
    for line in (text or "").splitlines():
        f = line.split()
        if len(f) == 3 and ":" in f[0]:
            maj, mnr = f[0].split(":")
            out.append(_omit({"major": int(maj), "minor": int(mnr), "op": f[1], "value": int(f[2])},
                             "major", "minor", "op", "value"))
    return out


def v1(paths: dict[str, str]) -> dict:
    """Stats from v1 hierarchies (controller -> directory)."""
    cpu_usage, thr, cpuset, memory, pids, blkio, hugetlb = {}, {}, {}, {}, {}, {}, {}
    acct = paths.get("cpuacct")
    if acct and os.path.isdir(acct):
        ticks = os.sysconf("SC_CLK_TCK")
        stat = fsio.read_keyed(acct, "cpuacct.stat")
        percpu = [int(x) for x in (fsio.read_opt(acct, "cpuacct.usage_percpu") or "").split()]
        pk, pu = [], []
        for line in (fsio.read_opt(acct, "cpuacct.usage_all") or "").splitlines()[1:]:
            f = line.split()
            if len(f) == 3:
                pu.append(int(f[1]))
                pk.append(int(f[2]))
        cpu_usage = {"total": fsio.read_int(acct, "cpuacct.usage"), "percpu": percpu,
                     "percpu_kernel": pk, "percpu_user": pu,
                     "kernel": stat.get("system", 0) * 1_000_000_000 // ticks,
                     "user": stat.get("user", 0) * 1_000_000_000 // ticks}
    cpu = paths.get("cpu")
    if cpu and os.path.isdir(cpu):
        st = fsio.read_keyed(cpu, "cpu.stat")
        thr = {"periods": st.get("nr_periods", 0), "throttledPeriods": st.get("nr_throttled", 0),
               "throttledTime": st.get("throttled_time", 0)}
    cs = paths.get("cpuset")
    if cs and os.path.isdir(cs):
        cpuset = {"cpus": parse_cpu_list(fsio.read_opt(cs, "cpuset.cpus")),
                  "mems": parse_cpu_list(fsio.read_opt(cs, "cpuset.mems"))}
        for key in ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
                    "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level"):
            cpuset[key] = fsio.read_int(cs, f"cpuset.{key}")
    m = paths.get("memory")
    if m and os.path.isdir(m):
        raw = fsio.read_keyed(m, "memory.stat")

        def entry(prefix: str) -> dict:
            return usage_entry(fsio.read_int(m, f"{prefix}.limit_in_bytes"), fsio.read_int(m, f"{prefix}.usage_in_bytes"),
                               fsio.read_int(m, f"{prefix}.max_usage_in_bytes"), fsio.read_int(m, f"{prefix}.failcnt"))
        memory = {"cache": raw.get("cache", 0), "usage": entry("memory"), "swap": entry("memory.memsw"),
                  "kernel": entry("memory.kmem"), "kernelTCP": entry("memory.kmem.tcp"), "raw": raw}
    p = paths.get("pids")
    if p and os.path.isdir(p):
        pids = {"current": fsio.read_int(p, "pids.current"), "limit": fsio.read_int(p, "pids.max")}
    b = paths.get("blkio")
    if b and os.path.isdir(b):
        # CFQ's recursive files when present, else BFQ's, else the throttle ones (runc)
        for prefix in ("blkio.", "blkio.bfq.", "blkio.throttle."):
            sb = _blkio_entries(fsio.read_opt(b, prefix + "io_service_bytes_recursive"))
            sv = _blkio_entries(fsio.read_opt(b, prefix + "io_serviced_recursive"))
            if sb or sv or prefix == "blkio.throttle.":
                blkio = {"ioServiceBytesRecursive": sb, "ioServicedRecursive": sv}
                break
    h = paths.get("hugetlb")
    if h and os.path.isdir(h):
        for name in sorted(os.listdir(h)):
            if name.startswith("hugetlb.") and name.endswith(".usage_in_bytes") and ".rsvd." not in name:
                size = name[len("hugetlb."):-len(".usage_in_bytes")]
                hugetlb[size] = _omit({"usage": fsio.read_int(h, name),
                                       "max": fsio.read_int(h, f"hugetlb.{size}.max_usage_in_bytes"),
                                       "failcnt": fsio.read_int(h, f"hugetlb.{size}.failcnt")}, "usage", "max")
    return assemble(cpu_usage, thr, cpuset, memory, pids, blkio, hugetlb)


def v2(d: str) -> dict:
    """Stats from one cgroup v2 directory."""
    cpu_usage, thr, cpuset, memory, pids, blkio, hugetlb = {}, {}, {}, {}, {}, {}, {}
    if not os.path.isdir(d):
        return assemble(cpu_usage, thr, cpuset, memory, pids, blkio, hugetlb)
    st = fsio.read_keyed(d, "cpu.stat")
    cpu_usage = {"total": st.get("usage_usec", 0) * 1000, "kernel": st.get("system_usec", 0) * 1000,
                 "user": st.get("user_usec", 0) * 1000}
    thr = {"periods": st.get("nr_periods", 0), "throttledPeriods": st.get("nr_throttled", 0),
           "throttledTime": st.get("throttled_usec", 0) * 1000}
    if fsio.exists(d, "cpuset.cpus.effective"):
        cpuset = {"cpus": parse_cpu_list(fsio.read_opt(d, "cpuset.cpus.effective")),
                  "mems": parse_cpu_list(fsio.read_opt(d, "cpuset.mems.effective"))}
    if fsio.exists(d, "memory.current"):
        raw = fsio.read_keyed(d, "memory.stat")
        events = fsio.read_keyed(d, "memory.events")
        usage = fsio.read_int(d, "memory.current")
        limit = fsio.read_int(d, "memory.max", _U64_MAX)
        swap = fsio.read_int(d, "memory.swap.current")
        swap_limit = fsio.read_int(d, "memory.swap.max", _U64_MAX)
        # v1 reports swap as memory+swap; runc adds them up for compatibility
        memory = {"cache": raw.get("file", 0),
                  "usage": usage_entry(limit, usage, fsio.read_int(d, "memory.peak"), events.get("max", 0)),
                  "swap": usage_entry(swap_limit if swap_limit == _U64_MAX else min(_U64_MAX, swap_limit + limit),
                                      swap + usage, 0, 0),
                  "raw": raw}
    if fsio.exists(d, "pids.current"):
        pids = {"current": fsio.read_int(d, "pids.current"), "limit": fsio.read_int(d, "pids.max")}
    sb, sv = [], []
    for line in (fsio.read_opt(d, "io.stat") or "").splitlines():
        f = line.split()
        if not f or ":" not in f[0]:
            continue
        maj, mnr = (int(x) for x in f[0].split(":"))
        kv = dict(x.split("=", 1) for x in f[1:] if "=" in x)
        for key, op, lst in (("rbytes", "Read", sb), ("wbytes", "Write", sb), ("rios", "Read", sv), ("wios", "Write", sv)):
            if key in kv:
                lst.append(_omit({"major": maj, "minor": mnr, "op": op, "value": int(kv[key])}, "major", "minor", "op", "value"))
    blkio = {"ioServiceBytesRecursive": sb, "ioServicedRecursive": sv}
    for name in sorted(os.listdir(d)):
        if name.startswith("hugetlb.") and name.endswith(".current") and ".rsvd." not in name:
            size = name[len("hugetlb."):-len(".current")]
            ev = fsio.read_keyed(d, f"hugetlb.{size}.events")
            hugetlb[size] = _omit({"usage": fsio.read_int(d, name), "max": 0, "failcnt": ev.get("max", 0)}, "usage", "max")
    return assemble(cpu_usage, thr, cpuset, memory, pids, blkio, hugetlb)
