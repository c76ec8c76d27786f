"""Samples -> the comparison table: median, min/max, pyrunc/runc ratio, and the
issue's targets. Pure: run.py hands in the samples, gets text and a summary.
"""
from __future__ import annotations

import statistics
import sys


def median_range(samples: list[float]) -> str:
    """Seconds as `median ms [min-max]`."""
    return (f"{statistics.median(samples) * 1000:7.1f} ms "
            f"[{min(samples) * 1000:.1f}-{max(samples) * 1000:.1f}]")


def left_behind(script: str, left: list[str]) -> int:
    """A bench script's exit status once it has cleaned up: 1 when the run
    left anything behind (listed on stderr), else 0."""
    if left:
        print(f"{script}: the run left behind:\n" + "\n".join(left), file=sys.stderr)
        return 1
    return 0


def side_by_side(pyrunc: list[float], runc: list[float]) -> str:
    """One line of bench/cri.py's and bench/podman.py's: both runtimes' seconds and the ratio."""
    ratio = statistics.median(pyrunc) / statistics.median(runc)
    return f"pyrunc {median_range(pyrunc)}  runc {median_range(runc)}  ratio {ratio:.2f}x"

# (scenario, metric, label, unit); unit "s" prints milliseconds, "kib" MiB
ROWS = [
    ("run", "seconds", "1. run /bin/true", "s"),
    ("run_unique", "seconds", "1b. run, config never seen before", "s"),
    ("cycle", "seconds", "2. create->start->delete", "s"),
    ("cycle", "create_s", "   create", "s"),
    ("cycle", "start_s", "   start", "s"),
    ("cycle", "delete_s", "   delete (stopped)", "s"),
    ("seq100", "seconds", "3. 100 sequential runs", "s"),
    ("conc20", "seconds", "4. 20 concurrent runs", "s"),
    ("skd", "state_s", "5. state", "s"),
    ("skd", "kill_s", "5. kill KILL", "s"),
    ("skd", "delete_s", "5. delete (after kill)", "s"),
    ("run", "cpu_s", "CPU (user+sys): run", "s"),
    ("run_unique", "cpu_s", "CPU: run, config never seen", "s"),
    ("cycle", "cpu_s", "CPU: create+start+delete", "s"),
    ("cycle", "create_cpu_s", "CPU: create", "s"),
    ("cycle", "start_cpu_s", "CPU: start", "s"),
    ("skd", "state_cpu_s", "CPU: state", "s"),
    ("skd", "kill_cpu_s", "CPU: kill", "s"),
    ("skd", "delete_cpu_s", "CPU: delete", "s"),
    ("skd", "bare_cpu_s", "CPU: python -I -S -c pass (pyrunc's)", "s"),
    ("rss", "run_rss_kib", "6. peak RSS: run", "kib"),
    ("rss", "create_rss_kib", "6. peak RSS: create", "kib"),
    ("rss", "start_rss_kib", "6. peak RSS: start", "kib"),
    ("rss", "state_rss_kib", "6. peak RSS: state", "kib"),
    ("rss", "kill_rss_kib", "6. peak RSS: kill", "kib"),
    ("rss", "delete_rss_kib", "6. peak RSS: delete", "kib"),
    ("cycle", "init_VmRSS_kib", "6. waiting init: VmRSS", "kib"),
    ("cycle", "init_VmHWM_kib", "6. waiting init: VmHWM", "kib"),
    ("cycle", "init_Pss_kib", "6. waiting init: Pss", "kib"),
    ("cycle", "init_Private_kib", "6. waiting init: Private", "kib"),
    ("run_sec", "seconds", "7. run, podman seccomp + resources", "s"),
    ("cycle_sec", "seconds", "7. create->start->delete, same", "s"),
    ("cycle_sec", "create_s", "   create", "s"),
    ("cycle_sec", "init_VmRSS_kib", "7. waiting init: VmRSS", "kib"),
]


def stats(values):
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize(samples):
    """samples[scenario][runtime] = [sample dict, ...] -> rows of stats."""
    rows = []
    for scenario, metric, label, unit in ROWS:
        per = samples.get(scenario)
        if not per:
            continue
        entry = {"scenario": scenario, "metric": metric, "label": label, "unit": unit}
        for rt in ("pyrunc", "runc"):
            entry[rt] = stats([s[metric] for s in per.get(rt, []) if metric in s])
        if entry["pyrunc"] is None and entry["runc"] is None:
            continue
        if entry["pyrunc"] and entry["runc"] and entry["runc"]["median"]:
            entry["ratio"] = entry["pyrunc"]["median"] / entry["runc"]["median"]
        rows.append(entry)
    return rows


def _fmt(value, unit):
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.1f}" if value < 10 else f"{value:.2f}s"
    return f"{value / 1024:.1f}"


def _cell(st, unit):
    if not st:
        return "-"
    return f"{_fmt(st['median'], unit)} [{_fmt(st['min'], unit)}-{_fmt(st['max'], unit)}]"


def table(rows):
    head = ("what (ms, or MiB)", "pyrunc median [min-max]", "runc median [min-max]", "ratio")
    lines = [head]
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "-"
        lines.append((r["label"], _cell(r["pyrunc"], r["unit"]), _cell(r["runc"], r["unit"]), ratio))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    out = []
    for n, line in enumerate(lines):
        out.append(" | ".join(line[i].ljust(widths[i]) for i in range(4)).rstrip())
        if n == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


def targets(rows, interpreter_s):
    """Issue 19's targets, each (label, value, limit, met). The hot verbs'
    target is CPU time above a bare `python -I -S -c pass` (what the launcher
    runs), measured in the same run (`interpreter_s`, absent with --no-profile)."""
    by = {(r["scenario"], r["metric"]): r for r in rows}
    out = []
    for key, label, limit in ((("run", "seconds"), "run /bin/true ratio", 1.0),
                              (("cycle", "seconds"), "create->start->delete ratio", 1.2),
                              (("seq100", "seconds"), "100 sequential ratio", 1.1),
                              (("conc20", "seconds"), "20 concurrent ratio", 1.2)):
        r = by.get(key)
        if r and r.get("ratio") is not None:
            out.append((label, f"{r['ratio']:.2f}", f"<= {limit}", r["ratio"] <= limit))
    bare = by.get(("skd", "bare_cpu_s"))
    base = bare["pyrunc"]["median"] if bare and bare["pyrunc"] else (interpreter_s or {}).get("python -I -S -c pass (cpu)")
    for key, label in ((("skd", "state_cpu_s"), "state"), (("cycle", "start_cpu_s"), "start"),
                       (("skd", "kill_cpu_s"), "kill"), (("skd", "delete_cpu_s"), "delete")):
        r = by.get(key)
        if r and r["pyrunc"] and base is not None:
            own = r["pyrunc"]["median"] - base
            out.append((f"{label} CPU - `python -I -S -c pass` (ms)", f"{own * 1000:.1f}", "<= 1.5", own <= 0.0015))
    for key, label in ((("cycle", "init_VmRSS_kib"), "waiting init VmRSS (MiB)"),
                       *(((("rss", f"{v}_rss_kib"), f"peak RSS of {v} (MiB)"))
                         for v in ("run", "create", "start", "state", "kill", "delete"))):
        r = by.get(key)
        if r and r["pyrunc"] and r["runc"]:
            out.append((label, f"{r['pyrunc']['median'] / 1024:.1f}", f"<= runc {r['runc']['median'] / 1024:.1f}",
                        r["pyrunc"]["median"] <= r["runc"]["median"]))
    return out


def targets_table(items):
    lines = ["target | value | limit | met"]
    for label, value, limit, met in items:
        lines.append(f"{label} | {value} | {limit} | {'yes' if met else 'NO'}")
    return "\n".join(lines)
