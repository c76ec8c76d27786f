"""pyrunc: an OCI-compliant low-level container runtime in Python, in the style of runc.

The package is laid out by job (see README "Architecture"): `cli` parses,
`config` validates, `plan` turns a config into ops, `container` drives the
lifecycle, `process` is the parent's side of the spawn, `init` the child's,
`kernel` the syscall surface, `cgroups` resource control, `state` the
on-disk record. Importing this package is free: nothing heavy loads here.
"""

__version__ = "0.1.0"
SPEC_VERSION = "1.3.0"
