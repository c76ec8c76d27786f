"""The container's side of the spawn: stage-1 (namespaces) and stage-2 (init).

Importing this package loads every module the child will ever use, eagerly:
after pivot_root the host's sys.path is gone, so a lazy import in the child
would be a latent crash (tests/unit/test_init_imports.py checks the list).
Stage-1 imports it right after the fork (process/spawn.py: the parent never
needs ctypes or python-prctl for a create), together with what only some
containers need (hooks, hence subprocess: pyrunc.init.preload).
"""
from pyrunc.init import console, paths, rootfs, security, stage1, stage2  # noqa: F401
from pyrunc.init import exec_child, preload  # noqa: F401
from pyrunc.process import sync  # noqa: F401
