"""`pyrunc --version`: runc's lines, in runc's order.

runc prints `runc version X`, `commit: C`, `spec: S`, `go: G` and, where
libseccomp is there, `libseccomp: L`; clients (podman info) show it whole.
The commit is read from the source tree's git metadata, without running
git (an installed copy without it says `unknown`).
"""
import os
import sys

from pyrunc import SPEC_VERSION, __version__


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _git_dir(top):
    """The git directory of the checkout at `top`, a worktree's included."""
    dot = os.path.join(top, ".git")
    if os.path.isdir(dot):
        return dot
    text = _read(dot) or ""
    if text.startswith("gitdir:"):
        return os.path.join(top, text[len("gitdir:"):].strip())
    return None


def _resolve(git_dir, ref):
    """The commit a ref names: loose ref file (in the worktree's or the
    shared git dir), else packed-refs."""
    common = _read(os.path.join(git_dir, "commondir"))
    dirs = [git_dir] + ([os.path.join(git_dir, common)] if common else [])
    for d in dirs:
        sha = _read(os.path.join(d, ref))
        if sha:
            return sha
    for d in dirs:
        for line in (_read(os.path.join(d, "packed-refs")) or "").splitlines():
            sha, _, name = line.partition(" ")
            if name == ref:
                return sha
    return None


def commit():
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    git_dir = _git_dir(top)
    head = _read(os.path.join(git_dir, "HEAD")) if git_dir else None
    if head and head.startswith("ref:"):
        head = _resolve(git_dir, head[4:].strip())
    return head[:12] if head else "unknown"


def text():
    lines = [f"pyrunc version {__version__}", f"commit: {commit()}", f"spec: {SPEC_VERSION}",
             f"python: {sys.version.split()[0]}"]
    from pyrunc.features import annotations
    libseccomp = annotations().get("io.github.seccomp.libseccomp.version")
    if libseccomp:
        lines.append(f"libseccomp: {libseccomp}")
    return "\n".join(lines)
