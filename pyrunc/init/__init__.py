"""The container's side of the spawn: stage-1 (namespaces) and stage-2 (init).

Importing this package loads every module the child will ever use, eagerly:
after pivot_root the host's sys.path is gone, so a lazy import in the child
would be a latent crash (tests/unit/test_init_imports.py checks the list).
Stage-1 imports it right after the fork, together with what only some
containers need (hooks, hence subprocess: pyrunc.init.preload); or the parent
does, just before the fork, when it has to wait there anyway for
kernel/cgroup_prepay.py's writer (process/spawn.py). Nothing the parent
imports for its own work pulls it in.
"""
from pyrunc.init import apply_security, console, paths, rootfs, stage1, stage2  # noqa: F401
from pyrunc.init import exec_child, preload  # noqa: F401
from pyrunc.process import sync  # noqa: F401
