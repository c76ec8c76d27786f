"""Which runtime-spec fields pyrunc does NOT apply, and what it does instead.

The rule (issue 14): every field of the schema (spec/config-schema.json) is
applied, or refused with one clear line, or — only where the spec lets a
runtime ignore it — ignored, and then named by `validate --strict`. Applied
fields are found in the code by tests/unit/test_field_coverage.py; the
other two kinds are listed here, each with an example value, so that test
can also check that a config holding one is really refused (an error from
the validation pipeline) or really listed (a strict finding).

Paths are schema paths: `[]` is any array element, `*` any key of a map;
an entry covers the fields below it. Other platforms' sections (windows,
solaris, ...) are strict.py's: all of them are ignored on Linux.
Import-light: os only (through pyrunc.security.attributes for the LSM test).
"""
from __future__ import annotations

from pyrunc.config.findings import jpath, strict


class Field:
    __slots__ = ("path", "example", "reason", "applied_with")

    def __init__(self, path: str, example, reason: str, applied_with: str | None = None):
        self.path, self.example, self.reason = path, example, reason
        self.applied_with = applied_with  # an LSM where the field IS applied


def ignored_here(field: Field) -> bool:
    """Whether this host ignores an IGNORED field (one applied only with an LSM it lacks)."""
    if field.applied_with is None:
        return True
    from pyrunc.security.attributes import lsm_enabled
    return not lsm_enabled(field.applied_with)


# refused with one line by the validation pipeline (validate and create alike)
REFUSED = (
    Field("linux.intelRdt", {"closID": "guaranteed"},
          "no resctrl support: refused, as runc refuses it where resctrl is absent (config/checks/linux.py)"),
    Field("mounts[].uidMappings", [{"containerID": 0, "hostID": 100000, "size": 1}],
          "idmapped mounts are not supported (config/checks/mounts.py)"),
    Field("mounts[].gidMappings", [{"containerID": 0, "hostID": 100000, "size": 1}],
          "idmapped mounts are not supported (config/checks/mounts.py)"),
)

# accepted and not applied, as the spec allows; `validate --strict` names them
IGNORED = (
    Field("process.commandLine", "cmd /c echo", "Windows only (config.md: process.commandLine)"),
    Field("process.user.username", "ContainerAdministrator", "Windows only (config.md: user.username)"),
    Field("linux.resources.memory.useHierarchy", True,
          "hierarchical accounting is always on in current kernels (true is what they do, false "
          "cannot be had); runc ignores the field too"),
    Field("linux.mountLabel", "system_u:object_r:container_file_t:s0",
          "an SELinux label, meaningless without SELinux (where SELinux runs it is applied: "
          "init/rootfs.py)", applied_with="selinux"),
)


def _at(value, parts, done):
    """Every concrete JSON path in `value` that schema path `parts` names."""
    if not parts:
        yield jpath(*done)
        return
    head, rest = parts[0], parts[1:]
    if head == "[]":
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from _at(item, rest, done + [i])
    elif head == "*":
        if isinstance(value, dict):
            for key, item in value.items():
                yield from _at(item, rest, done + [key])
    elif isinstance(value, dict) and head in value:
        yield from _at(value[head], rest, done + [head])


def split(path: str) -> list[str]:
    """"mounts[].uidMappings" -> ["mounts", "[]", "uidMappings"]."""
    return [p for p in path.replace("[]", ".[].").split(".") if p]


def occurrences(cfg, path: str) -> list[str]:
    return list(_at(cfg, split(path), []))


def strict_findings(cfg) -> list:
    """The --strict listing of the IGNORED fields a config holds."""
    found = []
    for field in IGNORED:
        if occurrences(cfg, field.path) and not ignored_here(field):
            continue
        for where in occurrences(cfg, field.path):
            found.append(strict(where, f"not applied by pyrunc: {field.reason}"))
    return found
