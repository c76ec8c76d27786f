"""Loading and validating a bundle's config.json: the first step of create/run.

Flow (parent side, before anything exists — ARCHITECTURE "the parent does
everything a user can make fail before the first fork"):

    read bytes -> parse JSON -> schema (spec/) -> checks/ (every user-fixable rule)
                                  |
         verdict cache hit: skip  |  miss: compiled validator (fastcheck);
                                  |  only "invalid" goes to jsonschema for messages

The contract the lifecycle relies on:

    load(bundle_dir, *, cache_dir=None, warn=None, debug=None) -> Loaded
    load_bundle(bundle_dir, *, cache_dir=None, warn=None) -> dict

`load` returns the config (`.config`) and what the checks already built for
create (`.seccomp`, the compiled filter); `load_bundle` the config alone. The
config is the parsed document with JSON nulls in objects read as Go reads
them (an absent field; "" in a string map). Either raises ConfigError whose message is
one line (`config.json: process.args: must be a non-empty array`, plus
` (and N more problems)`) and whose `findings` hold every problem. Each
warning finding is passed to `warn(line)` (default: `pyrunc: warning: <line>`
on stderr). `cache_dir` (a directory under --root) enables the verdict cache:
see pyrunc.config.cache. `pyrunc validate` uses `check_bundle`: the same
pipeline (checks.pipeline.CHECKS), so validate accepts exactly what create accepts.

Import-light on purpose: importing the package loads nothing but
pyrunc.config.findings, so `exec` can run pyrunc.config.checks.process
alone; load() and check_bundle() import the pipeline when called (stdlib
os, json, errno and fcntl; sha256 comes from the interpreter's built-in
module, not hashlib, which loads OpenSSL); jsonschema (50-70 ms) is imported
by pyrunc.config.schema only for a config that is invalid, and by `pyrunc
validate`.
"""
from __future__ import annotations

from pyrunc.config.findings import ERROR, SEVERITIES, STRICT, WARNING, Finding, summary
from pyrunc.errors import ConfigError

__all__ = ["load", "load_bundle", "check_bundle", "Loaded", "Finding", "ERROR", "WARNING", "STRICT", "SEVERITIES"]


def _stderr_warning(line: str) -> None:
    from pyrunc.log import to_stderr
    to_stderr(f"pyrunc: warning: {line}\n")


class Loaded:
    """What load() hands create: the config, and the seccomp filter the checks compiled."""

    __slots__ = ("config", "seccomp")

    def __init__(self, config: dict, seccomp):
        self.config = config
        self.seccomp = seccomp


def check_bundle(bundle_dir: str, *, cache_dir: str | None = None, strict: bool = False,
                 thorough: bool = False) -> tuple[dict | None, list[Finding]]:
    """(config or None when it is unusable, every finding in report order).

    `strict` adds the --strict listing; `thorough` always runs jsonschema (the
    reference) instead of trusting the compiled validator's "valid".
    Raises ConfigError only when config.json cannot be read at all.
    """
    doc, found, _ctx = _check(bundle_dir, cache_dir=cache_dir, strict=strict, thorough=thorough)
    return doc, found


def _check(bundle_dir, *, cache_dir=None, strict=False, thorough=False, debug=None):
    import os

    from pyrunc.config import cache as _cache
    from pyrunc.config import schema as _schema
    from pyrunc.config.checks import pipeline
    from pyrunc.config.source import parse, read_bytes
    from pyrunc.errors import ConfigUnreadable
    try:
        raw = read_bytes(bundle_dir)
    except ConfigUnreadable as exc:
        raise ConfigError(exc.message, [Finding("", ERROR, f"cannot read: {exc.reason}")]) from None
    doc, found = parse(raw)
    if found:
        return None, found, None
    nulls = ()
    if b"null" in raw:   # (a byte scan: configs without a null pay nothing)
        from pyrunc.config import nulls as _nulls
        nulls = _nulls.drop(doc)
    key = _cache.key_for(_schema.digest(), raw) if cache_dir else None
    if key is None or not _cache.seen_valid(cache_dir, key):
        # the compiled validator answers valid configs without jsonschema; jsonschema
        # (the reference) decides and words the errors when it says no or cannot say
        from pyrunc.config import fastcheck  # only on a miss: a hit skips validation
        if thorough or fastcheck.is_valid(doc) is not True:
            found = _schema.check(doc)
        if not found and key is not None:
            _cache.remember_valid(cache_dir, key)
    # The rules of checks/ read the host (rootfs, namespace files), so they are never
    # cached. They assume schema types: after schema errors they run best-effort,
    # so one report lists both kinds.
    ctx = pipeline.Context(os.path.abspath(bundle_dir), cache_dir=cache_dir, debug=debug)
    if not any(f.path in _SECTIONS for f in found):
        more = pipeline.check(doc, ctx, best_effort=bool(found))
        found = found + [f for f in more if not _covered(f.path, found)]
    if strict:
        from pyrunc.config import strict as _strict
        found = found + _strict.check(doc, _schema.schema(), nulls=nulls)
    valid = not any(f.severity == ERROR for f in found)
    # errors first (most useful), then warnings, then the --strict listing; stable within
    found.sort(key=lambda f: SEVERITIES.index(f.severity))
    return (doc if valid else None), found, ctx


# When one of these is itself malformed (e.g. "linux": []), rules relating its
# parts (hostname needs a UTS namespace, ...) would only add misleading noise.
_SECTIONS = frozenset(("", "root", "process", "linux", "hooks", "mounts", "annotations"))


def _covered(path: str, schema_findings: list[Finding]) -> bool:
    """A finding of checks/ at, below or above a place the schema already flagged
    says nothing new (process.ioPriority is bad because its .class is)."""
    for f in schema_findings:
        if not f.path or _within(path, f.path) or _within(f.path, path):
            return True
    return False


def _within(path: str, top: str) -> bool:
    return path == top or path.startswith((top + ".", top + "["))


def load_bundle(bundle_dir: str, *, cache_dir: str | None = None, warn=None) -> dict:
    """Parse and validate `<bundle_dir>/config.json`; see the module docstring."""
    return load(bundle_dir, cache_dir=cache_dir, warn=warn).config


def load(bundle_dir: str, *, cache_dir: str | None = None, warn=None, debug=None) -> Loaded:
    """Parse and validate `<bundle_dir>/config.json` for create; see the module docstring."""
    cfg, found, ctx = _check(bundle_dir, cache_dir=cache_dir, debug=debug)
    if cfg is None:
        raise ConfigError(summary(found), found)
    report = warn if warn is not None else _stderr_warning
    for finding in found:
        # capabilities are reported once, in runc's one line, when create
        # resolves them (checks.process.report_capabilities); `validate` lists each
        if finding.severity == WARNING and not finding.path.startswith("process.capabilities"):
            report(finding.text())
    return Loaded(cfg, ctx.seccomp)
