"""Conformance: SELinux labels on a host where SELinux runs (the tests/vm
guest booted with PYRUNC_VM_LSM=selinux: Debian's reference policy,
permissive, which applies and shows every label as enforcing would).

What runc does, checked from inside the container:
- process.selinuxLabel: the container's process runs with it
  (/proc/self/attr/current), and so does its session keyring, created under
  the label (keycreate) before execve; `exec --process-label` labels the
  exec'd process only, and an exec without it inherits the container's label;
- linux.mountLabel: `context="LABEL"` on the new filesystems runc labels
  (the tmpfs mounts /dev and /dev/shm, devpts, a masked directory's tmpfs:
  shown in /proc/self/mountinfo and as the root's security.selinux), the
  mqueue mount's root relabelled (it takes no context= option), while proc,
  sysfs and bind mounts keep their own labels.

The labels are valid in whatever policy the host loaded: a container type
where the policy has one (Fedora's container_t), else a system type, with
MCS categories no other process has, so a label seen inside came from the
runtime. The container reads what busybox cannot (the keyring's label,
xattrs) with the guest's python3, bound read-only at /usr.

How they can fail: without the runtime's write of the label to attr/exec
(init/apply_security.apply_lsm) attr/current shows the runtime's own label;
without keycreate (apply_security.set_key_label) the keyring has it too;
without context= (init/rootfs.with_mount_label) the mounts show none and
their roots the policy's defaults. Where SELinux is absent the fields are
refused or ignored instead (tests/unit).
"""
from __future__ import annotations

import json
import os

import pytest

from pyrunc.kernel.arch import nr
from tests.conformance import probe

pytestmark = [pytest.mark.requires("root"), pytest.mark.requires("selinux")]

# runs in the container with the guest's python3: what busybox cannot read
INSIDE = r"""
import ctypes, json, os, sys
try:
    out = {"current": open("/proc/self/attr/current").read().strip("\0\n")}
except OSError as exc:
    out = {"current": "errno %d" % exc.errno}
libc = ctypes.CDLL(None, use_errno=True)
buf = ctypes.create_string_buffer(4096)
L = ctypes.c_long
# keyctl(KEYCTL_GET_SECURITY, KEY_SPEC_SESSION_KEYRING, buf, len)
n = libc.syscall(L(int(sys.argv[1])), L(17), L(-3), buf, L(4096))
out["keyring"] = buf.value.decode() if n >= 0 else "errno %d" % ctypes.get_errno()
mounts = {}
for line in open("/proc/self/mountinfo"):
    left, _, right = line.partition(" - ")
    fstype, _, opts = right.rstrip("\n").split(" ", 2)
    mounts[left.split()[4]] = [fstype, opts]
out["mounts"] = mounts
xattrs = {}
for path in sys.argv[2:]:
    try:
        xattrs[path] = os.getxattr(path, "security.selinux").rstrip(b"\0").decode()
    except OSError as exc:
        xattrs[path] = "errno %d" % exc.errno
out["xattrs"] = xattrs
print(json.dumps(out))
"""
LABELLED = ["/dev", "/dev/shm", "/dev/pts"]   # tmpfs, tmpfs, devpts: context=
UNLABELLED = ["/proc", "/sys", "/usr"]        # proc, sysfs, a bind: never context=


def _canonical(context: str) -> str | None:
    """The kernel's form of `context`, or None if the loaded policy rejects it."""
    try:
        fd = os.open("/sys/fs/selinux/context", os.O_RDWR)
    except OSError:
        return None
    try:
        os.write(fd, context.encode())
        return os.read(fd, 4096).rstrip(b"\0").decode()
    except OSError:
        return None
    finally:
        os.close(fd)


def _first_valid(candidates) -> str:
    for context in candidates:
        got = _canonical(context)
        if got:
            return got
    pytest.fail(f"the loaded policy accepts none of {candidates}")


def _own() -> str:
    return open("/proc/self/attr/current").read().strip("\0\n")


def _process_label(cats: str = "c1,c2") -> str:
    user, role, kind = _own().split(":")[:3]
    label = _first_valid([f"system_u:system_r:container_t:s0:{cats}",
                          f"system_u:system_r:initrc_t:s0:{cats}",
                          f"{user}:{role}:{kind}:s0:{cats}"])
    assert label != _own()
    return label


def _mount_label() -> str:
    return _first_valid(["system_u:object_r:container_file_t:s0:c1,c2",
                         "system_u:object_r:tmpfs_t:s0:c1,c2"])


def _masked_dir(cfg) -> str | None:
    """A masked path that is a directory here (runc masks it with a tmpfs)."""
    for path in cfg["linux"].get("maskedPaths") or []:
        if os.path.isdir(path) and not os.path.islink(path):
            return path
    return None


def _with_python(bundle) -> None:
    """The guest's /usr read-only in the container, and the merged-/usr links."""
    bundle.config["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr",
                                    "options": ["rbind", "ro"]})
    for name in ("lib", "lib64"):
        if os.path.isdir(f"/usr/{name}") and not (bundle.rootfs / name).exists():
            (bundle.rootfs / name).symlink_to(f"usr/{name}")


def _inside(runtime, bundle, paths) -> dict:
    _with_python(bundle)
    # (a python3 start under TCG on a loaded machine can take a minute)
    proc = probe.run(runtime, bundle, args=["/usr/bin/python3", "-I", "-c", INSIDE, str(nr("keyctl")), *paths],
                     timeout=240)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_process_label_is_applied_to_the_process_and_its_session_keyring(runtime, bundle):
    label = _process_label()
    bundle.config["process"]["selinuxLabel"] = label
    got = _inside(runtime, bundle, [])
    assert got["current"] == label, got
    assert got["keyring"] == label, got


def test_mount_label_is_applied_to_the_mounts_runc_labels(runtime, bundle):
    label = _mount_label()
    bundle.config["linux"]["mountLabel"] = label
    masked = _masked_dir(bundle.config)
    got = _inside(runtime, bundle, LABELLED + ["/dev/mqueue"] + ([masked] if masked else []))
    mounts, xattrs = got["mounts"], got["xattrs"]
    for point in LABELLED + ([masked] if masked else []):
        assert f'context="{label}"' in mounts[point][1], (point, mounts[point])
        assert xattrs[point] == label, (point, xattrs)
    # mqueue: no context= option, its root relabelled instead
    assert mounts["/dev/mqueue"][0] == "mqueue" and "context=" not in mounts["/dev/mqueue"][1]
    assert xattrs["/dev/mqueue"] == label, xattrs
    for point in UNLABELLED:
        assert "context=" not in mounts[point][1], (point, mounts[point])


def test_without_labels_nothing_is_labelled(runtime, bundle):
    # the control: the same reads show the runtime's own labels and no context=
    got = _inside(runtime, bundle, ["/dev", "/dev/mqueue"])
    label, mount_label = _process_label(), _mount_label()
    assert got["current"] != label and got["keyring"] != label, got
    for point in LABELLED + ["/dev/mqueue"] + UNLABELLED:
        assert "context=" not in got["mounts"][point][1], (point, got["mounts"][point])
    assert mount_label not in got["xattrs"].values(), got


def test_exec_process_label_labels_the_exec_process(runtime, bundle):
    label, other = _process_label(), _process_label("c3,c4")
    bundle.config["process"]["selinuxLabel"] = label
    with probe.running(runtime, bundle, "se") as cid:
        flagged = probe.call(runtime, "exec", "--process-label", other, cid,
                             "sh", "-c", "cat /proc/self/attr/current; echo; cat /proc/1/attr/current")
        inherited = probe.call(runtime, "exec", cid, "cat", "/proc/self/attr/current")
    assert flagged.returncode == 0, flagged.stderr
    assert [s.strip("\0") for s in flagged.stdout.split()] == [other, label], flagged.stdout
    assert inherited.returncode == 0, inherited.stderr
    assert inherited.stdout.strip("\0\n") == label, inherited.stdout  # the container's, as runc
    probe.assert_no_leftovers(runtime, cid, bundle.path)


def test_an_invalid_process_label_fails_create_with_one_line(runtime, bundle):
    bundle.config["process"]["selinuxLabel"] = "no_such_u:no_such_r:no_such_t:s0"
    assert "invalid argument" in probe.create_error(runtime, bundle, "se").lower()
