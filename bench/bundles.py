"""Bench bundles: the config `runc spec` writes, running /bin/true, over the
busybox rootfs of bundles/busybox (build it with bundles/build-rootfs.sh).

Place in the bench: run.py makes one bundle per (runtime, slot) so that
concurrent containers never share a cgroup; the config bytes of a slot never
change between samples (a cache keyed by content may hit, as it would for a
client that re-uses a bundle). `unique_bundle()` writes a config that differs
each time, as podman's and containerd's do (their configs carry the id).
The rootfs is shared read-only (runc spec sets root.readonly).
"""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
ROOTFS = os.path.join(REPO, "bundles", "busybox", "rootfs")
PODMAN_FIXTURE = os.path.join(os.path.dirname(REPO), "shared", "fixtures", "clients", "podman-config.json")

# item 7: a cgroup with resources (podman's memory and pids shape, plus cpu)
RESOURCES = {"memory": {"limit": 64 * 1024 * 1024}, "pids": {"limit": 100}, "cpu": {"shares": 512}}


def ensure_rootfs():
    if not os.path.exists(os.path.join(ROOTFS, "bin", "busybox")):
        subprocess.run([os.path.join(REPO, "bundles", "build-rootfs.sh")], check=True)


def runc_spec(runc="runc"):
    """The config `runc spec` makes, with args /bin/true and no terminal."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([runc, "spec", "--bundle", tmp], check=True)
        with open(os.path.join(tmp, "config.json")) as f:
            cfg = json.load(f)
    cfg["process"]["args"] = ["/bin/true"]
    cfg["process"]["terminal"] = False
    cfg["root"]["path"] = ROOTFS
    return cfg


def podman_seccomp():
    """podman's default seccomp profile in OCI form: from bench/seccomp.py when
    it offers one, else from the podman config fixture; None if neither."""
    try:
        sys.path.insert(0, HERE)
        import seccomp as bench_seccomp  # written by the security area
        for name in ("podman_profile", "default_profile", "oci_profile", "load_profile"):
            fn = getattr(bench_seccomp, name, None)
            if callable(fn):
                profile = fn()
                if isinstance(profile, dict) and profile.get("syscalls"):
                    return profile, f"bench/seccomp.py:{name}()"
    except Exception:  # noqa: BLE001 - optional source, fall back
        pass
    try:
        with open(PODMAN_FIXTURE) as f:
            return json.load(f)["linux"]["seccomp"], "shared/fixtures/clients/podman-config.json"
    except (OSError, KeyError, ValueError):
        return None, None


def with_security(cfg, profile):
    cfg = copy.deepcopy(cfg)
    cfg["linux"]["seccomp"] = profile
    resources = cfg["linux"].setdefault("resources", {})
    resources.update(copy.deepcopy(RESOURCES))
    return cfg


def write_bundle(path, cfg, cgroups_path):
    os.makedirs(path, exist_ok=True)
    cfg = copy.deepcopy(cfg)
    cfg["linux"]["cgroupsPath"] = cgroups_path
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f, indent="\t")
    return path


class Bundles:
    """Bundle directories under `workdir`, made on first use."""

    def __init__(self, workdir, base_cfg):
        self.workdir = workdir
        self.base = base_cfg
        self.variants = {"plain": base_cfg}
        self._made = {}
        self._unique = 0

    def add_variant(self, name, cfg):
        self.variants[name] = cfg

    def get(self, rt, slot=0, variant="plain"):
        key = (rt.name, slot, variant)
        if key not in self._made:
            path = os.path.join(self.workdir, f"bundle-{rt.name}-{variant}-{slot}")
            self._made[key] = write_bundle(path, self.variants[variant], f"{rt.cgroup_prefix}/{variant}-{slot}")
        return self._made[key]

    def unique(self, rt):
        """A bundle whose config bytes were never seen (a fresh hostname each time)."""
        self._unique += 1
        cfg = copy.deepcopy(self.base)
        cfg["hostname"] = f"u{self._unique}-{os.getpid()}"
        path = os.path.join(self.workdir, f"bundle-{rt.name}-unique")
        return write_bundle(path, cfg, f"{rt.cgroup_prefix}/unique")
