"""The schema step: config.json against our runtime-spec schema (spec/, shipped as pyrunc.spec).

The reference validator. Called by pyrunc.config only when the compiled
validator (fastcheck) says "invalid" (or cannot compile the schema), and by
`pyrunc validate`: importing jsonschema costs 50-70 ms, so it is imported
inside `validator()` and nowhere at module level. jsonschema's own messages embed Python reprs (`'cwd' is a required
property`, `[] is too short`); `_finding()` words each error from its
structured fields instead, with the JSON path of the place it points at.
"""
from __future__ import annotations

import os

from pyrunc import jsonio
from pyrunc.config.cache import sha256
from pyrunc.config.findings import ERROR, Finding, jpath, json_type, show

# Bump when the meaning of a cached "valid" verdict changes without the schema
# file changing (e.g. a different integer rule): old cache entries then miss.
VALIDATOR_REVISION = b"pyrunc-schema-check/1"

_SPEC_DIR = None
_SCHEMA_BYTES: dict[str, bytes] = {}
_VALIDATORS: dict[str, object] = {}


def spec_dir() -> str:
    global _SPEC_DIR
    if _SPEC_DIR is None:
        import pyrunc.spec   # the package is just spec/__init__.py: cheap
        _SPEC_DIR = os.path.dirname(pyrunc.spec.__file__)
    return _SPEC_DIR


def schema_bytes(name: str = "config") -> bytes:
    if name not in _SCHEMA_BYTES:
        with open(os.path.join(spec_dir(), f"{name}-schema.json"), "rb") as f:
            _SCHEMA_BYTES[name] = f.read()
    return _SCHEMA_BYTES[name]


def schema(name: str = "config") -> dict:
    return jsonio.loads(schema_bytes(name))


def digest(name: str = "config") -> bytes:
    """What a cached verdict depends on besides the config: schema text + checker revision."""
    return sha256(VALIDATOR_REVISION + b"\0" + schema_bytes(name)).digest()


def validator(name: str):
    """The jsonschema validator for schema `name`, built once."""
    if name not in _VALIDATORS:
        # Deferred on purpose: see the module docstring.
        from jsonschema import Draft4Validator, Draft7Validator, validators
        # Draft-04's integer rule: 1.0 is not an integer (Go's decoder agrees;
        # the official schema is draft-04), draft-07 would accept it.
        cls = validators.extend(Draft7Validator, type_checker=Draft4Validator.TYPE_CHECKER)
        _VALIDATORS[name] = cls(schema(name))
    return _VALIDATORS[name]


def check(doc, name: str = "config") -> list[Finding]:
    """Every schema violation in `doc`, in document order, as findings."""
    found: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    errors = sorted(validator(name).iter_errors(doc), key=lambda e: _order(doc, list(e.absolute_path)))
    for err in errors:
        for finding in _findings(err):
            key = (finding.path, finding.message)
            if key not in seen:
                seen.add(key)
                found.append(finding)
    return found


def _order(doc, path: list) -> list:
    """Sort key: where the path's place appears in the document, from the top."""
    key, node = [], doc
    for part in path:
        if isinstance(node, dict):
            keys = list(node)
            key.append(keys.index(part) if part in node else len(keys))
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            key.append(part)
            node = node[part] if part < len(node) else None
        else:
            key.append(0)
    return key


_ARTICLE = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
            "boolean": "a boolean", "number": "a number", "null": "null"}


def _findings(err) -> list[Finding]:
    path = list(err.absolute_path)
    kind, want, inst, sub = err.validator, err.validator_value, err.instance, err.schema
    if kind == "required":
        # one error per missing name, but its name is only in the repr'd message
        return [Finding(jpath(*path, name), ERROR, "is required")
                for name in want if isinstance(inst, dict) and name not in inst]
    where = jpath(*path)
    if kind == "type":
        types = [want] if isinstance(want, str) else list(want)
        return [Finding(where, ERROR, f"must be {' or '.join(_ARTICLE.get(t, t) for t in types)}, "
                                      f"not {json_type(inst)}")]
    if kind == "enum":
        return [Finding(where, ERROR, f"{show(inst)} is not one of {', '.join(map(str, want))}")]
    if kind in ("minimum", "maximum"):
        title, lo, hi = sub.get("title"), sub.get("minimum"), sub.get("maximum")
        if title and lo is not None and hi is not None:
            return [Finding(where, ERROR, f"{inst} is out of range for {title} ({lo} to {hi})")]
        bound = "at least" if kind == "minimum" else "at most"
        return [Finding(where, ERROR, f"must be {bound} {want}, not {inst}")]
    if kind == "pattern":
        desc = sub.get("description")
        what = desc if desc else f"matching the pattern {want}"
        return [Finding(where, ERROR, f"{show(inst)} is not {what}")]
    if kind == "minItems":
        return [Finding(where, ERROR, "must not be empty" if want == 1 else f"needs at least {want} entries")]
    if kind == "maxItems":
        return [Finding(where, ERROR, f"must have at most {want} entries")]
    if kind in ("minLength", "maxLength"):
        return [Finding(where, ERROR, "must not be empty" if want == 1 and kind == "minLength"
                        else f"must have {'at least' if kind == 'minLength' else 'at most'} {want} characters")]
    if kind == "const":
        return [Finding(where, ERROR, f"must be {show(want)}")]
    # keywords our schema does not use; worded generically rather than leaking a repr
    return [Finding(where, ERROR, f"is not valid here ({kind})")]
