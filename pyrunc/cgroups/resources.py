"""linux.resources -> cgroupfs writes: the pure table, one function per cgroup version.

`plan_v1` and `plan_v2` turn an OCI `linux.resources` dict into an ordered list
of `Write(controller, file, value)`; the drivers only execute the list. The few
decisions that depend on the live cgroup (runc's: raise memsw before memory
when growing, BFQ vs CFQ weight files, which kernel-memory files exist, the
usage check of `checkBeforeUpdate`) go through a `probe` that answers
`has(controller, file)` and `read(controller, file)`, so the whole table is
checked in unit tests against a fake cgroupfs or a dict.

The v1 <-> v2 conversions are runc's (`cgroups/utils.go`):
- cpu.shares -> cpu.weight: 1 + ((shares - 2) * 9999) / 262142
- blkio.weight -> io.weight: 1 + (weight - 10) * 9999 / 990 (BFQ takes it raw)
- memory.swap is memory+swap on v1; v2's memory.swap.max is swap - memory.

Fields a version cannot express are reported through `warn` and skipped, as
runc does, except `unified` on v1, which is an error.
"""
from __future__ import annotations

from pyrunc.records import dataclass  # dataclasses costs ~13 ms per create (pyrunc.records)

from pyrunc.errors import CgroupError

_U64_MAX = (1 << 64) - 1


@dataclass(frozen=True)
class Write:
    controller: str
    file: str
    value: str
    # skip (with a warning) when the file is absent or the kernel says
    # "not supported": kernel-memory files, blkio.leaf_weight
    optional: bool = False
    # cpu.cfs_period_us: on EINVAL retry after the quota write (runc cpu.go)
    retry_after_next: bool = False
    # cpu.shares: read back; the kernel clamps silently, runc reports it
    verify: bool = False
    # a missing file is an error (as in runc), said with this reason
    absent_hint: str = ""


class DictProbe:
    """A probe over {(controller, file): content}; what the unit tests pass."""

    def __init__(self, files: dict | None = None):
        self.files = dict(files or {})

    def has(self, controller: str, name: str) -> bool:
        return (controller, name) in self.files

    def read(self, controller: str, name: str) -> str | None:
        return self.files.get((controller, name))


def _int(v) -> int:
    return int(v)


def signed(v) -> int:
    """uint64 -1 spellings (18446744073709551615) back to -1."""
    v = int(v)
    return -1 if v == _U64_MAX else v


def cpu_shares_to_weight(shares: int) -> int:
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(swap: int, memory: int) -> int:
    """runc ConvertMemorySwapToCgroupV2Value; 0 = unset, -1 = max."""
    if memory == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap
    if memory in (0, -1):
        raise CgroupError("cgroup memory: linux.resources.memory.swap: cannot set a swap limit without a memory limit")
    if memory < 0:
        raise CgroupError(f"cgroup memory: linux.resources.memory.limit: invalid value {memory}")
    if swap < memory:
        raise CgroupError("cgroup memory: linux.resources.memory.swap: memory+swap limit must be >= the memory limit")
    return swap - memory


def _v2num(v: int) -> str:
    return "max" if v < 0 else str(v)


def _device(d: dict) -> str:
    return f"{int(d['major'])}:{int(d['minor'])}"


def _check_usage(limit: int, usage_text: str | None) -> None:
    if limit > 0 and usage_text is not None:
        usage = int(usage_text.split()[0])
        if limit < usage:
            raise CgroupError(
                f"cgroup memory: memory limit ({limit}) is less than current usage ({usage}) and checkBeforeUpdate is set")


def _no_warn(msg: str) -> None:
    pass


def demanded(res: dict | None, version: str) -> list[str]:
    """The files linux.resources would write, device rules aside (runc's
    rootless manager ignores those): the limits a container without a cgroup
    of its own cannot have."""
    res = {k: v for k, v in (res or {}).items() if k != "devices"}
    writes = plan_v2(res, DictProbe()) if version == "v2" else plan_v1(res, DictProbe())
    return [w.file for w in writes]


# ---------------------------------------------------------------------- v1


def plan_v1(res: dict | None, probe, *, update: bool = False, warn=_no_warn) -> list[Write]:
    res = res or {}
    if res.get("unified"):
        raise CgroupError("cgroup: linux.resources.unified: needs cgroup v2, but this host uses cgroup v1 controllers")
    out: list[Write] = []
    out += _v1_cpuset(res.get("cpu") or {})
    out += _v1_memory(res.get("memory") or {}, probe, update, warn)
    out += _v1_cpu(res.get("cpu") or {})
    out += _v1_pids(res.get("pids"))
    out += _v1_blkio(res.get("blockIO") or {}, probe)
    out += _v1_hugetlb(res.get("hugepageLimits") or [], probe)
    out += _v1_network(res.get("network") or {})
    out += _rdma(res.get("rdma") or {})
    return out


def _v1_cpuset(cpu: dict) -> list[Write]:
    out = []
    if cpu.get("cpus"):
        out.append(Write("cpuset", "cpuset.cpus", cpu["cpus"]))
    if cpu.get("mems"):
        out.append(Write("cpuset", "cpuset.mems", cpu["mems"]))
    return out


def _v1_memory(mem: dict, probe, update: bool, warn) -> list[Write]:
    out: list[Write] = []
    limit = signed(mem.get("limit", 0) or 0)
    swap = signed(mem.get("swap", 0) or 0)
    if update and mem.get("checkBeforeUpdate"):
        _check_usage(limit, probe.read("memory", "memory.usage_in_bytes"))
    # unlimited memory with swap unset means unlimited swap too (runc)
    if limit == -1 and swap == 0 and probe.has("memory", "memory.memsw.limit_in_bytes"):
        swap = -1
    mem_w = [Write("memory", "memory.limit_in_bytes", str(limit))] if limit else []
    swap_w = [Write("memory", "memory.memsw.limit_in_bytes", str(swap))] if swap else []
    swap_first = False
    if limit and swap:
        # memsw must stay >= memory at every step: when growing, raise memsw first
        cur = probe.read("memory", "memory.limit_in_bytes")
        cur_limit = int(cur.split()[0]) if cur and cur.strip().lstrip("-").isdigit() else 0
        swap_first = swap == -1 or (cur_limit >= 0 and cur_limit < swap)
    out += (swap_w + mem_w) if swap_first else (mem_w + swap_w)
    if mem.get("reservation"):
        out.append(Write("memory", "memory.soft_limit_in_bytes", str(signed(mem["reservation"]))))
    if mem.get("kernel"):
        out.append(Write("memory", "memory.kmem.limit_in_bytes", str(signed(mem["kernel"])), optional=True))
    if mem.get("kernelTCP"):
        out.append(Write("memory", "memory.kmem.tcp.limit_in_bytes", str(signed(mem["kernelTCP"])), optional=True))
    if mem.get("disableOOMKiller"):
        out.append(Write("memory", "memory.oom_control", "1"))
    sw = mem.get("swappiness")
    if sw is not None and signed(sw) != -1:
        sw = int(sw)
        if not 0 <= sw <= 100:
            raise CgroupError(f"cgroup memory: linux.resources.memory.swappiness: invalid value {sw} (valid range is 0-100)")
        out.append(Write("memory", "memory.swappiness", str(sw)))
    return out


def _v1_cpu(cpu: dict) -> list[Write]:
    out: list[Write] = []
    if cpu.get("shares"):
        out.append(Write("cpu", "cpu.shares", str(int(cpu["shares"])), verify=True))
    period = int(cpu.get("period") or 0)
    quota = signed(cpu.get("quota") or 0)
    if period:
        out.append(Write("cpu", "cpu.cfs_period_us", str(period), retry_after_next=bool(quota)))
    if quota:
        out.append(Write("cpu", "cpu.cfs_quota_us", str(quota)))
    if cpu.get("burst") is not None:
        out.append(Write("cpu", "cpu.cfs_burst_us", str(int(cpu["burst"]))))
    if cpu.get("realtimePeriod"):
        out.append(Write("cpu", "cpu.rt_period_us", str(int(cpu["realtimePeriod"]))))
    if cpu.get("realtimeRuntime"):
        out.append(Write("cpu", "cpu.rt_runtime_us", str(signed(cpu["realtimeRuntime"]))))
    if cpu.get("idle") is not None:
        out.append(Write("cpu", "cpu.idle", str(int(cpu["idle"]))))
    return out


def _v1_pids(pids: dict | None) -> list[Write]:
    if not pids or "limit" not in pids:
        return []
    limit = signed(pids["limit"])
    if limit == 0:  # runc 1.1: 0 means "not set"
        return []
    return [Write("pids", "pids.max", "max" if limit < 0 else str(limit))]


_NO_BLKIO_WEIGHT = ("this host has no proportional-weight I/O scheduler: "
                    "neither CFQ's blkio.weight nor BFQ's blkio.bfq.weight")
_NO_IO_WEIGHT = "this host has neither BFQ's io.bfq.weight nor io.cost's io.weight"


def _v1_blkio(bio: dict, probe) -> list[Write]:
    out: list[Write] = []
    # kernels without CFQ (5.0+) only have BFQ's files (runc detectWeightFilenames)
    # A kernel with neither (no proportional-weight scheduler at all) fails
    # the write of the BFQ file, as runc 1.1 does; the message says why.
    cfq = probe.has("blkio", "blkio.weight")
    weight_file = "blkio.weight" if cfq else "blkio.bfq.weight"
    weight_dev_file = "blkio.weight_device" if cfq else "blkio.bfq.weight_device"
    hint = "" if cfq else _NO_BLKIO_WEIGHT
    if bio.get("weight"):
        out.append(Write("blkio", weight_file, str(int(bio["weight"])), absent_hint=hint))
    if bio.get("leafWeight"):
        out.append(Write("blkio", "blkio.leaf_weight", str(int(bio["leafWeight"])), optional=True))
    for wd in bio.get("weightDevice") or []:
        if wd.get("weight"):
            out.append(Write("blkio", weight_dev_file, f"{_device(wd)} {int(wd['weight'])}", absent_hint=hint))
        if wd.get("leafWeight"):
            out.append(Write("blkio", "blkio.leaf_weight_device", f"{_device(wd)} {int(wd['leafWeight'])}", optional=True))
    for key, name in (("throttleReadBpsDevice", "read_bps_device"), ("throttleWriteBpsDevice", "write_bps_device"),
                      ("throttleReadIOPSDevice", "read_iops_device"), ("throttleWriteIOPSDevice", "write_iops_device")):
        for td in bio.get(key) or []:
            out.append(Write("blkio", f"blkio.throttle.{name}", f"{_device(td)} {int(td.get('rate', 0))}"))
    return out


def _v1_hugetlb(limits: list, probe) -> list[Write]:
    out = []
    for h in limits:
        size, limit = h["pageSize"], str(int(h["limit"]))
        out.append(Write("hugetlb", f"hugetlb.{size}.limit_in_bytes", limit))
        if probe.has("hugetlb", f"hugetlb.{size}.rsvd.limit_in_bytes"):
            out.append(Write("hugetlb", f"hugetlb.{size}.rsvd.limit_in_bytes", limit))
    return out


def _v1_network(net: dict) -> list[Write]:
    out = []
    if net.get("classID") is not None:
        out.append(Write("net_cls", "net_cls.classid", str(int(net["classID"]))))
    for p in net.get("priorities") or []:
        out.append(Write("net_prio", "net_prio.ifpriomap", f"{p['name']} {int(p['priority'])}"))
    return out


def _rdma(rdma: dict) -> list[Write]:
    out = []
    for dev in sorted(rdma):
        lim = rdma[dev] or {}
        parts = [dev]
        if lim.get("hcaHandles") is not None:
            parts.append(f"hca_handle={int(lim['hcaHandles'])}")
        if lim.get("hcaObjects") is not None:
            parts.append(f"hca_object={int(lim['hcaObjects'])}")
        if len(parts) > 1:
            out.append(Write("rdma", "rdma.max", " ".join(parts)))
    return out


# ---------------------------------------------------------------------- v2


def plan_v2(res: dict | None, probe, *, update: bool = False, warn=_no_warn) -> list[Write]:
    res = res or {}
    out: list[Write] = []
    cpu = res.get("cpu") or {}
    out += _v1_cpuset(cpu)
    out += _v2_memory(res.get("memory") or {}, probe, update, warn)
    out += _v2_cpu(cpu, warn)
    pids = _v1_pids(res.get("pids"))
    out += pids
    out += _v2_io(res.get("blockIO") or {}, probe, warn)
    for h in res.get("hugepageLimits") or []:
        size, limit = h["pageSize"], str(int(h["limit"]))
        out.append(Write("hugetlb", f"hugetlb.{size}.max", limit))
        if probe.has("hugetlb", f"hugetlb.{size}.rsvd.max"):
            out.append(Write("hugetlb", f"hugetlb.{size}.rsvd.max", limit))
    net = res.get("network") or {}
    if net.get("classID") is not None or net.get("priorities"):
        warn("linux.resources.network is ignored: cgroup v2 has no net_cls/net_prio controllers")
    out += _rdma(res.get("rdma") or {})
    out += _unified(res.get("unified") or {})
    return out


def _v2_memory(mem: dict, probe, update: bool, warn) -> list[Write]:
    out: list[Write] = []
    limit = signed(mem.get("limit", 0) or 0)
    swap = signed(mem.get("swap", 0) or 0)
    if update and mem.get("checkBeforeUpdate"):
        _check_usage(limit, probe.read("memory", "memory.current"))
    if limit or swap or mem.get("reservation"):
        v2swap = swap_to_v2(swap, limit)
        # swap is written first: lowering swap can never fail on memory's account
        if v2swap != 0 or swap > 0:
            out.append(Write("memory", "memory.swap.max", _v2num(v2swap)))
        if limit:
            out.append(Write("memory", "memory.max", _v2num(limit)))
        if mem.get("reservation"):
            out.append(Write("memory", "memory.low", _v2num(signed(mem["reservation"]))))
    for key in ("kernel", "kernelTCP"):
        if mem.get(key):
            warn(f"linux.resources.memory.{key} is ignored: cgroup v2 accounts kernel memory with memory.max")
    if mem.get("swappiness") is not None and signed(mem["swappiness"]) != -1:
        warn("linux.resources.memory.swappiness is ignored: cgroup v2 has no per-cgroup swappiness")
    if mem.get("disableOOMKiller"):
        warn("linux.resources.memory.disableOOMKiller is ignored: cgroup v2 cannot disable the OOM killer")
    return out


def _v2_cpu(cpu: dict, warn) -> list[Write]:
    out: list[Write] = []
    if cpu.get("shares"):
        out.append(Write("cpu", "cpu.weight", str(cpu_shares_to_weight(int(cpu["shares"])))))
    quota = signed(cpu.get("quota") or 0)
    period = int(cpu.get("period") or 0)
    if quota or period:
        out.append(Write("cpu", "cpu.max", f"{'max' if quota <= 0 else quota} {period or 100000}"))
    if cpu.get("burst") is not None:
        out.append(Write("cpu", "cpu.max.burst", str(int(cpu["burst"]))))
    if cpu.get("idle") is not None:
        out.append(Write("cpu", "cpu.idle", str(int(cpu["idle"]))))
    if cpu.get("realtimePeriod") or cpu.get("realtimeRuntime"):
        warn("linux.resources.cpu.realtime* is ignored: cgroup v2 has no realtime cpu controller")
    return out


def _v2_io(bio: dict, probe, warn) -> list[Write]:
    out: list[Write] = []
    bfq = probe.has("io", "io.bfq.weight")
    if bio.get("weight"):
        w = int(bio["weight"])
        out.append(Write("io", "io.bfq.weight", str(w)) if bfq
                   else Write("io", "io.weight", str(blkio_weight_to_io_weight(w)), absent_hint=_NO_IO_WEIGHT))
    if bio.get("leafWeight"):
        warn("linux.resources.blockIO.leafWeight is ignored: cgroup v2 has no leaf weights")
    for wd in bio.get("weightDevice") or []:
        if wd.get("weight"):
            if bfq:
                out.append(Write("io", "io.bfq.weight", f"{_device(wd)} {int(wd['weight'])}"))
            else:
                warn("linux.resources.blockIO.weightDevice is ignored: needs the BFQ io scheduler on cgroup v2")
    for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                      ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
        for td in bio.get(key) or []:
            out.append(Write("io", "io.max", f"{_device(td)} {name}={int(td.get('rate', 0))}"))
    return out


def _unified(unified: dict) -> list[Write]:
    out = []
    for key in sorted(unified):
        if "/" in key or key.startswith(".") or "." not in key:
            raise CgroupError(f"cgroup: linux.resources.unified: invalid key {key!r}")
        out.append(Write(key.split(".", 1)[0], key, str(unified[key])))
    return out
