"""Rules about linux.seccomp, then its compilation. Part of pyrunc.config's
one pipeline (checks/pipeline.py): check_seccomp runs last, only when no
other rule found an error, because compiling may load libseccomp.

profile_problems() is every rule a profile must pass before
pyrunc.security.seccomp.compile turns it into BPF (which then only compiles:
it trusts the names and values checked here). What is left to the compiler
is what only libseccomp knows: an architecture this libseccomp cannot put in
the filter, a rule it refuses. `exec` runs check_profile() on the container's
profile before compiling it (the config was checked at create, but the bundle
is the user's). Pure: no pyseccomp here, so a refused profile costs no
library load. The names are the spec's (config-linux.md#seccomp); a unit test
holds them equal to the compiler's tables.
"""
from __future__ import annotations

from pyrunc.config.findings import ERROR, error, finding_of, jpath
from pyrunc.errors import ConfigError
from pyrunc.kernel.flags import SECCOMP_CONFIG_FLAGS

WHERE = "linux.seccomp"

ACTIONS = frozenset({
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
})
OPERATORS = frozenset({
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
})
ARCHES = frozenset({
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
    "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
})
FLAGS = frozenset(SECCOMP_CONFIG_FLAGS)
MAX_ARGS = 6
# The child reports the listener fd after loading the filter: with sendmsg
# to the agent (pyrunc.init.seccomp_agent) and write to the parent. If either
# were NOTIFY, it would wait for an agent that has not got the fd yet.
NOTIFY_FORBIDDEN = ("write", "sendmsg")
_U64 = (1 << 64) - 1
# The kernel keeps 16 bits of SECCOMP_RET_DATA; errno values are small.
_RET_DATA = 0xFFFF


def profile_problems(seccomp):
    """The profile's problems, in the order the compiler would meet them."""
    if not seccomp:
        return
    default = seccomp.get("defaultAction")
    syscalls = seccomp.get("syscalls") or []
    if not default and not syscalls:
        return  # runc: "assume seccomp disabled"
    if not default:
        yield error(f"{WHERE}.defaultAction", "must be set when syscalls are given")
        return
    yield from _errno_ret(seccomp.get("defaultErrnoRet"), f"{WHERE}.defaultErrnoRet")
    yield from _action(default, f"{WHERE}.defaultAction")
    if default == "SCMP_ACT_NOTIFY":
        yield error(f"{WHERE}.defaultAction", "SCMP_ACT_NOTIFY cannot be the default action")
    for i, name in enumerate(seccomp.get("flags") or ()):
        if name not in FLAGS:
            yield error(jpath("linux", "seccomp", "flags", i), f"unknown flag {name!r}")
    for name in seccomp.get("architectures") or ():
        if name not in ARCHES:
            yield error(f"{WHERE}.architectures", f"unknown architecture {name!r}")
    uses_notify = False
    for i, entry in enumerate(syscalls):
        where = jpath("linux", "seccomp", "syscalls", i)
        if not isinstance(entry, dict):
            yield error(where, "must be an object")
            continue
        names = entry.get("names") or []
        if not names:
            yield error(f"{where}.names", "must be a non-empty array")
        yield from _errno_ret(entry.get("errnoRet"), f"{where}.errnoRet")
        yield from _action(entry.get("action"), f"{where}.action")
        if entry.get("action") == "SCMP_ACT_NOTIFY":
            uses_notify = True
            for name in names:
                if name in NOTIFY_FORBIDDEN:
                    yield error(where, f"SCMP_ACT_NOTIFY cannot be used for the {name} syscall")
        yield from _conditions(entry.get("args") or [], where)
        if any(not isinstance(name, str) or not name for name in names):
            yield error(f"{where}.names", "empty syscall name")
    if uses_notify and not seccomp.get("listenerPath"):
        yield error(f"{WHERE}.listenerPath", "must be set when a rule uses SCMP_ACT_NOTIFY")


def _errno_ret(value, where):
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        yield error(where, "must be a non-negative integer")
    elif value > _RET_DATA:
        yield error(where, f"{value} does not fit in SECCOMP_RET_DATA (16 bits)")


def _action(name, where):
    if name not in ACTIONS:
        yield error(where, f"unknown action {name!r}")


def _conditions(args, where):
    for j, arg in enumerate(args):
        here = f"{where}.args[{j}]"
        index = arg.get("index")
        if not isinstance(index, int) or not 0 <= index < MAX_ARGS:
            yield error(f"{here}.index", f"must be 0..{MAX_ARGS - 1}")
        if arg.get("op") not in OPERATORS:
            yield error(f"{here}.op", f"unknown operator {arg.get('op')!r}")
        for key in ("value", "valueTwo"):
            v = arg.get(key, 0) if key == "value" else (arg.get(key, 0) or 0)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= _U64:
                yield error(f"{here}.{key}", "must be an unsigned 64-bit integer")


def check_profile(seccomp) -> None:
    """Raise the profile's first problem as create would word it (for `exec`)."""
    for finding in profile_problems(seccomp):
        raise ConfigError(finding.text())


def check_seccomp(cfg, ctx):
    """The profile's first problem (one, as the compiler used to stop at it), else
    compile it (pyrunc.security.seccomp.cache) and keep the result in ctx for create."""
    seccomp = (cfg.get("linux") or {}).get("seccomp")
    if not seccomp:
        return
    for finding in profile_problems(seccomp):
        if finding.severity == ERROR:
            yield finding
            return
    from pyrunc.security.seccomp import cache as seccomp_cache  # a cache hit skips libseccomp entirely
    try:
        ctx.seccomp = seccomp_cache.compile_cached(seccomp, cache_dir=ctx.cache_dir, debug=ctx.debug)
    except ConfigError as exc:   # what only libseccomp can refuse
        yield finding_of(exc)
