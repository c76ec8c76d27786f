"""Real clients' configs pass create-side validation (issue 14, item 6).

The rule: what runc runs, pyrunc runs; `validate --strict` lists where a
client's config strays from the spec. Each config traced from podman,
containerd and the CRI (../shared/fixtures/clients) goes through the pipeline
create runs (create.prepare) and `validate`, with only its host-specific
paths moved to this test's directory: the rootfs, bind sources, and the
namespace files it joins (this process's, of the same type). Plus podman's
`--device /dev/fuse`, whose fileMode carries the file-type bits.
"""
from __future__ import annotations

import json
import os

import pytest

from pyrunc.lifecycle import Options
from pyrunc.lifecycle import create
from pyrunc.config import ERROR, STRICT, check_bundle
from tests import support

pytestmark = pytest.mark.requires("shared")

CLIENTS = support.SHARED / "fixtures" / "clients"
_PROC_NS = {"network": "net", "mount": "mnt"}


def _fixtures():
    if not CLIENTS.is_dir():
        return []
    return sorted(p.name for p in CLIENTS.glob("*config*.json"))


def _localize(cfg: dict, bundle) -> dict:
    """The client's config with its host paths pointed into `bundle`."""
    (bundle / "rootfs").mkdir(exist_ok=True)
    cfg["root"]["path"] = str(bundle / "rootfs")
    for ns in cfg["linux"].get("namespaces", []):
        if ns.get("path"):
            ns["path"] = f"/proc/self/ns/{_PROC_NS.get(ns['type'], ns['type'])}"
    for i, mount in enumerate(cfg.get("mounts", [])):
        options = mount.get("options") or []
        if (mount.get("type") == "bind" or "bind" in options or "rbind" in options) \
                and not os.path.exists(mount["source"]):
            src = bundle / f"source-{i}"
            src.write_text("")
            mount["source"] = str(src)
    return cfg


def _podman_device_fuse() -> dict:
    cfg = json.loads((CLIENTS / "podman-config.json").read_text())
    # what `podman run --device /dev/fuse` adds (podman 4.3, traced)
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                "fileMode": 8630, "uid": 0, "gid": 0}]
    cfg["linux"]["resources"].setdefault("devices", []).append(
        {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"})
    return cfg


def _passes(cfg, tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(_localize(cfg, bundle)))
    _doc, found = check_bundle(str(bundle), strict=True, thorough=True)
    assert [f.text() for f in found if f.severity == ERROR] == []
    create.prepare(Options(root=str(tmp_path / "state")), "client", str(bundle))
    return found


@pytest.mark.parametrize("name", _fixtures())
def test_client_config_passes(name, tmp_path):
    _passes(json.loads((CLIENTS / name).read_text()), tmp_path)


def test_fixtures_are_there():
    assert {"podman-config.json", "containerd-config.json", "cri-container-config.json"} <= set(_fixtures())


def test_podman_device_file_mode_passes_and_strict_lists_it(tmp_path):
    found = _passes(_podman_device_fuse(), tmp_path)
    strays = [f.text() for f in found if f.severity == STRICT and f.path == "linux.devices[0].fileMode"]
    assert strays == ["config.json: linux.devices[0].fileMode: 8630 (0o20666) is more than permission bits "
                      "(the spec allows 0 to 0o777); pyrunc, like runc, uses 0o666 and the device type "
                      "from `type`"]


def test_cri_rshared_passes_and_strict_lists_it(tmp_path):
    found = _passes(json.loads((CLIENTS / "cri-container-config.json").read_text()), tmp_path)
    assert [f.text() for f in found if f.severity == STRICT and f.path == "linux.rootfsPropagation"] == [
        'config.json: linux.rootfsPropagation: "rshared" is not one of the spec\'s four values; '
        "pyrunc, like runc, applies it recursively"]
