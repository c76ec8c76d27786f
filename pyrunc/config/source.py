"""Reading config.json: bytes from the bundle, then JSON with a line:column error.

First step of validation (see pyrunc.config). Returns the raw bytes too: the
verdict cache is keyed by them. Import-light: stdlib only.
"""
from __future__ import annotations

import os

from pyrunc import jsonio
from pyrunc.config.findings import ERROR, Finding
from pyrunc.errors import ConfigUnreadable, NotJSON

# json's messages, reworded to the lower-case runc style of every other pyrunc error
_JSON_WORDING = (
    ("Expecting value", "expecting a value"),
    ("Expecting ',' delimiter", "expecting ','"),
    ("Expecting ':' delimiter", "expecting ':'"),
    ("Expecting property name enclosed in double quotes", "expecting a property name in double quotes"),
    ("Unterminated string starting at", "unterminated string"),
    ("Invalid control character at", "control character in a string (escape it)"),
    ("Invalid \\uXXXX escape", "invalid \\u escape"),
    ("Invalid \\escape", "invalid escape in a string"),
    ("Extra data", "extra data after the JSON document"),
    ("Illegal trailing comma before end of object", "trailing comma before '}'"),
    ("Illegal trailing comma before end of array", "trailing comma before ']'"),
)


def _reject_constant(name: str):
    raise NotJSON(f"{name} is not a JSON value")


def read_bytes(bundle_dir: str) -> bytes:
    path = os.path.join(bundle_dir, "config.json")
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        text = exc.strerror or "cannot read"
        reason = text[:1].lower() + text[1:]
        raise ConfigUnreadable(f"{path}: {reason}", reason) from None


def parse(raw: bytes) -> tuple[object, list[Finding]]:
    """(document, []) or (None, [the one parse finding])."""
    if not raw.strip():
        return None, [Finding("", ERROR, "file is empty")]
    try:
        return jsonio.loads(raw, parse_constant=_reject_constant), []
    except NotJSON as exc:
        return None, [Finding("", ERROR, f"invalid JSON: {exc}")]
    except UnicodeDecodeError as exc:
        return None, [Finding("", ERROR, f"invalid JSON: not UTF-8 (byte {exc.start})")]
    except ValueError as exc:  # json.JSONDecodeError (jsonio imports json only to raise it)
        if not hasattr(exc, "lineno"):
            raise
        wording = exc.msg  # type: ignore[attr-defined]  # a json.JSONDecodeError (see hasattr above)
        for prefix, ours in _JSON_WORDING:
            if wording.startswith(prefix):
                wording = ours
                break
        return None, [Finding("", ERROR, f"invalid JSON: {wording}", line=exc.lineno, column=exc.colno)]  # type: ignore[attr-defined]
    except RecursionError:
        return None, [Finding("", ERROR, "invalid JSON: nested too deeply")]
