"""Offline images for the e2e suite, built from bundles/busybox/rootfs.

No registry is reachable, so both clients get their busybox image from the
rootfs that bundles/build-rootfs.sh made: a plain layer tarball (podman
imports it), and a hand-made OCI image layout tar around that same layer
(`ctr images import` reads it), or the same blobs pushed to a local
registry (tests/e2e/cri/). Everything is written into a directory the
caller owns.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from tests import support

IMAGE_NAME = "localhost/pyrunc-e2e/busybox:test"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def _reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # reproducible and owned by root whatever the checkout's owner is
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    return info


def rootfs_tar(dest: Path) -> Path:
    """The busybox rootfs as an uncompressed layer tarball."""
    if not (support.BUSYBOX_ROOTFS / "bin" / "busybox").exists():
        raise RuntimeError("run bundles/build-rootfs.sh first")
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(support.BUSYBOX_ROOTFS.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(support.BUSYBOX_ROOTFS)),
                    recursive=False, filter=_reset)
    return dest


def _blob(tar: tarfile.TarFile, data: bytes) -> tuple[str, int]:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    info = _reset(tarfile.TarInfo("blobs/sha256/" + digest.split(":", 1)[1]))
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
    return digest, len(data)


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def image_blobs(layer: Path, *, cmd=("/bin/sh",), entrypoint=()) -> tuple[dict[str, bytes], bytes]:
    """The blobs of a one-layer image (layer, config) by digest, and its manifest.

    What both an OCI layout tar and a registry push are made of."""
    layer_bytes = layer.read_bytes()
    layer_digest = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    image_config: dict = {"Cmd": list(cmd), "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}
    if entrypoint:
        image_config["Entrypoint"] = list(entrypoint)
    config_bytes = _json({
        "architecture": "amd64", "os": "linux",
        "config": image_config,
        # uncompressed layer: its diff id is its own digest
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    })
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    manifest = _json({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer_digest, "size": len(layer_bytes)}],
    })
    return {layer_digest: layer_bytes, config_digest: config_bytes}, manifest


def oci_archive(dest: Path, layer: Path, name: str = IMAGE_NAME) -> Path:
    """An OCI image layout tar (oci-layout, index.json, blobs) with one layer."""
    blobs, manifest = image_blobs(layer)
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("blobs", "blobs/sha256"):
            info = _reset(tarfile.TarInfo(d))
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for data in blobs.values():
            _blob(tar, data)
        manifest_digest, manifest_size = _blob(tar, manifest)
        index = {
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": MANIFEST_TYPE,
                "digest": manifest_digest, "size": manifest_size,
                "platform": {"architecture": "amd64", "os": "linux"},
                # containerd names the image from this annotation
                "annotations": {"io.containerd.image.name": name,
                                "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]},
            }],
        }
        for fname, data in (("oci-layout", _json({"imageLayoutVersion": "1.0.0"})),
                            ("index.json", _json(index))):
            info = _reset(tarfile.TarInfo(fname))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return dest
