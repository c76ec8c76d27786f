"""A local image registry for the CRI tests: Debian's docker-registry
(distribution 2.8) serving from a temp dir on 127.0.0.1 inside the tests'
network namespace, and a minimal push client (registry HTTP API v2) for the
images tests/e2e/images.py builds offline. containerd's PullImage and its
sandbox-image pull then go through a real registry, with no network.
"""
from __future__ import annotations

import http.client
import socket
import subprocess
import time
from pathlib import Path

from tests.e2e import images
from tests.e2e.clients import log_tail, stop_daemon
from tests.e2e.cri.netns import NetNS

PORT = 5000  # a fresh namespace: every port is free
HOST = f"127.0.0.1:{PORT}"


class Registry:
    def __init__(self, base: Path, netns: NetNS):
        self.base = base
        self.netns = netns
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        config = self.base / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            "storage:\n"
            f"  filesystem:\n    rootdirectory: {self.base / 'data'}\n"
            "http:\n"
            f"  addr: {HOST}\n")
        self._log = open(self.base / "registry.log", "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, preexec_fn=self.netns.enter)
        deadline = time.monotonic() + 20
        while not self.netns.run(self._answers):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("docker-registry did not come up:\n"
                                   + log_tail(self.base / "registry.log"))
            time.sleep(0.05)

    @staticmethod
    def _answers() -> bool:
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=1).close()
            return True
        except OSError:
            return False

    def push(self, layer: Path, repo: str, tag: str, **image) -> str:
        """Push a one-layer image; returns its reference HOST/repo:tag."""
        blobs, manifest = images.image_blobs(layer, **image)
        self.netns.run(lambda: self._push(repo, tag, blobs, manifest))
        return f"{HOST}/{repo}:{tag}"

    @staticmethod
    def _push(repo: str, tag: str, blobs: dict[str, bytes], manifest: bytes) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)

        def call(method, url, body=None, headers=None, want=(200, 201, 202)):
            conn.request(method, url, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status not in want:
                raise RuntimeError(f"registry {method} {url}: {resp.status} {data[:300]!r}")
            return resp
        try:
            for digest, data in blobs.items():
                location = call("POST", f"/v2/{repo}/blobs/uploads/").getheader("Location")
                sep = "&" if "?" in location else "?"
                call("PUT", f"{location}{sep}digest={digest}", body=data,
                     headers={"Content-Type": "application/octet-stream",
                              "Content-Length": str(len(data))})
            call("PUT", f"/v2/{repo}/manifests/{tag}", body=manifest,
                 headers={"Content-Type": images.MANIFEST_TYPE})
        finally:
            conn.close()

    def stop(self) -> list[str]:
        left = stop_daemon(self.proc, "docker-registry") if self.proc else []
        if self._log:
            self._log.close()
        return left
