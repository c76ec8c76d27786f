"""`pyrunc validate`'s body (a handler of the verb table, pyrunc.cli.verbs):
check a bundle's config.json without creating anything.

Over pyrunc.api.validate, the report Runtime.validate returns, and so
pyrunc.config.check_bundle (the same checks create runs;
no verdict cache, and always jsonschema, the reference validator). Exit 0 when the
bundle would be accepted (warnings allowed), 1 when not; with --strict, the
things the spec lets a runtime ignore (unknown fields, unknown annotation
keys, other platforms' sections) are listed and also make it exit 1.

`--format json` prints one JSON object (documented in the README, stable):
    {"format": 1, "bundle": "/abs/dir", "valid": bool, "strict": bool,
     "counts": {"error": n, "warning": n, "strict": n},
     "findings": [{"severity": "error"|"warning"|"strict", "path": "linux.namespaces[2].type",
                   "message": "...", "line": n, "column": n}]}   # line/column: invalid JSON only
"""
from __future__ import annotations

import json

TEXT_LIMIT = 50   # a config with thousands of broken entries should not flood a terminal


def run_validate(opts, values, args, log) -> int:
    """`validate [-b DIR] [--strict] [--format text|json]`: 0 valid, 1 not."""
    from pyrunc.api import validate
    from pyrunc.config import ERROR, STRICT, WARNING

    report = validate(values["bundle"], strict=values["strict"])
    findings, counts, valid, bundle_dir = report.findings, report.counts, report.valid, report.bundle
    if values["format"] == "json":
        print(json.dumps(report.as_dict(), indent=2))
    else:
        for f in findings[:TEXT_LIMIT]:
            print(f"{f.severity}: {f.text()}")
        if len(findings) > TEXT_LIMIT:
            print(f"... {len(findings) - TEXT_LIMIT} more not shown (--format json lists all)")
        parts = [f"{counts[ERROR]} error{'' if counts[ERROR] == 1 else 's'}" if counts[ERROR] else "",
                 f"{counts[WARNING]} warning{'' if counts[WARNING] == 1 else 's'}" if counts[WARNING] else "",
                 f"{counts[STRICT]} strict" if counts[STRICT] else ""]
        parts = [p for p in parts if p]
        tail = f" ({', '.join(parts)})" if parts else ""
        print(f"{bundle_dir}: {'valid' if valid else 'invalid'}{tail}")
    return 0 if valid else 1
