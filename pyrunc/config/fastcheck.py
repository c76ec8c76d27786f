"""A compiled validator for our schema (spec/): jsonschema's verdict without importing it.

Place in the flow: pyrunc.config asks `is_valid(doc)` when the verdict cache
misses. Real shims give every container a config of its own (ids, cgroup
paths, annotations), so the cache alone would leave most creates paying the
50-70 ms jsonschema import. This module compiles the schema into nested
closures once per process (~1 ms) and answers valid/invalid; only an invalid
config goes on to jsonschema (pyrunc.config.schema), which words the errors.

It implements exactly the keywords spec/ uses, with jsonschema's draft-07
semantics and the draft-04 integer rule (schema.py); a keyword it does not
know, in a part of the schema a config reaches, raises SchemaUnsupported
(is_valid then says None, and the caller uses jsonschema). Tests hold spec/
to `scan` (every node supported) and its verdicts against jsonschema's and
the official schema's.
Import-light: `re` only for a pattern `simple` cannot take, when first used.
"""
from __future__ import annotations

from pyrunc.errors import SchemaUnsupported

KEYWORDS = frozenset((
    "$schema", "$id", "$comment", "title", "description", "definitions",   # annotations only
    "$ref", "type", "enum", "minimum", "maximum", "pattern", "minItems",
    "properties", "required", "additionalProperties", "patternProperties", "items",
))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": _is_int,               # draft-04: 1.0 is not an integer
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


class _Pattern:
    """re.search, without `re` for the simple patterns spec/ uses (`simple`),
    else compiled on first use (most configs never reach a pattern). Why:
    `re` loads enum, collections and functools, ~4 ms of every create whose
    config the verdict cache has not seen (rlimits reach one: podman's and
    `runc spec`'s configs have them)."""

    __slots__ = ("source", "_rx", "_simple")

    def __init__(self, source: str):
        self.source = source
        self._rx = None
        self._simple = simple(source)

    def search(self, text: str) -> bool:
        if self._simple is not None:
            return self._simple(text)
        if self._rx is None:
            import re
            self._rx = re.compile(self.source)
        return self._rx.search(text) is not None  # type: ignore[attr-defined]  # compiled above


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "-": "-", "]": "]", "[": "[", ".": ".", "^": "^",
            "$": "$", "*": "*", "+": "+", "?": "?", "/": "/", "_": "_", ":": ":", " ": " "}


def _class(source, i):
    """A [...] class starting at source[i] (after the "["): (predicate, next index)."""
    negate = source.startswith("^", i)
    i += negate
    chars, ranges = set(), []
    first = True
    while i < len(source) and (source[i] != "]" or first):
        c = source[i]
        if c == "\\":
            c = _ESCAPES.get(source[i + 1:i + 2])
            if c is None:
                raise ValueError
            i += 1
        elif c == "[":
            raise ValueError  # [:alpha:] and friends
        if source[i + 1:i + 2] == "-" and source[i + 2:i + 3] not in ("]", ""):
            hi = source[i + 2]
            if hi == "\\" or hi < c:
                raise ValueError  # re's error for a bad range stays re's
            ranges.append((c, hi))
            i += 3
        else:
            chars.add(c)
            i += 1
        first = False
    if i >= len(source):
        raise ValueError

    def member(ch):
        return (ch in chars or any(lo <= ch <= hi for lo, hi in ranges)) != negate
    return member, i + 1


def simple(source: str):
    """A function text -> bool equal to `re.search(source, text) is not
    None` for patterns of anchors (^ at the start, $ at the end), literal
    characters, `.`, [...] classes with ranges and ^, a few escapes, each
    atom optionally followed by *, + or ?; None for anything else. Held to
    `re` by tests (tests/unit/test_config_fastcheck.py)."""
    start = source.startswith("^")
    end = source.endswith("$") and not source.endswith("\\$")
    body = source[start:len(source) - end]
    atoms = []
    i = 0
    try:
        while i < len(body):
            c = body[i]
            if c == "[":
                member, i = _class(body, i + 1)
            elif c == ".":
                member, i = (lambda ch: ch != "\n"), i + 1
            elif c == "\\":
                lit = _ESCAPES.get(body[i + 1:i + 2])
                if lit is None:
                    return None
                member, i = (lambda ch, lit=lit: ch == lit), i + 2
            elif c in "()|{}^$*+?":
                return None
            else:
                member, i = (lambda ch, lit=c: ch == lit), i + 1
            low, high = 1, 1
            if body[i:i + 1] in ("*", "+", "?"):
                low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[body[i]]
                i += 1
                if body[i:i + 1] in ("*", "+", "?", "{"):
                    return None  # lazy or possessive quantifiers, repeats
            atoms.append((member, low, high))
    except (ValueError, IndexError):
        return None

    def match_at(text, pos, k):
        if k == len(atoms):
            # $ (no MULTILINE): the end, or just before a newline that ends the text
            return not end or pos == len(text) or (pos == len(text) - 1 and text[pos] == "\n")
        member, low, high = atoms[k]
        n = 0
        while (high is None or n < high) and pos + n < len(text) and member(text[pos + n]):
            n += 1
        while n >= low:  # greedy, then give back
            if match_at(text, pos + n, k + 1):
                return True
            n -= 1
        return False

    def search(text):
        if not isinstance(text, str):
            return False
        return any(match_at(text, pos, 0) for pos in (range(1) if start else range(len(text) + 1)))
    return search


def _vet(node, definitions) -> None:
    """Refuse a node that uses a keyword we do not implement (its children are
    vetted when they are built, that is when a config first reaches them)."""
    if not isinstance(node, dict):
        raise SchemaUnsupported("a schema that is not an object")
    unknown = set(node) - KEYWORDS
    if unknown:
        raise SchemaUnsupported(", ".join(sorted(unknown)))
    if "$ref" in node:
        target = node["$ref"]
        if not target.startswith("#/definitions/") or target.rsplit("/", 1)[1] not in definitions:
            raise SchemaUnsupported(f"$ref {target}")
    if "enum" in node and not all(isinstance(a, str) for a in node["enum"]):
        raise SchemaUnsupported("enum of non-strings")
    if "items" in node and not isinstance(node["items"], dict):
        raise SchemaUnsupported("items as a list")
    if node.get("additionalProperties", True) is False:
        raise SchemaUnsupported("additionalProperties: false")


def scan(schema: dict) -> None:
    """Vet every node of `schema` (the tests hold spec/ to it; a create vets
    only the nodes its config reaches, ~0.2 ms less per new config)."""
    definitions = schema.get("definitions", {})

    def walk(node):
        _vet(node, definitions)
        for key in ("properties", "patternProperties", "definitions"):
            for sub in (node.get(key) or {}).values():
                walk(sub)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                walk(node[key])
    walk(schema)


def _lazy(build, node):
    """Compile a subschema the first time a config reaches it: most configs use a
    small part of the spec, and compiling all of it is most of the cost."""
    holder = []

    def check(v):
        if not holder:
            holder.append(build(node))
        return holder[0](v)
    return check


def compile_schema(schema: dict):
    """A function doc -> bool equal to jsonschema's is_valid for `schema`."""
    definitions = schema.get("definitions", {})
    compiled: dict[str, object] = {}

    def ref(name: str):
        # late-bound: a definition is compiled the first time something refers to it
        def check(v):
            fn = compiled.get(name)
            if fn is None:
                fn = compiled[name] = build(definitions[name])
            return fn(v)
        return check

    def build(node: dict):
        _vet(node, definitions)  # raises SchemaUnsupported: is_valid then says None
        if "$ref" in node:
            return ref(node["$ref"].rsplit("/", 1)[1])     # draft-07: siblings of $ref are ignored
        checks = []
        if "type" in node:
            kinds = node["type"] if isinstance(node["type"], list) else [node["type"]]
            tests = [_TYPES[k] for k in kinds]
            checks.append(lambda v: any(t(v) for t in tests))
        if "enum" in node:
            allowed_set = frozenset(node["enum"])
            # string-only enums: no other JSON value can equal one of them
            checks.append(lambda v: isinstance(v, str) and v in allowed_set)
        if "minimum" in node:
            lo = node["minimum"]
            checks.append(lambda v: not _is_number(v) or v >= lo)
        if "maximum" in node:
            hi = node["maximum"]
            checks.append(lambda v: not _is_number(v) or v <= hi)
        if "pattern" in node:
            rx = _Pattern(node["pattern"])
            checks.append(lambda v: not isinstance(v, str) or rx.search(v))
        if "minItems" in node:
            n = node["minItems"]
            checks.append(lambda v: not isinstance(v, list) or len(v) >= n)
        if "items" in node:
            item = _lazy(build, node["items"])
            checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
        if "required" in node:
            names = tuple(node["required"])
            checks.append(lambda v: not isinstance(v, dict) or all(n in v for n in names))
        if any(k in node for k in ("properties", "patternProperties", "additionalProperties")):
            checks.append(_object_check(node, build))
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(c(v) for c in checks)

    return build(schema)


def _object_check(node, build):
    props = {k: _lazy(build, s) for k, s in (node.get("properties") or {}).items()}
    patterns = [(_Pattern(p), _lazy(build, s)) for p, s in (node.get("patternProperties") or {}).items()]
    extra = node.get("additionalProperties", True)
    extra_fn = _lazy(build, extra) if isinstance(extra, dict) else None

    def check(v):
        if not isinstance(v, dict):
            return True
        for key, value in v.items():
            fn = props.get(key)
            if fn is not None and not fn(value):
                return False
            matched = False
            for rx, pfn in patterns:
                if rx.search(key):
                    matched = True
                    if not pfn(value):
                        return False
            if fn is None and not matched and extra_fn is not None and not extra_fn(value):
                return False
        return True
    return check


# compiled validators by schema name, False where the schema cannot compile (a cache)
VALIDATORS: dict = {}


def is_valid(doc, name: str = "config") -> bool | None:
    """The schema verdict, or None when the schema cannot be compiled here (use jsonschema)."""
    fn = VALIDATORS.get(name)
    if fn is None:
        from pyrunc.config import schema
        try:
            fn = compile_schema(schema.schema(name))
        except SchemaUnsupported:
            fn = False
        VALIDATORS[name] = fn
    if fn is False:
        return None
    try:
        return bool(fn(doc))
    except SchemaUnsupported:
        return None  # the config reached a part this cannot compile: jsonschema decides
