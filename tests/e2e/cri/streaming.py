"""The client side of the CRI streaming server, as `kubectl exec` reaches it
through kubelet: the URL the Exec RPC returns, upgraded to a WebSocket with
the `v4.channel.k8s.io` subprotocol (each binary frame: one channel byte,
1 stdout, 2 stderr, 3 the final status as JSON, then the data).

containerd's streaming server listens on 127.0.0.1 in containerd's network
namespace, so the connection is made from a thread that joined it
(netns.NetNS.run). The client never sends a frame: a stdin it attaches
stays empty and is closed with the connection.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import struct
import urllib.parse

from tests.e2e.cri.netns import NetNS

PROTOCOL = "v4.channel.k8s.io"


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the streaming server closed the connection mid-frame")
        data += chunk
    return data


def _frames(sock: socket.socket):
    """Yield (opcode, payload) of the server's frames (unmasked, RFC 6455)."""
    while True:
        head = sock.recv(2)
        if not head:
            return
        if len(head) == 1:
            head += _recv_exact(sock, 1)
        opcode, size = head[0] & 0x0F, head[1] & 0x7F
        if size == 126:
            size = struct.unpack(">H", _recv_exact(sock, 2))[0]
        elif size == 127:
            size = struct.unpack(">Q", _recv_exact(sock, 8))[0]
        yield opcode, _recv_exact(sock, size)
        if opcode == 0x8:  # close
            return


def _stream(url: str, timeout: float) -> dict[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {parts.path}?{parts.query} HTTP/1.1\r\n" if parts.query else
                      f"GET {parts.path} HTTP/1.1\r\n").encode() + (
            f"Host: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {PROTOCOL}\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                raise ConnectionError(f"no upgrade from the streaming server: {head!r}")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"the streaming server refused the upgrade: {head!r}")
        channels: dict[int, bytes] = {}
        for opcode, payload in _frames(sock):
            if opcode in (0x1, 0x2) and payload:
                channels[payload[0]] = channels.get(payload[0], b"") + payload[1:]
        return channels
    finally:
        sock.close()


def exec_stream(netns: NetNS, url: str, timeout: float = 30) -> tuple[bytes, bytes, dict]:
    """Run the exec behind `url`; return (stdout, stderr, final status)."""
    channels = netns.run(lambda: _stream(url, timeout))
    status = json.loads(channels.get(3) or b"{}")
    return channels.get(1, b""), channels.get(2, b""), status
