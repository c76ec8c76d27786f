"""Hypothesis strategies that mutate a valid JSON document (a config.json, a
state.json): remove keys or array elements, put wrong types, extreme numbers
and odd strings (empty, NUL, lone surrogates, RTL marks, 4 KiB, shell and
format metacharacters) in place of values, add unknown keys, and blow arrays
and strings up. A mutation is plain data, so a failing example prints as a
readable list of (op, path, ...) tuples.
"""
from __future__ import annotations

import copy
import json

from hypothesis import strategies as st

EXTREME = [0, -1, 1, 2**31 - 1, 2**31, 2**32, 2**32 + 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -2**63 - 1,
           10**40, 1e308, -1e308, 0.5, -0.0, float("inf"), float("-inf"), float("nan")]
ODD = ["", " ", "\x00", "a\x00b", "/\x00/", "ü☃容器", "\u202e\u200b", "\ud800", "\U0001F600",
       "../../../../etc", "/", "//..//", "x" * 4096, "\n\r\t", "%s%n%x", "$(touch /tmp/pwn)", "-",
       "--help", "=", "a=b=c", "\\", "CAP_SYS_ADMIN", "RLIMIT_NOFILE", "proc", "bind", "rw"]
MAX_DOCUMENT = 4 << 20  # bytes of JSON: big, not absurd

values = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EXTREME), st.integers(), st.floats(),
    st.sampled_from(ODD), st.text(max_size=20),
    st.lists(st.sampled_from(ODD + [0, None, -1]), max_size=4),
    st.dictionaries(st.sampled_from(ODD[:6] + ["type", "path", "source"]), st.sampled_from(EXTREME[:5] + ODD[:6]),
                    max_size=3),
)


def paths_of(node, protected=lambda path: False, prefix=()):
    """Every path (tuple of keys/indices) into node, except protected ones."""
    out = []
    if prefix and not protected(prefix):
        out.append(prefix)
    if isinstance(node, dict):
        for key, value in node.items():
            out += paths_of(value, protected, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += paths_of(value, protected, prefix + (i,))
    return sorted(out, key=lambda p: tuple(map(str, p)))


def mutations(document, protected=lambda path: False, max_size=3):
    paths = st.sampled_from(paths_of(document, protected))
    one = st.one_of(
        st.tuples(st.just("remove"), paths),
        st.tuples(st.just("set"), paths, values),
        st.tuples(st.just("huge"), paths, st.sampled_from([100, 1000, 10000])),
        st.tuples(st.just("add"), paths, st.sampled_from(["x-unknown", "", "\x00", "type"]), values),
    )
    return st.lists(one, min_size=1, max_size=max_size)


def _get(node, path):
    for key in path:
        node = node[key]
    return node


def apply(document, muts):
    doc = copy.deepcopy(document)
    for m in muts:
        op, path = m[0], m[1]
        try:
            parent = _get(doc, path[:-1])
            key = path[-1]
            current = parent[key]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or retyped the way there
        if op == "remove":
            del parent[key]
        elif op == "set":
            parent[key] = copy.deepcopy(m[2])
        elif op == "huge":  # n elements, or n characters
            n = m[2]
            if isinstance(current, list) and current:
                parent[key] = (current * (n // len(current) + 1))[:n]
            elif isinstance(current, str):
                parent[key] = ((current or "x") * (n // max(1, len(current)) + 1))[:n]
            else:
                parent[key] = [current] * n
            if len(json.dumps(doc)) > MAX_DOCUMENT:
                parent[key] = current
        elif op == "add" and isinstance(current, dict):
            current[m[2]] = copy.deepcopy(m[3])
    return doc
