"""The command line: runc's verbs, flags, exit codes and the one catch point.

`fastparse` is the `pyrunc` command's entry point: it parses the hot verbs
(state, start, kill, delete, create, run, exec) without click and hands
everything else to `clickapp` (help, usage errors, validate, spec, ...).
Both dispatch to the same `pyrunc.lifecycle` functions. Importing this
package is free: click loads only with `clickapp`.
"""
