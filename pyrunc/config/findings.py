"""Findings: what validation found, each tied to a JSON path in config.json.

Every check in pyrunc.config (JSON parsing, the schema, the rules of
pyrunc.config.checks, the --strict listing) reports `Finding`s; `load_bundle` turns the errors into
one ConfigError and hands the warnings to its `warn` callback, `pyrunc
validate` prints them all. Import-light: os and pyrunc.jsonio only.
"""
from __future__ import annotations

import os

from pyrunc import jsonio


ERROR = "error"
WARNING = "warning"
STRICT = "strict"   # unknown field or annotation key: fine for the spec, listed by --strict
SEVERITIES = (ERROR, WARNING, STRICT)

FILE = "config.json"


class Finding:
    """One problem: `path` like `linux.namespaces[2].type` ("" = the whole document)."""

    __slots__ = ("path", "severity", "message", "line", "column")

    def __init__(self, path: str, severity: str, message: str, *, line: int | None = None,
                 column: int | None = None):
        self.path = path
        self.severity = severity
        self.message = message
        self.line = line
        self.column = column

    def text(self) -> str:
        """The line a user sees: `config.json: process.args: must be a non-empty array`."""
        if self.line is not None:
            return f"{FILE}:{self.line}:{self.column}: {self.message}"
        if self.path:
            return f"{FILE}: {self.path}: {self.message}"
        return f"{FILE}: {self.message}"

    def to_json(self) -> dict:
        out = {"severity": self.severity, "path": self.path, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
            out["column"] = self.column
        return out

    def __repr__(self) -> str:   # for test failure output only; users never see it
        return f"Finding({self.severity}: {self.text()})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Finding) and self.to_json() == other.to_json()

    __hash__ = None


def error(path: str, message: str) -> Finding:
    return Finding(path, ERROR, message)


def warning(path: str, message: str) -> Finding:
    return Finding(path, WARNING, message)


def strict(path: str, message: str) -> Finding:
    return Finding(path, STRICT, message)


def os_reason(exc: OSError) -> str:
    """An OSError as the end of a finding: `no such file or directory`."""
    text = exc.strerror or os.strerror(exc.errno or 0)
    return text[:1].lower() + text[1:]


def finding_of(exc) -> Finding:
    """A ConfigError raised by a module the pipeline calls (libseccomp's refusals, through pyrunc.security.seccomp.compile), as a finding.

    Its message is `config.json: <path>: <text>`; the path is everything up to
    the first ": " after the file name.
    """
    text = str(exc)
    prefix = FILE + ": "
    if text.startswith(prefix):
        path, sep, rest = text[len(prefix):].partition(": ")
        if sep and " " not in path:
            return Finding(path, ERROR, rest)
        return Finding("", ERROR, text[len(prefix):])
    return Finding("", ERROR, text)


def jpath(*parts) -> str:
    """JSON path text: jpath("linux", "namespaces", 2, "type") -> linux.namespaces[2].type.

    Keys that are not plain identifiers are quoted: linux.sysctl["net.ipv4.ip_forward"].
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part and part.replace("_", "a").isalnum() and part.isascii() and not part[0].isdigit():
            out += f".{part}" if out else part
        else:
            out += f"[{jsonio.dumps(part, ensure_ascii=False)}]"
    return out


def show(value, limit: int = 60) -> str:
    """A value as the user wrote it in JSON, shortened; containers are named, not dumped."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = jsonio.dumps(value, ensure_ascii=False)
    if len(text) > limit:
        text = text[: limit - 4] + '..."' if isinstance(value, str) else text[:limit] + "..."
    return text


def json_type(value) -> str:
    """The JSON type name of a parsed value (what the user wrote, in JSON words)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal number"   # 1.0 too: Go's decoder refuses it for integer fields
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def summary(findings: list[Finding]) -> str:
    """One line for ConfigError: the first error, then how many more there are."""
    errors = [f for f in findings if f.severity == ERROR]
    first = errors[0].text()
    rest = len(errors) - 1
    if rest == 1:
        return f"{first} (and 1 more problem)"
    if rest > 1:
        return f"{first} (and {rest} more problems)"
    return first
