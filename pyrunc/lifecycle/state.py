"""`state` and `list`: runc's state JSON for one container, or for all
under --root. Hot: shims call `state` constantly; it takes no lock and
imports nothing heavy.
"""

from pyrunc import SPEC_VERSION, jsonio
from pyrunc.errors import ContainerNotFound, PyruncError
from pyrunc.lifecycle import load, status_of
from pyrunc.store import status as st
from pyrunc.store import list_ids


def state(opts, cid):
    cdir, record = load(opts, cid, lock=False)
    with cdir:
        return state_json(record, status_of(cdir, record))


def list_containers(opts):
    out = []
    for cid in list_ids(opts.root):
        try:
            cdir, record = load(opts, cid, lock=False)
        except ContainerNotFound:
            continue  # deleted while we listed
        except PyruncError as exc:
            # one bad record must not hide the others (runc: "load container X: ...")
            opts.log.warn(str(exc))
            continue
        with cdir:
            out.append(state_json(record, status_of(cdir, record)))
    return out


def state_json(record, status):
    """runc's `state` output shape."""
    out = {
        "ociVersion": SPEC_VERSION,
        "id": record.get("id"),
        "pid": record.get("pid", 0) if status != st.STOPPED else 0,
        "status": status,
        "bundle": record.get("bundle", ""),
        "rootfs": record.get("rootfs", ""),
        "created": record.get("created", ""),
        "owner": record.get("owner", ""),
    }
    if record.get("annotations"):
        out["annotations"] = record["annotations"]
    return out


def to_json(obj):
    return jsonio.dumps(obj, indent=2)
