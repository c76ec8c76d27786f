"""linux.seccomp: the last rule of pyrunc.config's one pipeline
(checks/pipeline.py), run only when no other rule found an error, because
compiling may load libseccomp. pyrunc.security.seccomp.compile decides what
it refuses; create keeps the compiled filter.
"""
from __future__ import annotations

from pyrunc.config.findings import finding_of
from pyrunc.errors import ConfigError


def check_seccomp(cfg, ctx):
    """Compile the profile; create keeps the result (ctx.seccomp)."""
    seccomp = (cfg.get("linux") or {}).get("seccomp")
    if not seccomp:
        return
    from pyrunc.security.seccomp import cache as seccomp_cache  # a cache hit skips libseccomp entirely
    try:
        ctx.seccomp = seccomp_cache.compile_cached(seccomp, cache_dir=ctx.cache_dir, debug=ctx.debug)
    except ConfigError as exc:
        yield finding_of(exc)
