"""pyrunc: an OCI-compliant low-level container runtime in Python, in the style of runc.

The package is laid out by job (see README "How it works"): `cli` parses,
`api` is the public Python API, `lifecycle` drives the verbs, `config`
validates, `plan` turns a config into ops, `process` is the parent's side of
the spawn, `init` the child's, `kernel` the syscall surface, `cgroups`
resource control, `store` the on-disk record.

Importing this package is free: nothing heavy loads here. `Runtime`,
`Container`, `State` and `Validation` (pyrunc.api) load on first use, through
the module __getattr__ below, so the CLI's hot verbs never pay for the API.
"""

__version__ = "0.1.0"
SPEC_VERSION = "1.3.0"

_API = ("Runtime", "Container", "State", "Validation")
__all__ = ["SPEC_VERSION", "__version__", "Runtime", "Container", "State", "Validation"]


def __getattr__(name):
    if name in _API:
        from pyrunc import api
        return getattr(api, name)
    raise AttributeError(f"module 'pyrunc' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
