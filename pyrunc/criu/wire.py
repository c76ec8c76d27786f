"""The protobuf wire format of the CRIU RPC messages pyrunc sends and reads.

Why our own codec: Debian's pycriu (rpc_pb2) needs python3-protobuf in
dist-packages, which pyrunc's venv does not see, and the generated module
plus protobuf's runtime cost ~50 ms to import. The messages are few and
fixed: this module holds their fields (numbers and types from CRIU's
rpc.proto, which is the protocol) and encodes a dict to bytes and back.
tests/unit/test_criu_wire.py round-trips it against rpc_pb2 where that is
importable.

Place in the flow: pyrunc.criu.swrk encodes criu_req and decodes criu_resp.
"""

from pyrunc.errors import WireError

# kinds: "i" int32 (varint, negatives as 10 bytes), "u" uint32/enum, "b" bool,
# "s" string, or a message name; a trailing "*" marks a repeated field
SCHEMA: dict = {
    "criu_page_server_info": {1: ("address", "s"), 2: ("port", "i"), 3: ("pid", "i"), 4: ("fd", "i")},
    "ext_mount_map": {1: ("key", "s"), 2: ("val", "s")},
    "join_namespace": {1: ("ns", "s"), 2: ("ns_file", "s"), 3: ("extra_opt", "s")},
    "inherit_fd": {1: ("key", "s"), 2: ("fd", "i")},
    "cgroup_root": {1: ("ctrl", "s"), 2: ("path", "s")},
    "criu_opts": {
        1: ("images_dir_fd", "i"), 2: ("pid", "i"), 3: ("leave_running", "b"), 4: ("ext_unix_sk", "b"),
        5: ("tcp_established", "b"), 6: ("evasive_devices", "b"), 7: ("shell_job", "b"),
        8: ("file_locks", "b"), 9: ("log_level", "i"), 10: ("log_file", "s"),
        11: ("ps", "criu_page_server_info"), 12: ("notify_scripts", "b"), 13: ("root", "s"),
        14: ("parent_img", "s"), 15: ("track_mem", "b"), 16: ("auto_dedup", "b"), 17: ("work_dir_fd", "i"),
        18: ("link_remap", "b"), 22: ("exec_cmd", "s*"), 23: ("ext_mnt", "ext_mount_map*"),
        24: ("manage_cgroups", "b"), 25: ("cg_root", "cgroup_root*"), 26: ("rst_sibling", "b"),
        27: ("inherit_fd", "inherit_fd*"), 28: ("auto_ext_mnt", "b"), 29: ("ext_sharing", "b"),
        30: ("ext_masters", "b"), 31: ("skip_mnt", "s*"), 32: ("enable_fs", "s*"),
        34: ("manage_cgroups_mode", "u"), 37: ("external", "s*"), 38: ("empty_ns", "u"),
        39: ("join_ns", "join_namespace*"), 44: ("freeze_cgroup", "s"), 45: ("timeout", "u"),
        48: ("lazy_pages", "b"), 49: ("status_fd", "i"), 50: ("orphan_pts_master", "b"),
        53: ("lsm_profile", "s"), 60: ("cgroup_yard", "s"), 63: ("lsm_mount_context", "s"),
        64: ("network_lock", "u"),
    },
    "criu_dump_resp": {1: ("restored", "b")},
    "criu_restore_resp": {1: ("pid", "i")},
    "criu_notify": {1: ("script", "s"), 2: ("pid", "i")},
    "criu_features": {1: ("mem_track", "b"), 2: ("lazy_pages", "b"), 3: ("pidfd_store", "b")},
    "criu_version": {1: ("major_number", "i"), 2: ("minor_number", "i"), 3: ("gitid", "s"),
                     4: ("sublevel", "i"), 5: ("extra", "i"), 6: ("name", "s")},
    "criu_req": {1: ("type", "u"), 2: ("opts", "criu_opts"), 3: ("notify_success", "b"),
                 4: ("keep_open", "b"), 5: ("features", "criu_features"), 6: ("pid", "u")},
    "criu_resp": {1: ("type", "u"), 2: ("success", "b"), 3: ("dump", "criu_dump_resp"),
                  4: ("restore", "criu_restore_resp"), 5: ("notify", "criu_notify"),
                  6: ("ps", "criu_page_server_info"), 7: ("cr_errno", "i"), 8: ("features", "criu_features"),
                  9: ("cr_errmsg", "s"), 10: ("version", "criu_version"), 11: ("status", "i")},
}

# criu_req_type
EMPTY, DUMP, RESTORE, CHECK, PRE_DUMP, PAGE_SERVER, NOTIFY = 0, 1, 2, 3, 4, 5, 6
FEATURE_CHECK, VERSION = 9, 10
TYPE_NAMES = {0: "EMPTY", 1: "DUMP", 2: "RESTORE", 3: "CHECK", 4: "PRE_DUMP", 5: "PAGE_SERVER", 6: "NOTIFY",
              7: "CPUINFO_DUMP", 8: "CPUINFO_CHECK", 9: "FEATURE_CHECK", 10: "VERSION", 11: "WAIT_PID",
              12: "PAGE_SERVER_CHLD", 13: "SINGLE_PRE_DUMP"}
# criu_cg_mode, by the name runc's --manage-cgroups-mode takes
CG_MODES = {"ignore": 0, "none": 1, "props": 2, "soft": 3, "full": 4, "strict": 5}


def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode(message: str, values: dict) -> bytes:
    """`values` (field name -> value; lists for repeated fields, dicts for
    messages) as the bytes of `message`; fields left out or None are absent."""
    fields = SCHEMA[message]
    out = bytearray()
    for number in sorted(fields):
        name, kind = fields[number]
        value = values.get(name)
        if value is None:
            continue
        repeated = kind.endswith("*")
        kind = kind.rstrip("*")
        for item in (value if repeated else (value,)):
            if kind in ("i", "u", "b"):
                out += _varint(number << 3) + _varint(int(item))
            else:
                data = item.encode() if kind == "s" else encode(kind, item)
                out += _varint(number << 3 | 2) + _varint(len(data)) + data
    unknown = set(values) - {n for n, _ in fields.values()}
    if unknown:
        raise WireError(f"{message}: no field {', '.join(sorted(unknown))}")
    return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple:
    shift = result = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise WireError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode(message: str, data: bytes) -> dict:
    """The fields of `message` in `data` by name; unknown fields are skipped,
    as protobuf does, so a newer CRIU's answers still decode."""
    fields = SCHEMA[message]
    out: dict = {}
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            raw, pos = _read_varint(data, pos)
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise WireError("truncated field")
            raw, pos = data[pos:pos + size], pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            raw, pos = data[pos:pos + size], pos + size
        else:
            raise WireError(f"wire type {wire}")
        if number not in fields:
            continue
        name, kind = fields[number]
        repeated = kind.endswith("*")
        kind = kind.rstrip("*")
        if kind == "i":
            value = raw - (1 << 64) if raw >= 1 << 63 else raw
            value = value - (1 << 32) if value >= 1 << 31 else value
        elif kind == "u":
            value = raw
        elif kind == "b":
            value = bool(raw)
        elif kind == "s":
            value = bytes(raw).decode(errors="replace")
        else:
            value = decode(kind, bytes(raw))
        if repeated:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out
