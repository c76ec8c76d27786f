"""OCI `linux.seccomp` -> a classic-BPF program, compiled in the parent.

Place in the flow: the last rule of pyrunc.config's pipeline
(pyrunc.config.checks.seccomp) checks the profile, then compiles it through
`compile_seccomp()` while create/run prepares (step 4 of ARCHITECTURE.md),
before the first fork; `exec` checks and compiles the container's profile the
same way. This module only compiles a checked profile: every name and value
it looks up was validated there. What it can still refuse is what only
libseccomp knows (an architecture it cannot add to the filter, a rule it
will not take): a ConfigError, one line, nothing made yet. The result,
`CompiledSeccomp`, is plain data (bytes + ints, JSON-able through
`to_dict`); the child only hands the bytes to seccomp(2)
(`pyrunc.init.apply_security.load_seccomp`), it never imports libseccomp.
`pyrunc.security.seccomp.cache.compile_cached` keeps results across creates.

Behaviour follows runc (libcontainer/seccomp, specconv.SetupSeccomp):
- no `defaultAction` and no `syscalls` -> no filter at all (None);
- `flags` absent -> SECCOMP_FILTER_FLAG_SPEC_ALLOW by default (as runc does
  since 1.2: no forced speculation mitigation; dropped again in the child if
  the kernel refuses it); `flags` present, even empty -> exactly those. TSYNC is honoured (harmless: init is one thread);
  WAIT_KILLABLE_RECV only means something with a listener, so it is passed
  to the kernel only when the profile uses SCMP_ACT_NOTIFY;
- SCMP_ACT_ERRNO / SCMP_ACT_TRACE without `errnoRet` return EPERM;
- a rule whose action equals the default action is skipped (libseccomp would
  refuse it);
- a syscall name libseccomp does not know is skipped (runc logs it at debug
  level; we pass it to `debug` and list it in `skipped_syscalls`);
- if two conditions of one rule test the same argument, each condition
  becomes its own rule (libseccomp cannot AND two tests of one argument);
- syscalls newer than the newest one the profile names get ENOSYS instead of
  the default action, unless the default is permissive (runc's patchbpf
  "-ENOSYS stub"), so glibc falls back from e.g. clone3 to clone;
- NOTIFY: never as the default action, never on `write` or `sendmsg` (the
  child hands the listener fd over with them after loading the filter), and
  only with a `listenerPath` (rules of pyrunc.config.checks.seccomp).
"""
from __future__ import annotations

import errno as errno_mod
import os
import struct
import tempfile
from pyrunc.records import dataclass  # dataclasses costs ~13 ms per create (pyrunc.records)

from pyrunc.errors import ConfigError, describe_oserror
from pyrunc.kernel import flags as kflags
from pyrunc.security.seccomp.cache import CompiledSeccomp  # noqa: F401  (plain data; part of this module's contract)


def _import_pyseccomp():
    """pyseccomp, without its two ctypes.util.find_library() calls.

    find_library runs `ldconfig -p` in a subprocess (twice: libc and
    libseccomp), ~10 ms of every create. The sonames are stable ABI names,
    so try them first and fall back to the real lookup.
    """
    import ctypes
    import ctypes.util

    real = ctypes.util.find_library
    sonames = {"c": "libc.so.6", "seccomp": "libseccomp.so.2"}

    def find_library(name):
        soname = sonames.get(name)
        if soname:
            try:
                ctypes.CDLL(soname)
                return soname
            except OSError:
                pass
        return real(name)

    ctypes.util.find_library = find_library
    try:
        import pyseccomp as module
    finally:
        ctypes.util.find_library = real
    return module


pyseccomp = _import_pyseccomp()

WHERE = "config.json: linux.seccomp"

# SCMP_ACT_* -> (libseccomp action builder, whether errnoRet applies)
_KILL_THREAD = pyseccomp.KILL_THREAD
ACTIONS = {
    "SCMP_ACT_KILL": lambda ret: pyseccomp.KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": lambda ret: pyseccomp.KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": lambda ret: pyseccomp.KILL_PROCESS,
    "SCMP_ACT_TRAP": lambda ret: pyseccomp.TRAP,
    "SCMP_ACT_ERRNO": lambda ret: pyseccomp.ERRNO(errno_mod.EPERM if ret is None else ret),
    "SCMP_ACT_TRACE": lambda ret: pyseccomp.TRACE(errno_mod.EPERM if ret is None else ret),
    "SCMP_ACT_ALLOW": lambda ret: pyseccomp.ALLOW,
    "SCMP_ACT_LOG": lambda ret: pyseccomp.LOG,
    "SCMP_ACT_NOTIFY": lambda ret: pyseccomp.NOTIFY,
}
# Default actions after which no ENOSYS stub is added: a syscall the profile
# does not know is let through anyway (TRACE: a tracer handles ENOSYS itself).
_PERMISSIVE = {"SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"}

OPERATORS = {
    "SCMP_CMP_NE": pyseccomp.NE,
    "SCMP_CMP_LT": pyseccomp.LT,
    "SCMP_CMP_LE": pyseccomp.LE,
    "SCMP_CMP_EQ": pyseccomp.EQ,
    "SCMP_CMP_GE": pyseccomp.GE,
    "SCMP_CMP_GT": pyseccomp.GT,
    "SCMP_CMP_MASKED_EQ": pyseccomp.MASKED_EQ,
}

# AUDIT_ARCH_* building blocks (linux/audit.h, linux/elf-em.h)
_64BIT = 0x80000000
_LE = 0x40000000
_MIPS_N32 = 0x20000000
# SCMP_ARCH_* -> the token libseccomp uses for it. Most are the kernel's
# AUDIT_ARCH_* value; x32 shares x86_64's audit arch, so libseccomp gives it
# the value of AUDIT_ARCH_X86_64 without the 64-bit bit (pyseccomp.Arch.X32).
ARCHES = {
    "SCMP_ARCH_X86": pyseccomp.Arch.X86,
    "SCMP_ARCH_X86_64": pyseccomp.Arch.X86_64,
    "SCMP_ARCH_X32": pyseccomp.Arch.X32,
    "SCMP_ARCH_ARM": pyseccomp.Arch.ARM,
    "SCMP_ARCH_AARCH64": pyseccomp.Arch.AARCH64,
    "SCMP_ARCH_LOONGARCH64": 258 | _64BIT | _LE,
    "SCMP_ARCH_M68K": 4,
    "SCMP_ARCH_MIPS": pyseccomp.Arch.MIPS,
    "SCMP_ARCH_MIPS64": pyseccomp.Arch.MIPS64,
    "SCMP_ARCH_MIPS64N32": pyseccomp.Arch.MIPS64N32,
    "SCMP_ARCH_MIPSEL": pyseccomp.Arch.MIPSEL,
    "SCMP_ARCH_MIPSEL64": pyseccomp.Arch.MIPSEL64,
    "SCMP_ARCH_MIPSEL64N32": pyseccomp.Arch.MIPSEL64N32,
    "SCMP_ARCH_PPC": pyseccomp.Arch.PPC,
    "SCMP_ARCH_PPC64": pyseccomp.Arch.PPC64,
    "SCMP_ARCH_PPC64LE": pyseccomp.Arch.PPC64LE,
    "SCMP_ARCH_S390": pyseccomp.Arch.S390,
    "SCMP_ARCH_S390X": pyseccomp.Arch.S390X,
    "SCMP_ARCH_SH": 42 | _LE,
    "SCMP_ARCH_SHEB": 42,
    "SCMP_ARCH_PARISC": pyseccomp.Arch.PARISC,
    "SCMP_ARCH_PARISC64": pyseccomp.Arch.PARISC64,
    "SCMP_ARCH_RISCV64": pyseccomp.Arch.RISCV64,
}

# seccomp(2) filter flags: defined once, in kernel/flags.py
FLAG_TSYNC = kflags.SECCOMP_FILTER_FLAG_TSYNC
FLAG_SPEC_ALLOW = kflags.SECCOMP_FILTER_FLAG_SPEC_ALLOW
FLAG_NEW_LISTENER = kflags.SECCOMP_FILTER_FLAG_NEW_LISTENER
FLAG_TSYNC_ESRCH = kflags.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
FLAG_WAIT_KILLABLE_RECV = kflags.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
FLAGS = kflags.SECCOMP_CONFIG_FLAGS

# More rules than this and libseccomp is asked for a binary-tree filter
# (runc's threshold: libseccomp <= 2.5.4 misbehaves with the tree and 0 rules).
_OPTIMIZE_ABOVE = 32


def known_arches() -> list[str]:
    """The SCMP_ARCH_ names this libseccomp knows (2.5 lacks loongarch64,
    m68k and sh): for `pyrunc features`. Whether one can sit next to the
    native arch in a filter (same byte order) is decided at compile time."""
    return sorted(name for name, token in ARCHES.items()
                  if pyseccomp.resolve_syscall(token, "read") != -1)


def compile_seccomp(linux_seccomp: dict | None, warn=None, *, debug=None) -> CompiledSeccomp | None:
    """Compile `linux.seccomp`; None when the config asks for no filter.

    `linux_seccomp` has passed pyrunc.config.checks.seccomp.profile_problems.
    `warn`/`debug` take one line each (no trailing newline). Raises ConfigError
    for what libseccomp refuses.
    """
    if not linux_seccomp:
        return None
    default_name = linux_seccomp.get("defaultAction")
    syscalls = linux_seccomp.get("syscalls") or []
    if not default_name and not syscalls:
        return None  # runc: "assume seccomp disabled"
    default_ret = linux_seccomp.get("defaultErrnoRet")
    default_action = ACTIONS[default_name](default_ret)

    flags, optional = _flags(linux_seccomp.get("flags"))
    arches = _arches(linux_seccomp.get("architectures") or [])
    rules, uses_notify = _rules(syscalls)

    listener_path = linux_seccomp.get("listenerPath") or ""
    if uses_notify:
        flags |= FLAG_NEW_LISTENER
        if flags & FLAG_TSYNC:
            # The kernel refuses TSYNC together with NEW_LISTENER unless told
            # to report a failed sync as ESRCH instead of a thread id.
            flags |= FLAG_TSYNC_ESRCH
    else:
        flags &= ~FLAG_WAIT_KILLABLE_RECV  # meaningless (and EINVAL) without a listener

    filt = pyseccomp.SyscallFilter(default_action)
    for token, name in arches:
        try:
            filt.add_arch(token)
        except OSError as exc:
            if exc.errno == errno_mod.EEXIST:
                continue  # the native arch is in every new filter already
            # unknown to this libseccomp, or of the other byte order than the
            # native arch (one filter holds one byte order)
            raise ConfigError(f"{WHERE}.architectures: {name}: libseccomp cannot add it to the filter: "
                              f"{describe_oserror(exc)}") from exc
    if len(rules) > _OPTIMIZE_ABOVE:
        try:
            filt.set_attr(pyseccomp.Attr.CTL_OPTIMIZE, 2)
        except OSError:
            pass  # an older libseccomp: a linear filter is still correct

    skipped = []
    names_in_filter = []
    numbers = _SyscallNumbers()
    for rule in rules:
        if rule.action == default_action:
            continue  # redundant; libseccomp would refuse it
        nr = numbers.native(rule.name)
        if nr is None:
            skipped.append(rule.name)
            if debug:
                debug(f"seccomp: unknown syscall {rule.name!r} ignored")
            continue
        names_in_filter.append(rule.name)
        try:
            if not rule.args:
                filt.add_rule(rule.action, nr)
            elif rule.split_args:
                for arg in rule.args:
                    filt.add_rule(rule.action, nr, arg)
            else:
                filt.add_rule(rule.action, nr, *rule.args)
        except OSError as exc:
            raise ConfigError(f"{rule.where}: cannot add a rule for {rule.name}: "
                              f"{describe_oserror(exc)}") from exc

    program = export_bpf(filt)
    if default_name not in _PERMISSIVE and not (
            default_name == "SCMP_ACT_ERRNO" and default_ret == errno_mod.ENOSYS):
        program = enosys_stub(arches, names_in_filter, numbers) + program

    return CompiledSeccomp(
        bpf=program,
        flags=flags,
        uses_notify=uses_notify,
        listener_path=listener_path,
        listener_metadata=linux_seccomp.get("listenerMetadata") or "",
        seccomp_nr=numbers.native("seccomp") or -1,
        optional_flags=optional,
        skipped_syscalls=tuple(skipped),
    )


# ---------------------------------------------------------------- parsing

@dataclass
class _Rule:
    name: str
    action: int
    args: list
    split_args: bool
    where: str


def _flags(names):
    if names is None:
        return FLAG_SPEC_ALLOW, FLAG_SPEC_ALLOW  # runc's default when flags is absent
    flags = 0
    for name in names:
        flags |= FLAGS[name]
    return flags, 0


def _arches(names):
    out = []
    for name in names:
        if (ARCHES[name], name) not in out:
            out.append((ARCHES[name], name))
    return out


def _rules(syscalls):
    rules = []
    uses_notify = False
    for i, entry in enumerate(syscalls):
        where = f"{WHERE}.syscalls[{i}]"
        action_name = entry["action"]
        action = ACTIONS[action_name](entry.get("errnoRet"))
        uses_notify = uses_notify or action_name == "SCMP_ACT_NOTIFY"
        args, split = _conditions(entry.get("args") or [])
        for name in entry["names"]:
            rules.append(_Rule(name, action, args, split, where))
    return rules, uses_notify


def _conditions(args):
    conds = []
    seen = set()
    split = False
    for arg in args:
        index = arg["index"]
        # MASKED_EQ: value is the mask, valueTwo the datum (libseccomp's order)
        conds.append(pyseccomp.Arg(index, OPERATORS[arg["op"]], arg.get("value", 0), arg.get("valueTwo", 0) or 0))
        split = split or index in seen
        seen.add(index)
    return conds, split


# ---------------------------------------------------------------- BPF

class _SyscallNumbers:
    """Name -> number lookups through libseccomp, cached (a profile repeats names)."""

    def __init__(self):
        self._cache = {}

    def lookup(self, arch: int, name: str):
        key = (arch, name)
        if key not in self._cache:
            nr = pyseccomp.resolve_syscall(arch, name)
            # __NR_SCMP_ERROR (-1) = unknown; other negatives are libseccomp's
            # pseudo numbers for multiplexed calls (socketcall, ipc), valid in rules.
            self._cache[key] = None if nr == -1 else nr
        return self._cache[key]

    def native(self, name: str):
        return self.lookup(pyseccomp.Arch.NATIVE, name)


def export_bpf(filt) -> bytes:
    # libseccomp writes the program to an fd; a memfd keeps it off any disk.
    try:
        fd = os.memfd_create("pyrunc-seccomp", os.MFD_CLOEXEC)
        with os.fdopen(fd, "w+b") as f:
            filt.export_bpf(f)
            f.seek(0)
            return f.read()
    except AttributeError:  # pragma: no cover - no memfd_create
        with tempfile.TemporaryFile() as f:
            filt.export_bpf(f)
            f.seek(0)
            return f.read()


# classic BPF opcodes (linux/bpf_common.h)
_LD_W_ABS = 0x20
_JMP_JA = 0x05
_JMP_JEQ_K = 0x15
_JMP_JGT_K = 0x25
_JMP_JSET_K = 0x45
_RET_K = 0x06
_X32_SYSCALL_BIT = 0x40000000
_AUDIT_ARCH_X86_64 = pyseccomp.Arch.X86_64


def _audit_arch(token: int) -> int:
    # x32 runs under x86_64's audit arch, told apart by bit 30 of the number.
    return _AUDIT_ARCH_X86_64 if token == pyseccomp.Arch.X32 else token


def enosys_stub(arches, names, numbers: _SyscallNumbers | None = None) -> bytes:
    """A BPF prefix that returns ENOSYS for syscall numbers above the largest
    one named in the profile, per architecture; everything else falls
    through to the libseccomp program that follows.

    Why: a profile written before a syscall existed would otherwise give it
    the default action (usually EPERM), and libc only falls back to an older
    syscall on ENOSYS (runc's patchbpf does the same).
    """
    numbers = numbers or _SyscallNumbers()
    tokens = [t for t, _ in arches]
    native = pyseccomp.system_arch()
    if native not in tokens:
        tokens.append(native)  # the native arch is always in the filter
    # audit arch -> {token: largest number}
    largest: dict[int, dict[int, int]] = {}
    for token in tokens:
        top = max((nr for nr in (numbers.lookup(token, n) for n in set(names))
                   if nr is not None and nr >= 0), default=None)
        if top is not None:
            largest.setdefault(_audit_arch(token), {})[token] = top
    if not largest:
        return b""

    # Assemble with symbolic labels: conditional jumps only ever reach the
    # next few instructions; long distances go through `ja` (32-bit offset).
    prog = []  # (code, jt, jf, k) with jt/jf/k possibly labels

    def emit(code, jt=0, jf=0, k=0):
        prog.append([code, jt, jf, k])

    sections = []
    emit(_LD_W_ABS, k=4)  # seccomp_data.arch
    for audit in largest:
        emit(_JMP_JEQ_K, jt=("sec", audit), jf=0, k=audit)
    emit(_JMP_JA, k="filter")
    for audit, per_token in largest.items():
        sections.append(audit)
        prog.append(("label", ("sec", audit)))
        emit(_LD_W_ABS, k=0)  # seccomp_data.nr
        if audit == _AUDIT_ARCH_X86_64:
            x64 = per_token.get(pyseccomp.Arch.X86_64)
            x32 = per_token.get(pyseccomp.Arch.X32)
            if x64 is not None and x32 is not None:
                emit(_JMP_JSET_K, jt=1, jf=0, k=_X32_SYSCALL_BIT)
                emit(_JMP_JGT_K, jt="enosys_ja", jf="filter_ja", k=x64)
                emit(_JMP_JGT_K, jt="enosys_ja", jf="filter_ja", k=x32)
            elif x64 is not None:
                # an x32 call when x32 is not in the profile: the filter decides
                emit(_JMP_JSET_K, jt="filter_ja", jf=0, k=_X32_SYSCALL_BIT)
                emit(_JMP_JGT_K, jt="enosys_ja", jf="filter_ja", k=x64)
            else:
                emit(_JMP_JSET_K, jt=0, jf="filter_ja", k=_X32_SYSCALL_BIT)
                emit(_JMP_JGT_K, jt="enosys_ja", jf="filter_ja", k=x32)
        else:
            (token, top), = per_token.items()
            if token in (pyseccomp.Arch.S390, pyseccomp.Arch.S390X):
                # s390 multiplexes big syscall numbers through setup(0): a
                # number the kernel doesn't know arrives as 0.
                emit(_JMP_JEQ_K, jt="enosys_ja", jf=0, k=0)
            emit(_JMP_JGT_K, jt="enosys_ja", jf="filter_ja", k=top)
        prog.append(("label", ("enosys_ja", audit)))
        emit(_JMP_JA, k="enosys")
        prog.append(("label", ("filter_ja", audit)))
        emit(_JMP_JA, k="filter")
    prog.append(("label", "enosys"))
    emit(_RET_K, k=pyseccomp.ERRNO(errno_mod.ENOSYS))
    prog.append(("label", "filter"))
    return _assemble(prog)


def _assemble(prog) -> bytes:
    labels = {}
    insns = []
    section = None
    for item in prog:
        if item[0] == "label":
            labels[item[1]] = len(insns)
            if isinstance(item[1], tuple) and item[1][0] == "sec":
                section = item[1][1]
            continue
        insns.append((item, section))
    out = bytearray()
    for pc, (ins, sec) in enumerate(insns):
        code, jt, jf, k = ins

        def resolve(ref):
            if isinstance(ref, int):
                return ref
            if ref in ("enosys_ja", "filter_ja"):
                ref = (ref, sec)
            return labels[ref]

        if code == _JMP_JA:
            k = resolve(k) - (pc + 1)
        else:
            jt = resolve(jt) - (pc + 1) if not isinstance(jt, int) else jt
            jf = resolve(jf) - (pc + 1) if not isinstance(jf, int) else jf
            if not (0 <= jt <= 255 and 0 <= jf <= 255):  # pragma: no cover - by construction
                raise AssertionError("ENOSYS stub: conditional jump out of range")
        out += struct.pack("=HBBI", code, jt, jf, k)
    return bytes(out)
