"""The click commands `pause`, `resume`, `ps`, `update` and `events`: runc's
flags in, pyrunc.lifecycle.cgroup_verbs called, runc's output shapes out
(containerd and podman parse them). Registered by cli/clickapp.py
(register_verbs).
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import click

from pyrunc.errors import PyruncError, UsageError
from pyrunc.lifecycle import cgroup_verbs


@click.command()
@click.argument("container_id", required=False)
@click.pass_obj
def pause(obj, container_id):
    """Suspend all processes in the container (cgroup freezer)."""
    cgroup_verbs.pause(obj.opts, container_id)


@click.command()
@click.argument("container_id", required=False)
@click.pass_obj
def resume(obj, container_id):
    """Resume all processes of a paused container."""
    cgroup_verbs.resume(obj.opts, container_id)


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-f", "--format", "fmt", default="table", help="table or json")
@click.argument("container_id", required=False)
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def ps(obj, fmt, container_id, ps_args):
    """List the processes in the container (json: a list of host pids)."""
    if fmt not in ("table", "json"):
        raise UsageError("invalid format option")
    pids = cgroup_verbs.pids(obj.opts, container_id)
    if fmt == "json":
        # runc encodes an empty Go slice as null; containerd accepts both
        click.echo(json.dumps(pids or None, separators=(",", ":")))
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
    click.echo(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if fields and fields[idx].isdigit() and int(fields[idx]) in wanted:
            click.echo(line)


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


@click.command()
@click.option("-r", "--resources", "resources_file", default=None,
              help="a JSON file of linux.resources to apply ('-' for stdin)")
@click.option("--blkio-weight", default=None, help="per-cgroup block IO weight, 10 to 1000")
@click.option("--cpu-period", default=None, help="CPU CFS period (usecs)")
@click.option("--cpu-quota", default=None, help="CPU CFS quota (usecs) per period")
@click.option("--cpu-share", "--cpu-shares", "cpu_share", default=None, help="CPU shares (relative weight)")
@click.option("--cpu-rt-period", default=None, help="CPU realtime period (usecs)")
@click.option("--cpu-rt-runtime", default=None, help="CPU realtime runtime (usecs) per period")
@click.option("--cpu-idle", default=None, help="1 to make the cgroup SCHED_IDLE")
@click.option("--cpuset-cpus", default=None, help="CPUs to use")
@click.option("--cpuset-mems", default=None, help="memory nodes to use")
@click.option("--kernel-memory", default=None, hidden=True)
@click.option("--kernel-memory-tcp", default=None, hidden=True)
@click.option("--memory", default=None, help="memory limit (bytes, or 64m, 1g, ...)")
@click.option("--memory-reservation", default=None, help="memory soft limit")
@click.option("--memory-swap", default=None, help="memory+swap limit; -1 for unlimited swap")
@click.option("--pids-limit", default=None, help="maximum number of pids")
@click.option("--l3-cache-schema", default=None, hidden=True)
@click.option("--mem-bw-schema", default=None, hidden=True)
@click.argument("container_id", required=False)
@click.pass_obj
def update(obj, resources_file, container_id, l3_cache_schema, mem_bw_schema, **flags):
    """Update the resource limits of a container."""
    if l3_cache_schema or mem_bw_schema:
        raise UsageError("intel RDT is not supported")
    if resources_file:
        res = _read_resources(resources_file)
    else:
        res = resources_from_flags(flags)
    cgroup_verbs.update(obj.opts, container_id, res)


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


@click.command()
@click.option("--interval", default="5s", help="stats collection interval (e.g. 5s, 500ms)")
@click.option("--stats", is_flag=True, help="display the container's stats then exit")
@click.argument("container_id", required=False)
@click.pass_obj
def events(obj, interval, stats, container_id):
    """Display container events: OOM notifications and resource statistics."""
    period = parse_duration(interval)
    if stats:
        if period <= 0:
            raise UsageError("duration interval must be greater than 0")
        _emit("stats", container_id, cgroup_verbs.stats(obj.opts, container_id))
        return
    try:
        for kind, data in cgroup_verbs.events(obj.opts, container_id, period):
            _emit(kind, container_id, data)
    except BrokenPipeError:
        pass
