"""Shared test support: which runtime is under test, bundles, leftovers.

The conformance, security and e2e suites drive a real runtime binary. By
default that is this checkout's `pyrunc` (from .venv); with
PYRUNC_TEST_RUNTIME=runc (or a path) the same tests run against runc, which
proves the tests test the spec rather than pyrunc.
"""
from __future__ import annotations

import ast
import copy
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
BUSYBOX_ROOTFS = REPO / "bundles" / "busybox" / "rootfs"
BUSYBOX_CONFIG = REPO / "bundles" / "busybox" / "config.json"
# Every cgroup a test container gets lives below this parent; the session
# fixture removes it (see conftest.py).
TEST_CGROUP_PARENT = "pyrunc-test"


def runtime_binary() -> str:
    name = os.environ.get("PYRUNC_TEST_RUNTIME", "pyrunc")
    if name == "pyrunc":
        venv = REPO / ".venv" / "bin" / "pyrunc"
        return str(venv) if venv.exists() else shutil.which("pyrunc") or "pyrunc"
    return shutil.which(name) or name


def runtime_name() -> str:
    return os.path.basename(os.environ.get("PYRUNC_TEST_RUNTIME", "pyrunc"))


def is_runc() -> bool:
    return runtime_name() == "runc"


# Every id unique_id gave out in this process: a cgroup under the test parent
# named after one is this session's (the end-of-run check in conftest.py).
ISSUED_IDS: set[str] = set()


def unique_id(prefix: str = "t") -> str:
    cid = f"{prefix}-{uuid.uuid4().hex[:10]}"
    ISSUED_IDS.add(cid)
    return cid


def base_config() -> dict:
    """The example busybox config, with no terminal and a test cgroup path."""
    cfg = json.loads(BUSYBOX_CONFIG.read_text())
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["true"]
    return copy.deepcopy(cfg)


def make_rootfs(dest: Path) -> Path:
    """A private copy of the busybox rootfs (the binary hard-linked: cheap)."""
    if not BUSYBOX_ROOTFS.exists():
        raise RuntimeError("run bundles/build-rootfs.sh first")

    def copy_file(src, dst, *, follow_symlinks=True):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst, follow_symlinks=follow_symlinks)

    shutil.copytree(BUSYBOX_ROOTFS, dest, symlinks=True, copy_function=copy_file)
    return dest


class Runtime:
    """Runs the runtime under test with a private --root."""

    def __init__(self, root: Path, binary: str | None = None):
        self.root = root
        self.binary = binary or runtime_binary()

    def argv(self, *args, global_args=()) -> list[str]:
        if SYSTEMD_CGROUP and "--systemd-cgroup" not in global_args:
            global_args = ("--systemd-cgroup", *global_args)
        return [self.binary, "--root", str(self.root), *global_args, *map(str, args)]

    def run(self, *args, check=False, timeout=60, global_args=(), **kw) -> subprocess.CompletedProcess:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        proc = subprocess.run(self.argv(*args, global_args=global_args), timeout=timeout, **kw)
        if kw.get("capture_output") and isinstance(proc.stderr, str):
            assert_no_traceback(proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(self.argv(*args))} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def state(self, cid: str) -> dict:
        return json.loads(self.run("state", cid, check=True).stdout)


def assert_no_traceback(stderr: str) -> None:
    assert "Traceback (most recent call last)" not in stderr, stderr


class Bundle:
    """A bundle directory in a test's tmp_path: config.json + private rootfs."""

    def __init__(self, path: Path, config: dict | None = None):
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.rootfs = make_rootfs(path / "rootfs")
        self.config = config if config is not None else base_config()

    def write(self) -> "Bundle":
        (self.path / "config.json").write_text(json.dumps(self.config, indent=2))
        return self


def apparmor_enabled() -> bool:
    """runc's test (libcontainer/apparmor): securityfs knows AppArmor and
    the module parameter says it is enabled."""
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return os.path.isdir("/sys/kernel/security/apparmor") and f.read().startswith("Y")
    except OSError:
        return False


def selinux_enabled() -> bool:
    """runc's test (go-selinux GetEnabled): a read-write selinuxfs at
    /sys/fs/selinux and a process label other than "kernel" (a policy is loaded)."""
    try:
        if "rw" not in open("/proc/self/mountinfo").read().split(" /sys/fs/selinux ", 1)[1].split()[0].split(","):
            return False
        return open("/proc/self/attr/current").read().strip("\0\n") not in ("", "kernel")
    except (OSError, IndexError):
        return False


# PYRUNC_TEST_SYSTEMD_CGROUP=1 (the guest's second pass, tests/vm/guest-job):
# every runtime call gets --systemd-cgroup and containers' cgroupsPath is in
# systemd form, a scope in system.slice, as podman and containerd ask for it.
SYSTEMD_CGROUP = os.environ.get("PYRUNC_TEST_SYSTEMD_CGROUP") == "1"
SYSTEMD_TEST_PREFIX = "pyrunctest"


# runc 1.1.5's cgroupfs driver on a cgroup v2 host removes the container's
# cgroup with ONE rmdir (fs2 Destroy -> cgroups.RemovePath; only v1's
# RemovePaths retries, runc 1.2 retries both: commit d3d7f7d85). Without a
# pid namespace, destroy SIGKILLs the cgroup's processes but waits only for
# its own children, so the rmdir races the killed (reparented) processes'
# exit and fails EBUSY: delete logs it, exits 0, and the cgroup stays. The
# systemd driver passes: stopping the scope waits for it to empty.
RUNC_V2_RMDIR_GAP = ("runc 1.1.5 (cgroupfs driver, cgroup v2) rmdirs the cgroup once, right after the "
                     "SIGKILL, without waiting for processes it did not fork: EBUSY, the cgroup stays")


def runc_rmdirs_a_v2_cgroup_once() -> bool:
    return is_runc() and os.path.exists("/sys/fs/cgroup/cgroup.controllers") and not SYSTEMD_CGROUP


def cgroup_path_for(cid: str) -> str:
    """The cgroupsPath tests give a container (probe.prepare)."""
    if SYSTEMD_CGROUP:
        return f"system.slice:{SYSTEMD_TEST_PREFIX}:{cid}"
    return f"/{TEST_CGROUP_PARENT}/{cid}"


def cgroup_rel_for(cid: str) -> str:
    """Where that cgroupsPath puts the container below a hierarchy's root, as
    /proc/<pid>/cgroup shows it."""
    if SYSTEMD_CGROUP:
        return f"/system.slice/{SYSTEMD_TEST_PREFIX}-{cid}.scope"
    return f"/{TEST_CGROUP_PARENT}/{cid}"


def host_mounts() -> str:
    with open("/proc/self/mountinfo") as f:
        return f.read()


def live_pids_with_env(marker: str) -> list[int]:
    """Processes whose environment holds `marker` (how tests find containers they made)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def cgroup_dirs_named(name: str) -> list[str]:
    """A container's cgroup directories still there, under the test parent
    or (systemd driver) as the test's scope in system.slice."""
    base = "/sys/fs/cgroup"
    rels = (os.path.join(TEST_CGROUP_PARENT, name),
            os.path.join("system.slice", f"{SYSTEMD_TEST_PREFIX}-{name}.scope"))
    if os.path.exists(os.path.join(base, "cgroup.controllers")):  # pure v2: one tree
        tops = [base]
    else:
        tops = [os.path.join(base, ctrl) for ctrl in os.listdir(base)]
    return [os.path.join(top, rel) for top in tops for rel in rels if os.path.isdir(os.path.join(top, rel))]


def python() -> str:
    return sys.executable


def pyrunc_sources() -> list[tuple[str, str]]:
    """(path from the repo's top, e.g. "pyrunc/kernel/arch.py", its text) for
    every module of pyrunc: for tests that hold a rule over all the code."""
    return [(path.relative_to(REPO).as_posix(), path.read_text())
            for path in sorted((REPO / "pyrunc").rglob("*.py"))]


def pyrunc_nodes(but: str = ""):
    """(path, node) for every syntax node of every module of pyrunc but `but`."""
    for rel, text in pyrunc_sources():
        if rel != but:
            for node in ast.walk(ast.parse(text)):
                yield rel, node
