"""THE pipeline of config checks: `create` (through pyrunc.config.load) and
`validate` (through check_bundle) both run exactly CHECKS, then
FINAL_CHECKS, so whatever create refuses before the first fork, validate
refuses too, with the same line.

Place in the flow: after the schema step (so every value has its schema
type), on every create, verdict-cache hit or not: several rules look at the
filesystem or the kernel. Each check takes (cfg, ctx) and yields Findings;
CHECKS lists them in the order their findings are reported. Errors stop the
create; warnings are the spec's "SHOULD accept and warn" cases. The seccomp
profile is compiled last, only when nothing else failed, and the result is
kept in ctx for create. The rules themselves live in this package's topic
modules (see its __init__).
"""
from __future__ import annotations

import os

from pyrunc.config.checks import bundle, linux, mounts, namespaces, process, resources, rootless, seccomp
from pyrunc.config.findings import ERROR, Finding


class Context:
    """What checks may look at besides the config: the bundle and kernel facts (read lazily).

    `cache_dir` (create's verdict cache directory) lets the seccomp rule reuse
    compiled filters; `debug` takes runc's debug-level lines. The seccomp rule
    leaves the compiled filter in `seccomp` for create.
    """

    def __init__(self, bundle_dir: str, *, cache_dir: str | None = None, debug=None):
        self.bundle_dir = bundle_dir
        self.cache_dir = cache_dir
        self.debug = debug
        self.seccomp = None
        self._cap_last_cap = -2
        self._grantable: set[int] | None | bool = False
        # run by a non-root user: the rules of checks/rootless.py apply (runc's RootlessEUID)
        self.rootless = os.geteuid() != 0

    @property
    def cap_last_cap(self) -> int | None:
        if self._cap_last_cap == -2:
            try:
                with open("/proc/sys/kernel/cap_last_cap") as f:
                    self._cap_last_cap = int(f.read())
            except (OSError, ValueError):
                self._cap_last_cap = None
        return self._cap_last_cap

    @property
    def grantable(self) -> set[int] | None:
        """The capabilities this runtime could grant (its bounding set), None if unknown."""
        if self._grantable is False:
            from pyrunc.security.capabilities import host_bounding_set
            self._grantable = host_bounding_set()
        return self._grantable  # type: ignore[return-value]


# The one pipeline, in report order. Add a rule by appending it here.
CHECKS = (
    bundle.check_oci_version, bundle.check_root, process.check_process, process.check_rlimits,
    process.check_capabilities, mounts.check_mounts, mounts.check_bind_sources, mounts.check_proc_mounts,
    bundle.check_hooks, bundle.check_annotations, namespaces.check_hostname, namespaces.check_namespaces,
    namespaces.check_id_mappings, rootless.check_user_namespace, rootless.check_id_ranges,
    rootless.check_mount_ids, rootless.check_additional_gids, namespaces.check_time_offsets, namespaces.check_sysctl,
    resources.check_devices, mounts.check_path_lists, process.check_scheduler,
    process.check_process_attributes, resources.check_cgroup_resources,
    linux.check_memory_policy, linux.check_net_devices, linux.check_intel_rdt, mounts.check_mount_idmaps,
)
# Run after CHECKS, only when they found no error (costly, and they assume a sane config).
FINAL_CHECKS = (seccomp.check_seccomp,)


def check(cfg, ctx: Context, *, best_effort: bool = False) -> list[Finding]:
    """Every rule's findings. `best_effort`: the schema already failed, so a rule
    that trips over a wrongly typed value is skipped (the schema error says it)."""
    if not isinstance(cfg, dict):
        return []
    found: list[Finding] = []
    for rule in CHECKS:
        if not best_effort:
            found.extend(rule(cfg, ctx))
            continue
        try:
            found.extend(list(rule(cfg, ctx)))
        except (TypeError, KeyError, AttributeError, ValueError):
            pass
    if not best_effort and not any(f.severity == ERROR for f in found):
        for rule in FINAL_CHECKS:
            found.extend(rule(cfg, ctx))
    return found
