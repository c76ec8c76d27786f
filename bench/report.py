"""Samples -> the comparison table: median, min/max, pyrunc/runc ratio, and the
issue's targets. Pure: run.py hands in the samples, gets text and a summary.
"""
from __future__ import annotations

import statistics

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
    """The issue's targets, each (label, value, limit, met)."""
    by = {(r["scenario"], r["metric"]): r for r in rows}
    out = []
    for key, label in ((("run", "seconds"), "run /bin/true ratio"),
                       (("cycle", "seconds"), "create->start->delete ratio"),
                       (("seq100", "seconds"), "100 sequential ratio")):
        r = by.get(key)
        if r and r.get("ratio") is not None:
            out.append((label, f"{r['ratio']:.2f}", "<= 1.5", r["ratio"] <= 1.5))
    interp = interpreter_s or {}
    for metric, label in (("state_s", "state"), ("delete_s", "delete"),
                          ("state_cpu_s", "state CPU"), ("delete_cpu_s", "delete CPU")):
        r = by.get(("skd", metric))
        base = interp.get("python -I -c pass" + (" (cpu)" if "cpu" in metric else ""))
        if r and r["pyrunc"] and r["runc"] and base is not None:
            own = r["pyrunc"]["median"] - base
            out.append((f"{label}: pyrunc - `python -I -c pass` (ms)", f"{own * 1000:.1f}",
                        f"<= runc {r['runc']['median'] * 1000:.1f}", own <= r["runc"]["median"]))
    r = by.get(("cycle", "init_VmRSS_kib"))
    if r and r["pyrunc"] and r["runc"]:
        out.append(("waiting init VmRSS (MiB)", f"{r['pyrunc']['median'] / 1024:.1f}",
                    f"<= runc {r['runc']['median'] / 1024:.1f}", r["pyrunc"]["median"] <= r["runc"]["median"]))
    return out


def targets_table(items):
    lines = ["target | value | limit | met"]
    for label, value, limit, met in items:
        lines.append(f"{label} | {value} | {limit} | {'yes' if met else 'NO'}")
    return "\n".join(lines)
