"""Child-side modules that only some containers need, loaded by stage-1
right after the fork, before any namespace or mount change (process/spawn.py
calls `for_plan`).

The child may never import after pivot_root (see pyrunc.init), so whatever it
uses must be in sys.modules before the fork. Most of it is imported by
pyrunc.init for every container; what is here is not, because it is heavy
and rare: pyrunc.process.hooks pulls in subprocess (with threading, selectors,
signal, contextlib, locale: ~2.5 ms and ~0.5 MiB in every waiting init), and
only configs with createContainer/startContainer hooks run hooks in the child.
"""

hooks = None  # pyrunc.process.hooks, once a plan with container-side hooks was seen


def for_plan(plan):
    """In stage-1, before the namespaces: load what this plan's child will use."""
    global hooks
    if hooks is None and (plan.hooks_create_container or plan.hooks_start_container):
        from pyrunc.process import hooks as module
        hooks = module
