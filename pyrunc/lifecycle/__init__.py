"""The container lifecycle, one module per verb: create, start, kill, delete,
state (and list), run, exec, and the cgroup verbs (pause, resume, ps, update,
events). Each takes an `Options` (common.py) and a container id, locks the
container's directory in `pyrunc.store`, derives its status from facts and
checks the status table before acting. The CLI (`pyrunc.cli`) and the Python
API (`pyrunc.api`) are two clients of these functions.

Importing this package is free: each verb's module loads only when called,
so `state` never pays for `create`'s imports.
"""
