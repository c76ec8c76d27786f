"""The --strict listing: what the spec lets pyrunc ignore, named so a user can see it.

The runtime-spec says a runtime MUST NOT fail on unknown properties and MUST
treat unknown annotation keys like them; so these are never errors on
create. `pyrunc validate --strict` lists them (severity "strict"): fields our
schema (spec/) does not describe — typos like `proccess` or `readOnly` —
annotation keys pyrunc does not read, other platforms' sections, and the
spec's fields pyrunc accepts without applying them (config/coverage.py). Walks the
schema's JSON directly: no jsonschema import. Import-light.
"""
from __future__ import annotations

from pyrunc.config import coverage
from pyrunc.config.findings import Finding, jpath, show, strict

# Annotation keys pyrunc knows: ones it reads, and ones other tools define
# that are commonly passed through to config.json (informational only).
KNOWN_ANNOTATION_PREFIXES = (
    "org.opencontainers.image.",     # image-spec pre-defined annotations
    "io.kubernetes.cri.",            # containerd CRI
    "io.kubernetes.cri-o.",          # CRI-O
    "io.container.manager",          # podman
    "org.systemd.property.",         # systemd unit properties (runc's systemd driver)
)

OTHER_PLATFORMS = ("solaris", "windows", "vm", "zos", "freebsd")


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        # our schema is self-contained: every $ref is "#/definitions/<name>"
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def check(cfg, schema: dict, nulls=()) -> list[Finding]:
    """The listing; `nulls` are the paths pyrunc.config.nulls read as absent."""
    found: list[Finding] = [strict(path, "is null, which the spec does not allow; read as absent, "
                                         "as runc does") for path in nulls]
    if not isinstance(cfg, dict):
        return found
    for platform in OTHER_PLATFORMS:
        if platform in cfg:
            found.append(strict(platform, "is for another platform; ignored on Linux"))
    _walk(schema, schema, cfg, [], found, skip=set(OTHER_PLATFORMS))
    found.extend(_strays(cfg))
    found.extend(coverage.strict_findings(cfg))  # fields pyrunc accepts and does not apply
    annotations = cfg.get("annotations")
    if isinstance(annotations, dict):
        for key in annotations:
            if key and not key.startswith(KNOWN_ANNOTATION_PREFIXES):
                found.append(strict(jpath("annotations", key), "annotation key not used by pyrunc"))
    return found


def _strays(cfg):
    """Values runc runs though the spec's own schema refuses them."""
    linux = cfg.get("linux") if isinstance(cfg.get("linux"), dict) else {}
    prop = linux.get("rootfsPropagation")
    if prop in ("rprivate", "rshared", "rslave", "runbindable"):
        # containerd's CRI sends rshared/rslave
        yield strict("linux.rootfsPropagation", f"{show(prop)} is not one of the spec's four values; "
                     "pyrunc, like runc, applies it recursively")
    devices = linux.get("devices")
    for i, dev in enumerate(devices if isinstance(devices, list) else []):
        mode = dev.get("fileMode") if isinstance(dev, dict) else None
        if isinstance(mode, int) and mode > 0o777:
            # podman's --device puts the file-type bits in (8630 = 0o20666)
            yield strict(jpath("linux", "devices", i, "fileMode"),
                         f"{mode} (0o{mode:o}) is more than permission bits (the spec allows 0 to 0o777); "
                         f"pyrunc, like runc, uses 0o{mode & 0o7777:o} and the device type from `type`")


def _walk(schema, node, value, path, found, skip=frozenset()):
    node = _resolve(schema, node)
    if isinstance(value, dict) and node.get("type") == "object":
        props = node.get("properties")
        extra = node.get("additionalProperties")
        open_ended = "patternProperties" in node or extra not in (None, True, False)
        for key, child in value.items():
            if not path and key in skip:
                continue
            if props is not None and key in props:
                _walk(schema, props[key], child, path + [key], found)
            elif isinstance(extra, dict):
                _walk(schema, extra, child, path + [key], found)
            elif props is not None and not open_ended:
                found.append(strict(jpath(*path, key), "unknown field; ignored"))
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, child in enumerate(value):
            _walk(schema, node["items"], child, path + [i], found)
