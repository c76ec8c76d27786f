"""The command line: runc's verbs, flags, exit codes and the one catch point.

`verbs` is the one table of verbs (options, positionals, handler); the
handlers call pyrunc.lifecycle. `fastparse` is the `pyrunc` command's entry
point: it parses the well-formed spellings of every verb without click and
hands everything else (help, usage errors, --version, ...) to `clickapp`,
whose click commands are generated from the same table. `cgroup_cmds` and
`validate_cmd` hold the longer handler bodies, `version` the --version text.
Importing this package is free: click loads only with `clickapp`.
"""
