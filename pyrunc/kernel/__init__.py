"""The syscall surface: thin wrappers that raise OSError(errno, msg, path).

Everything here is import-light (os, ctypes, errno) because the container's
init uses it between fork and exec.
"""
