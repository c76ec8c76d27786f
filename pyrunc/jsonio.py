"""JSON for the hot path: the stdlib's own C scanner and encoder, without `json`.

Every pyrunc command reads or writes JSON (config.json, state.json, the sync
protocol, `state`'s output, log records). `import json` pulls in `re`, `enum`,
`functools` and `collections`: ~5 ms of a 15-20 ms `state` call, and ~1 MiB
in every waiting container init. `_json` is the C half json itself uses, so
the values and the output are json's; only the error path imports json, and
there it re-runs the same call so the exception (JSONDecodeError with its
position, TypeError, ...) is exactly json's.
"""
from pyrunc.kernel.cpython import json as _json

_WS = " \t\n\r"
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Context:
    """The attributes _json.make_scanner reads (json.JSONDecoder's defaults)."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__
    memo = None


_SCAN = _json.make_scanner(_Context)
_scanners = {}


def _scanner(parse_constant):
    if parse_constant is None:
        return _SCAN
    scan = _scanners.get(parse_constant)
    if scan is None:
        ctx = type("_Ctx", (_Context,), {"parse_constant": staticmethod(parse_constant)})
        scan = _scanners[parse_constant] = _json.make_scanner(ctx)
    return scan


def loads(data, parse_constant=None):
    """json.loads(data[, parse_constant]): str, or UTF-8 bytes."""
    text = data
    if not isinstance(text, str):
        try:
            text = bytes(data).decode("utf-8")
        except (UnicodeDecodeError, TypeError):
            return _stdlib_loads(data, parse_constant)
        if text.startswith("\ufeff"):
            return _stdlib_loads(data, parse_constant)
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scanner(parse_constant)(text, start)
    except Exception:  # noqa: BLE001 - json words it: the C scanner raises its errors
        # through json.decoder, and says SystemError when that is not imported
        return _stdlib_loads(data, parse_constant)
    if end != len(text) and text[end:].strip(_WS):
        return _stdlib_loads(data, parse_constant)
    return value


def _stdlib_loads(data, parse_constant):
    """The rare path: let json itself decide (and word the error)."""
    import json
    if parse_constant is None:
        return json.loads(data)
    return json.loads(data, parse_constant=parse_constant)


def _no_default(obj):
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_encoders = {}


def _encoder(separators, ensure_ascii, sort_keys):
    key = (separators, ensure_ascii, sort_keys)
    enc = _encoders.get(key)
    if enc is None:
        strings = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
        # (markers, default, encoder, indent, key_separator, item_separator, sort_keys, skipkeys, allow_nan)
        enc = _encoders[key] = _json.make_encoder(None, _no_default, strings, None, separators[1],
                                                  separators[0], sort_keys, False, True)
    return enc


def dumps(obj, *, indent=None, separators=None, ensure_ascii=True, sort_keys=False):
    """json.dumps with the same output for these arguments."""
    if indent is None:
        seps = tuple(separators) if separators else (", ", ": ")
        try:
            return "".join(_encoder(seps, ensure_ascii, sort_keys)(obj, 0))
        except (TypeError, ValueError, RecursionError):
            import json
            return json.dumps(obj, separators=separators, ensure_ascii=ensure_ascii, sort_keys=sort_keys)
    seps = tuple(separators) if separators else (",", ": ")
    out = []
    try:
        _pretty(obj, 0, " " * indent if isinstance(indent, int) else indent, seps,
                _encoder(seps, ensure_ascii, sort_keys), sort_keys, out)
    except (TypeError, ValueError, RecursionError):
        import json
        return json.dumps(obj, indent=indent, separators=separators, ensure_ascii=ensure_ascii,
                          sort_keys=sort_keys)
    return "".join(out)


def _pretty(obj, level, step, seps, scalar, sort_keys, out):
    """json's indented layout: one member per line, `step` deeper per level."""
    if isinstance(obj, dict) and obj:
        inner = "\n" + step * (level + 1)
        items = sorted(obj.items()) if sort_keys else obj.items()
        lead = "{" + inner
        for key, value in items:
            if not isinstance(key, str):
                raise TypeError("keys must be str")  # json's coercions live on its own path
            out.append(lead + scalar(key, 0)[0] + seps[1])
            _pretty(value, level + 1, step, seps, scalar, sort_keys, out)
            lead = seps[0] + inner
        out.append("\n" + step * level + "}")
    elif isinstance(obj, (list, tuple)) and obj:
        inner = "\n" + step * (level + 1)
        lead = "[" + inner
        for value in obj:
            out.append(lead)
            _pretty(value, level + 1, step, seps, scalar, sort_keys, out)
            lead = seps[0] + inner
        out.append("\n" + step * level + "]")
    else:
        out.extend(scalar(obj, 0))
