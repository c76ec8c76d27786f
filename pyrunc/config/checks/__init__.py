"""Every user-fixable rule about a config.json, by topic: the checks of
pyrunc.config's one pipeline (pipeline.py), which `create` (through
pyrunc.config.load) and `pyrunc validate` (through check_bundle) both run.

Place in the flow: after the schema step (every value has its schema type),
before plan.py translates the config and before the first fork, so whatever
create refuses, validate refuses too, with the same line.

    pipeline.py    Context, CHECKS (the order findings are reported in), check()
    bundle.py      the document and the bundle: ociVersion, root, hooks, annotations
    process.py     process.*: args, cwd, rlimits, capabilities, scheduler and the
                   other process attributes (also run by `exec` on its process.json)
    mounts.py      mounts, /proc mounts, bind sources, masked/readonly paths
    namespaces.py  linux.namespaces and what needs one (hostname, id maps, sysctl, ...)
    rootless.py    run by a non-root user: a user namespace, id maps it may write
    resources.py   linux.resources and linux.devices, as the cgroup driver sees them
    linux.py       memoryPolicy, netDevices, intelRdt
    seccomp.py     linux.seccomp: the profile's rules, then its compilation

A rule is a function (cfg, ctx) -> Findings (pyrunc.config.findings); add one
to its topic module and to pipeline.CHECKS. The rules plan.py still raises
while it translates (memoryPolicy, rlimit names) belong in linux.py and
process.py, where the same rules already run; plan.py is to raise nothing.

This package's __init__ imports nothing, and pyrunc.config's only lazily, so
`exec` can run process.py's rules without loading the rest of pyrunc.config.
"""
