"""CRIU, as pyrunc's checkpoint and restore drive it: wire.py encodes and
decodes the RPC messages of CRIU's rpc.proto, swrk.py runs one `criu swrk`
session over a socketpair (requests, notifications, the response), host.py
says whether CRIU works here (`criu check`, for `features` and the tests).

Place in the flow: below pyrunc.lifecycle.checkpoint and .restore, which are
the only callers; nothing here is imported by another verb, so none of them
pays for it.
"""
