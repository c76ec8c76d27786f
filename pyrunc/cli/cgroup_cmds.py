"""The bodies of `ps`, `update` and `events` (handlers of the verb table,
pyrunc.cli.verbs): runc's flag syntax in (sizes, durations),
pyrunc.lifecycle.cgroup_verbs called, runc's output shapes out (containerd
and podman parse them). pause/resume are glue, in the table itself.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

from pyrunc.errors import PyruncError, UsageError
from pyrunc.lifecycle import cgroup_verbs


def run_ps(opts, values, args, log):
    """`ps [-f table|json] ID [ps options...]`"""
    fmt, (container_id, ps_args) = values["format"], args
    if fmt not in ("table", "json"):
        raise UsageError("invalid format option")
    pids = cgroup_verbs.pids(opts, container_id)
    if fmt == "json":
        # runc encodes an empty Go slice as null; containerd accepts both
        print(json.dumps(pids or None, separators=(",", ":")))
        return
    try:
        proc = subprocess.run(["ps", *(ps_args or ("-ef",))], capture_output=True, text=True)
    except OSError as exc:
        raise PyruncError(f"ps: {exc.strerror.lower()}") from None
    if proc.returncode != 0:
        raise PyruncError(f"ps: exit status {proc.returncode}: {(proc.stdout + proc.stderr).strip()}")
    lines = proc.stdout.split("\n")
    titles = lines[0].split()
    if "PID" not in titles:
        raise PyruncError("couldn't find PID field in ps output")
    idx = titles.index("PID")
    wanted = set(pids)
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if fields and fields[idx].isdigit() and int(fields[idx]) in wanted:
            print(line)


# -- update ----------------------------------------------------------------------

_RAM = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")


def ram_in_bytes(text: str, flag: str) -> int:
    """docker's units.RAMInBytes: "64m", "1.5G", "512KiB" (binary multiples); "-1" unlimited."""
    if text == "-1":
        return -1
    m = _RAM.match(text.strip())
    if not m:
        raise UsageError(f"invalid value for {flag}: invalid size: '{text}'")
    mult = 1024 ** (" kmgtp".index(m.group(2).lower()) if m.group(2) else 0)
    return int(float(m.group(1)) * mult)


def _int(text, flag, unsigned=False):
    try:
        v = int(text)
    except ValueError:
        raise UsageError(f"invalid value for {flag}: {text!r} is not a number") from None
    if unsigned and v < 0:
        raise UsageError(f"invalid value for {flag}: must not be negative")
    return v


def resources_from_flags(flags: dict) -> dict:
    """runc update's individual flags -> a partial linux.resources dict."""
    res: dict = {}
    mem, cpu = {}, {}
    for flag, key in (("memory", "limit"), ("memory_swap", "swap"), ("memory_reservation", "reservation"),
                      ("kernel_memory", "kernel"), ("kernel_memory_tcp", "kernelTCP")):
        if flags.get(flag):
            mem[key] = ram_in_bytes(flags[flag], "--" + flag.replace("_", "-"))
    for flag, key, unsigned in (("cpu_period", "period", True), ("cpu_rt_period", "realtimePeriod", True),
                                ("cpu_share", "shares", True), ("cpu_quota", "quota", False),
                                ("cpu_rt_runtime", "realtimeRuntime", False), ("cpu_idle", "idle", False)):
        if flags.get(flag):
            cpu[key] = _int(flags[flag], "--" + flag.replace("_", "-"), unsigned)
    for flag, key in (("cpuset_cpus", "cpus"), ("cpuset_mems", "mems")):
        if flags.get(flag):
            cpu[key] = flags[flag]
    if mem:
        res["memory"] = mem
    if cpu:
        res["cpu"] = cpu
    if flags.get("blkio_weight"):
        res["blockIO"] = {"weight": _int(flags["blkio_weight"], "--blkio-weight", True)}
    if flags.get("pids_limit"):
        res["pids"] = {"limit": _int(flags["pids_limit"], "--pids-limit")}
    return res


def run_update(opts, values, args, log):
    """`update [-r FILE | --memory ... ] ID`"""
    if values["l3-cache-schema"] or values["mem-bw-schema"]:
        raise UsageError("intel RDT is not supported")
    if values["resources"]:
        res = _read_resources(values["resources"])
    else:
        res = resources_from_flags({name.replace("-", "_"): v for name, v in values.items()})
    cgroup_verbs.update(opts, args[0], res)


def _read_resources(path: str) -> dict:
    try:
        text = sys.stdin.read() if path == "-" else open(path).read()
    except OSError as exc:
        raise PyruncError(f"{path}: {exc.strerror.lower()}") from None
    try:
        res = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"{path}: invalid JSON: {exc}") from None
    if not isinstance(res, dict):
        raise UsageError(f"{path}: must hold a JSON object of linux.resources")
    return res


# -- events ----------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration subset: "5s", "100ms", "1m30s"."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise UsageError(f'invalid value "{text}" for flag -interval: parse error')
    return sum(float(n) * _UNIT[u] for n, u in parts)


def _emit(kind: str, cid: str, data=None) -> None:
    event = {"type": kind, "id": cid}
    if data is not None:
        event["data"] = data
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def run_events(opts, values, args, log):
    """`events [--interval D] [--stats] ID`"""
    container_id = args[0]
    period = parse_duration(values["interval"])
    if values["stats"]:
        if period <= 0:
            raise UsageError("duration interval must be greater than 0")
        _emit("stats", container_id, cgroup_verbs.stats(opts, container_id))
        return
    try:
        for kind, data in cgroup_verbs.events(opts, container_id, period):
            _emit(kind, container_id, data)
    except BrokenPipeError:
        pass
