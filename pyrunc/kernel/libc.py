"""libc's functions, and the few C types to call them with, from _ctypes alone.

The one place pyrunc binds a C library (pyrunc.security.seccomp.compile's find_library shim
only steers pyseccomp's own ctypes loading).

Place in the flow: kernel/syscalls.py and init/apply_security.py call libc through
this module. They run in the parent and in the child between fork and exec.

Why not `import ctypes`: the package defines some hundred classes and loads
struct when it is imported. That costs ~2.8 ms in every create, run and exec
child, and since the cgroup write stopped hiding it (kernel/cgroup_prepay.py) the
container's set-up waits for it. _ctypes, the C extension underneath, loads
in ~0.35 ms. The ctypes package builds everything it offers from these same
pieces: a _SimpleCData subclass with a type code is a C scalar, and a CFuncPtr
subclass with flags and a result type is a function pointer. We define only
the few we use, the same way.

    mount = function("mount")
    mount(b"src", b"dst", b"type", c_ulong(flags), None)   # -1 or 0
    get_errno()                                            # after a -1
"""
from pyrunc.kernel.cpython import ctypes as _ctypes

Structure = _ctypes.Structure
addressof = _ctypes.addressof
get_errno = _ctypes.get_errno


def _scalar(name, code):
    """A C scalar type, as ctypes defines c_int & co.: its struct-style code."""
    return type(name, (_ctypes._SimpleCData,), {"_type_": code})  # noqa: SLF001 - CPython's, not ours


# ctypes' names, for readers who know them
c_int = _scalar("c_int", "i")
c_uint = _scalar("c_uint", "I")
c_long = _scalar("c_long", "l")
c_ulong = _scalar("c_ulong", "L")
c_ushort = _scalar("c_ushort", "H")
c_void_p = _scalar("c_void_p", "P")
c_char = _scalar("c_char", "c")
c_size_t = c_ulong  # size_t is unsigned long on every Linux ABI


_ARRAYS = {}  # length -> char array type: making a type costs ~13 us, openat2 needs one per call


def _char_array(length):
    array = _ARRAYS.get(length)
    if array is None:
        array = _ARRAYS[length] = type("c_char_Array", (_ctypes.Array,),
                                       {"_type_": c_char, "_length_": length})
    return array


def buffer(data):
    """A writable C copy of `data` (bytes), as create_string_buffer makes
    without its trailing NUL; pass it where the kernel takes a pointer."""
    buf = _char_array(len(data))()
    buf.raw = data
    return buf


def read_memory(address, size):
    """`size` bytes at `address` (ctypes' string_at): what a C function's
    pointer result points to."""
    return _char_array(size).from_address(address).raw


class _Function(_ctypes.CFuncPtr):
    """A libc function: cdecl, int result, errno saved for get_errno()."""
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = c_int


_LIBC = _ctypes.dlopen(None, _ctypes.RTLD_LOCAL)  # the process's own libc


class _Handle:
    _handle = _LIBC  # what CFuncPtr((name, dll)) reads to look `name` up


def library(soname):
    """Another shared library (e.g. "libseccomp.so.2"), for function(...,
    library=); OSError when it is not installed."""
    return type("_Library", (), {"_handle": _ctypes.dlopen(soname, _ctypes.RTLD_LOCAL)})


class _GilFunction(_ctypes.CFuncPtr):
    """The same, called with the GIL held (ctypes' pythonapi flavour): for
    CPython's own C API, which requires it."""
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO | _ctypes.FUNCFLAG_PYTHONAPI
    _restype_ = c_int


def function(name, restype=c_int, argtypes=None, library=None, gil=False):
    """libc's `name` (or `library`'s); each call gives a function object of
    its own, so one module's restype/argtypes never change another's.
    gil=True: the call keeps the GIL (ctypes releases it otherwise)."""
    func = (_GilFunction if gil else _Function)((name, library or _Handle))
    func.__name__ = name  # type: ignore[attr-defined]  # settable on ctypes functions; typeshed lacks it
    func.restype = restype
    if argtypes is not None:
        func.argtypes = argtypes
    return func
