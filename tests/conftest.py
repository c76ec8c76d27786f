"""pytest wiring: `requires(...)` markers that skip with a reason, the runtime
under test, per-test bundles and roots, and the session-wide clean-up of the
test cgroup parent, which fails the run when one of its cgroups still holds
processes (tests/cgroup_leaks.py)."""
from __future__ import annotations

import os
import shutil
import time

import pytest

from tests import support


def _cgroup2_unified() -> bool:
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def _has_systemd() -> bool:
    return os.path.isdir("/run/systemd/system")


def _userns() -> bool:
    try:
        return int(open("/proc/sys/user/max_user_namespaces").read()) > 0
    except OSError:
        return False


def _unprivileged_userns() -> bool:
    """May a non-root user create a user namespace? The limit, and the
    switches some kernels add (Debian's unprivileged_userns_clone, Ubuntu's
    AppArmor restriction); an absent switch allows it."""
    if not _userns():
        return False
    for path, allowed in (("/proc/sys/kernel/unprivileged_userns_clone", "1"),
                          ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "0")):
        try:
            if open(path).read().strip() != allowed:
                return False
        except OSError:
            pass
    return True


def _apparmor() -> bool:
    """AppArmor enabled as runc tells it (securityfs has it and the module
    says Y), with apparmor_parser to load the tests' profiles."""
    return support.apparmor_enabled() and _have("apparmor_parser")


def _have(binary: str) -> bool:
    return shutil.which(binary) is not None


_CRIU_CHECK: list = []


def _criu_works() -> bool:
    """`criu check` passes on this host (pyrunc.criu.host: CRIU's own probes
    of the kernel); the skip reason is CRIU's first complaint."""
    if not _CRIU_CHECK:
        from pyrunc.criu import host
        _CRIU_CHECK.extend(host.check())
    return _CRIU_CHECK[0]


def _criu_reason() -> str:
    _criu_works()
    return f"CRIU does not work on this host ({_CRIU_CHECK[1]}; runs in the tests/vm guest)"


# name -> (predicate, reason shown when it is false)
REQUIREMENTS = {
    "root": (lambda: os.geteuid() == 0, "needs root"),
    "userns": (_userns, "this kernel has user namespaces disabled"),
    "unprivileged_userns": (_unprivileged_userns, "this kernel lets no unprivileged user create a user namespace"),
    "uidmap": (lambda: _have("newuidmap") and _have("newgidmap"),
               "newuidmap/newgidmap are not installed (scripts/deps/rootless.sh)"),
    "timens": (lambda: os.path.exists("/proc/self/ns/time"), "this kernel has no time namespace"),
    "cgroup_v1": (lambda: os.path.isdir("/sys/fs/cgroup/memory"), "needs cgroup v1 controllers (hybrid or legacy host)"),
    "cgroup_v2": (_cgroup2_unified, "needs a pure cgroup v2 host (runs in the tests/vm guest)"),
    "systemd": (_has_systemd, "needs systemd as PID 1 (runs in the tests/vm guest)"),
    "apparmor": (_apparmor, "needs AppArmor enabled and apparmor_parser (runs in the tests/vm guest)"),
    "no_apparmor": (lambda: not support.apparmor_enabled(), "AppArmor is enabled on this host: nothing to refuse"),
    # the guest's systemd pass (PYRUNC_TEST_SYSTEMD_CGROUP=1) gives every
    # container a systemd-form cgroupsPath: a test that sets a cgroupfs one of
    # its own is about the cgroupfs driver
    "cgroupfs_driver": (lambda: not support.SYSTEMD_CGROUP,
                        "sets a cgroupfs cgroupsPath of its own (this pass runs the systemd driver)"),
    "selinux": (support.selinux_enabled,
                "needs SELinux enabled with a policy loaded (the tests/vm guest booted with PYRUNC_VM_LSM=selinux)"),
    "no_selinux": (lambda: not support.selinux_enabled(), "SELinux is enabled on this host: nothing to refuse"),
    "shared": (lambda: support.SHARED.is_dir(), "../shared is absent"),
    "runc": (lambda: _have("runc"), "runc is not installed"),
    "podman": (lambda: _have("podman"), "podman is not installed"),
    # rootless podman's user-mode network (scripts/deps/rootless-podman.sh)
    "slirp4netns": (lambda: _have("slirp4netns"), "slirp4netns is not installed (scripts/deps/rootless-podman.sh)"),
    "containerd": (lambda: _have("containerd") and _have("ctr"), "containerd is not installed"),
    # tests/e2e/cri: a local registry and the CNI plugins (scripts/deps/cri.sh)
    "cri": (lambda: _have("docker-registry") and os.path.exists("/usr/lib/cni/bridge"),
            "docker-registry or the CNI plugins are not installed (scripts/deps/cri.sh)"),
    "qemu": (lambda: _have("qemu-system-x86_64"), "qemu-system-x86_64 is not installed"),
    # checkpoint/restore (scripts/deps/criu.sh): the reason is computed (a callable)
    "criu": (_criu_works, _criu_reason),
    "criu_binary": (lambda: _have("criu"), "criu is not installed (scripts/deps/criu.sh)"),
}

requires_cgroup_v2 = pytest.mark.requires("cgroup_v2")
requires_systemd = pytest.mark.requires("systemd")


def pytest_runtest_setup(item):
    for mark in item.iter_markers(name="requires"):
        for name in mark.args:
            pred, reason = REQUIREMENTS[name]
            if not pred():
                pytest.skip(reason() if callable(reason) else reason)


@pytest.fixture
def runtime(tmp_path) -> support.Runtime:
    """The runtime under test with a private --root; checks it left no state."""
    root = tmp_path / "state-root"
    rt = support.Runtime(root)
    yield rt
    if root.exists():
        left = [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        for cid in left:  # never leave a container running, then fail
            rt.run("delete", "--force", cid)
        assert not left, f"state dirs left behind: {left}"


@pytest.fixture
def bundle(tmp_path) -> support.Bundle:
    return support.Bundle(tmp_path / "bundle")


@pytest.fixture(autouse=True)
def _no_debug_observer_left_behind():
    """An in-process CLI call with --debug sets a process-wide observer of
    the crash points (pyrunc.log.setup); the next test must not inherit it."""
    yield
    from pyrunc import testhooks as crashpoint
    crashpoint.observer = None


@pytest.fixture(scope="session", autouse=True)
def _remove_test_cgroup_parent():
    yield
    # a process left in one of our cgroups is a leak (a container or exec'd
    # process no delete reached): kill it, clean up, then fail the session
    from tests import cgroup_leaks
    leaks = cgroup_leaks.kill_leaked(support.ISSUED_IDS) if os.geteuid() == 0 else []
    _remove_empty_test_cgroups()
    assert not leaks, "test cgroups still held processes at the end of the run " \
                      "(killed now):\n" + "\n".join(leaks)


def _remove_empty_test_cgroups():
    from tests import cgroup_leaks
    for parent in cgroup_leaks.parents("/sys/fs/cgroup", support.TEST_CGROUP_PARENT):
        # deepest first; only empty cgroups can go, which is the check we want.
        # Another pytest session (a developer's, beside CI) may have made a
        # cgroup a moment ago and not yet put its process in: leave young
        # ones unless they are this session's.
        for dirpath, _dirnames, _ in sorted(os.walk(parent), key=lambda t: -t[0].count("/")):
            try:
                if (dirpath == parent or os.path.basename(dirpath) in support.ISSUED_IDS
                        or time.time() - os.stat(dirpath).st_ctime > 30):
                    os.rmdir(dirpath)
            except OSError:
                pass
