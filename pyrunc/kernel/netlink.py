"""rtnetlink, the few requests linux.netDevices needs: find a link, set it
up or down, move it (renamed) into another network namespace, list and add
its addresses.

Raw NETLINK_ROUTE through the socket module: five message shapes do not
warrant a library (pyroute2 would cost its import and a dependency for
them). Parent-side only (pyrunc.lifecycle.netdevices). A socket talks to the network
namespace it was created in; `socket_in(ns_fd)` makes one in another
namespace by switching this thread there and back.
"""
import errno
import os
import socket
import struct

from pyrunc.kernel import syscalls as k

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE, NLM_F_DUMP = 0x1, 0x4, 0x200, 0x400, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
IFLA_IFNAME, IFLA_NET_NS_FD = 3, 28
IFA_ADDRESS, IFA_LOCAL, IFA_FLAGS = 1, 2, 8
IFA_F_PERMANENT = 0x80
RT_SCOPE_UNIVERSE = 0
IFF_UP = 0x1

_NLMSGHDR = struct.Struct("=IHHII")     # len, type, flags, seq, pid
_IFINFOMSG = struct.Struct("=BxHiII")   # family, type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBi")    # family, prefixlen, flags, scope, index
_RTA = struct.Struct("=HH")


def _align(n):
    return (n + 3) & ~3


def attr(kind, data):
    if isinstance(data, str):
        data = data.encode() + b"\0"
    raw = _RTA.pack(_RTA.size + len(data), kind) + data
    return raw + b"\0" * (_align(len(raw)) - len(raw))


def parse_attrs(buf):
    out = {}
    while len(buf) >= _RTA.size:
        length, kind = _RTA.unpack_from(buf)
        if length < _RTA.size:
            break
        out[kind & 0x3FFF] = buf[_RTA.size:length]
        buf = buf[_align(length):]
    return out


class Socket:
    """One rtnetlink socket: request() for an ACKed change, dump() for a listing."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.seq = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.close()

    def _send(self, kind, flags, payload):
        self.seq += 1
        self.sock.send(_NLMSGHDR.pack(_NLMSGHDR.size + len(payload), kind, flags | NLM_F_REQUEST,
                                      self.seq, 0) + payload)
        return self.seq

    def _replies(self, seq):
        while True:
            data = self.sock.recv(65536)
            while len(data) >= _NLMSGHDR.size:
                length, kind, _flags, got_seq, _pid = _NLMSGHDR.unpack_from(data)
                body, data = data[_NLMSGHDR.size:length], data[_align(length):]
                if got_seq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    err = -struct.unpack_from("=i", body)[0]
                    if err:
                        raise OSError(err, os.strerror(err))
                    return
                yield kind, body

    def request(self, kind, payload, flags=0):
        for _ in self._replies(self._send(kind, flags | NLM_F_ACK, payload)):
            pass

    def dump(self, kind, payload):
        return list(self._replies(self._send(kind, NLM_F_DUMP, payload)))

    def link_index(self, name):
        """The index of the link called `name` here; OSError(ENODEV) if none."""
        seq = self._send(RTM_GETLINK, 0, _IFINFOMSG.pack(0, 0, 0, 0, 0) + attr(IFLA_IFNAME, name))
        for _kind, body in self._replies(seq):
            return _IFINFOMSG.unpack_from(body)[2]
        raise OSError(errno.ENODEV, os.strerror(errno.ENODEV))

    def set_up(self, index, up):
        self.request(RTM_NEWLINK, _IFINFOMSG.pack(0, 0, index, IFF_UP if up else 0, IFF_UP))

    def move(self, index, name, ns_fd):
        """Into the namespace of `ns_fd`, renamed to `name` in the same request:
        a clash with a name already there fails instead of leaving the link
        half-moved under its old name."""
        self.request(RTM_NEWLINK, _IFINFOMSG.pack(0, 0, index, 0, 0) + attr(IFLA_IFNAME, name)
                     + attr(IFLA_NET_NS_FD, struct.pack("=I", ns_fd)))

    def addresses(self, index):
        """[(family, prefixlen, scope, flags, address bytes)] of one link."""
        out = []
        for _kind, body in self.dump(RTM_GETADDR, _IFADDRMSG.pack(0, 0, 0, 0, 0)):
            family, prefixlen, flags, scope, idx = _IFADDRMSG.unpack_from(body)
            if idx != index:
                continue
            attrs = parse_attrs(body[_IFADDRMSG.size:])
            if IFA_FLAGS in attrs:
                flags = struct.unpack("=I", attrs[IFA_FLAGS][:4])[0]
            address = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if address:
                out.append((family, prefixlen, scope, flags, address))
        return out

    def add_address(self, index, family, prefixlen, scope, address):
        payload = (_IFADDRMSG.pack(family, prefixlen, 0, scope, index)
                   + attr(IFA_LOCAL, address) + attr(IFA_ADDRESS, address))
        self.request(RTM_NEWADDR, payload, NLM_F_CREATE | NLM_F_EXCL)


def socket_in(ns_fd):
    """An rtnetlink Socket in the network namespace of `ns_fd`: this thread
    goes there for the socket() call only (setns of a network namespace is
    per thread, so other threads of ours never see it)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        k.setns(ns_fd, k.CLONE_NEWNET)
        try:
            return Socket()
        finally:
            k.setns(home, k.CLONE_NEWNET)
    finally:
        os.close(home)
