"""A private containerd with its CRI plugin on, and a CRI v1 client: what
kubelet drives, aimed at two runtime handlers, `pyrunc` (the runtime under
test) and `runc` (the control).

Confined like the other e2e clients (tests/e2e/clients.py), and more:
containerd gets its own root, state, socket, opt dir, CNI config and runtime
roots in a temp dir; its own network namespace (netns.py: CNI's bridge and
host-side veths, the registry on 127.0.0.1 and "host network" pods all land
there), its own mount namespace (container mounts stay out of the host's
table; a shared tmpfs there serves the propagation tests) and its own cgroup
under the pods' test parent (a runtime resolving a path relative to its own
cgroup stays under pyrunc-test). Images come from the local registry
(registry.py): the busybox image the tests pull and the sandbox ("pause")
image, a static busybox `sleep`.

Host specifics are config, not code: root lacks CAP_SYS_RESOURCE here, so
`restrict_oom_score_adj = true` (or even runc fails on the sandbox's
negative oomScoreAdj); SystemdCgroup follows whether systemd is PID 1 (the
kubeadm default there), and then the pods' cgroup parent is a slice of our
own, as kubelet's `kubepods-*.slice` are: containerd writes cgroupsPath as
`PARENT.slice:cri-containerd:ID` and the runtimes make a transient scope.
Waits and deadlines stretch by PYRUNC_TEST_TIME_SCALE (the guest under TCG).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import grpc
from cri_api.v1 import api_pb2 as pb
from cri_api.v1 import api_pb2_grpc

from tests import support
from tests.e2e import images
from tests.e2e.clients import (HostTraces, cgroup_mount_points, containerd_config, log_tail,
                               mounts_under, pids_mentioning, remove_cgroup_tree, settle,
                               stop_daemon, stop_slice)
from tests.e2e.cri.netns import NetNS, private_mount_ns
from tests.e2e.cri.registry import Registry

NAMESPACE = "k8s.io"  # containerd's namespace for everything the CRI makes
DAEMON_CGROUP = "daemon"  # containerd's (and its shims') cgroup, below the pods' parent
# fork/exec under qemu TCG is 20-70x slower: tests/vm sets the factor
TIME_SCALE = float(os.environ.get("PYRUNC_TEST_TIME_SCALE", "1"))


def scaled(seconds: float) -> float:
    """A wait or deadline calibrated on the host, stretched for this machine."""
    return seconds * TIME_SCALE
CNI_BIN = "/usr/lib/cni"  # Debian's containernetworking-plugins
# libcni's result cache: no containerd option moves it
CNI_HOST_TRACES = ("/var/lib/cni/results", "/var/lib/cni")


def handlers() -> list[str]:
    """The runtime handlers the CRI tests run under: pyrunc and its control,
    or runc alone when runc is the runtime under test."""
    return ["runc"] if support.is_runc() else ["pyrunc", "runc"]


def systemd_pid1() -> bool:
    """systemd is PID 1: the handlers run with SystemdCgroup = true."""
    return os.path.isdir("/run/systemd/system")


def expand_slice(name: str) -> str:
    """systemd's path for a slice: `a-b.slice` is `a.slice/a-b.slice`."""
    if name == "-.slice":
        return ""
    parts = name[:-len(".slice")].split("-")
    return "/".join("-".join(parts[:i + 1]) + ".slice" for i in range(len(parts)))


class CriContainerd:
    """containerd (CRI on) + registry + netns + a CRI client, for one test module."""

    def __init__(self, base: Path):
        self.base = base
        self.socket = base / "containerd.sock"
        # the runtime under test (this checkout's, or the guest's launcher;
        # runc when runc is under test) and runc, the control
        self.binaries = {"pyrunc": Path(support.runtime_binary()),
                         "runc": Path(shutil.which("runc") or "runc")}
        self.runtime_roots = {h: base / "rt" / h for h in self.binaries}
        self.log_dir = base / "pod-logs"
        # a shared mount in containerd's own mount namespace, for hostPath
        # volumes with Bidirectional / HostToContainer propagation
        self.shared_dir = base / "shared"
        # every pod's cgroup parent: under the suite's test parent, or with
        # systemd a slice of our own ('-' would nest it in another slice);
        # containerd's own cgroup is under the test parent either way
        tag = uuid.uuid4().hex[:8]
        self.systemd = systemd_pid1()
        self.daemon_parent = f"/{support.TEST_CGROUP_PARENT}/cri-{tag}"
        self.cgroup_parent = f"pyrunc_test_cri_{tag}.slice" if self.systemd else self.daemon_parent
        self.netns: NetNS | None = None
        self.registry: Registry | None = None
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.channel = None
        self.rt = None
        self.img = None
        self.image = self.pause_image = ""
        self.traces = HostTraces([*CNI_HOST_TRACES, "/run/containerd/s", "/run/containerd"])

    # --- set-up -----------------------------------------------------------------
    def setup(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.netns = NetNS()
        self.registry = Registry(self.base / "registry", self.netns)
        self.registry.start()
        layer = images.rootfs_tar(self.base / "rootfs.tar")
        self.image = self.registry.push(layer, "pyrunc-e2e/busybox", "test")
        self.pause_image = self.registry.push(layer, "pyrunc-e2e/pause", "test", cmd=(),
                                              entrypoint=("/bin/sleep", "1000000000"))
        layer.unlink()
        config = self._write_config()
        self._log = open(self.base / "containerd.log", "wb")
        procs = self._daemon_cgroup()

        self.shared_dir.mkdir()

        def confine():
            self.netns.enter()
            private_mount_ns(str(self.shared_dir))
            for path in procs:  # "0": the writer, before it execs containerd
                with open(path, "w") as f:
                    f.write("0")
        self.proc = subprocess.Popen(["containerd", "--config", str(config)],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, preexec_fn=confine)
        self.channel = grpc.insecure_channel(f"unix://{self.socket}")
        self.rt = api_pb2_grpc.RuntimeServiceStub(self.channel)
        self.img = api_pb2_grpc.ImageServiceStub(self.channel)
        deadline = time.monotonic() + scaled(30)
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"containerd exited {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status = self.rt.Status(pb.StatusRequest(), timeout=scaled(5))
                if all(c.status for c in status.status.conditions):
                    break
            except grpc.RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"containerd's CRI did not come up:\n{self.log_tail()}")
            time.sleep(0.1)

    def _daemon_cgroup(self) -> list[str]:
        """Make DAEMON_CGROUP under our parent in every hierarchy; return the
        cgroup.procs files to join. containerd and its shims live there, so
        what a runtime takes as a path relative to its own cgroup (runc: the
        systemd form `x.slice:cri-containerd:ID` without --systemd-cgroup)
        lands under the test parent too, and is removed with it."""
        rel = f"{self.daemon_parent}/{DAEMON_CGROUP}".lstrip("/")
        procs = []
        for mount in sorted(cgroup_mount_points()):
            if not mount.startswith("/sys/fs/cgroup"):
                continue
            path = mount
            v1 = not os.path.exists(os.path.join(mount, "cgroup.controllers"))
            for part in rel.split("/"):
                parent, path = path, os.path.join(path, part)
                os.makedirs(path, exist_ok=True)
                # a v1 cpuset starts empty (v2's empty one means "the parent's";
                # its root has no such file)
                for knob in ("cpuset.cpus", "cpuset.mems") if v1 else ():
                    mine = os.path.join(path, knob)
                    if os.path.exists(mine) and not open(mine).read().strip():
                        with open(mine, "w") as f:
                            f.write(open(os.path.join(parent, knob)).read())
            procs.append(os.path.join(path, "cgroup.procs"))
        return procs

    def _write_config(self) -> Path:
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        cni_conf = self.base / "cni" / "net.d"
        cni_conf.mkdir(parents=True)
        (cni_conf / "10-pyrunc.conflist").write_text(json.dumps({
            "cniVersion": "1.0.0", "name": "pyrunc-cri",
            "plugins": [{
                # no gateway, no masquerade: no forwarding, no iptables rules
                "type": "bridge", "bridge": "cni-pyrunc0", "isGateway": False,
                "ipMasq": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.0.0/16"}]],
                         "dataDir": str(self.base / "cni" / "ipam")},
            }],
        }))
        runtimes = ""
        for handler, binary in self.binaries.items():
            runtimes += (
                f"[{cri}.containerd.runtimes.{handler}]\n"
                '  runtime_type = "io.containerd.runc.v2"\n'
                f"[{cri}.containerd.runtimes.{handler}.options]\n"
                f'  BinaryName = "{binary}"\n'
                f'  Root = "{self.runtime_roots[handler]}"\n'
                f"  SystemdCgroup = {'true' if self.systemd else 'false'}\n")
        config = self.base / "config.toml"
        config.write_text(containerd_config(self.base, self.socket, plugins=(
            f"[{cri}]\n"
            f'  sandbox_image = "{self.pause_image}"\n'
            # root here lacks CAP_SYS_RESOURCE: no negative oom_score_adj
            "  restrict_oom_score_adj = true\n"
            "  netns_mounts_under_state_dir = true\n"
            "  disable_apparmor = true\n"
            "  stats_collect_period = 1\n"
            f"[{cri}.cni]\n"
            f'  bin_dir = "{CNI_BIN}"\n'
            f'  conf_dir = "{cni_conf}"\n'
            f"[{cri}.containerd]\n"
            '  default_runtime_name = "runc"\n'
            + runtimes)))
        return config

    def cgroups_path(self, cid: str) -> str:
        """The cgroupsPath containerd writes for a container of our pods."""
        if self.cgroup_parent.endswith(".slice"):
            return f"{self.cgroup_parent}:cri-containerd:{cid}"
        return f"{self.cgroup_parent}/{cid}"

    def cgroup_dirs(self, cid: str) -> list[str]:
        """Where the container's cgroup is, in every hierarchy: the systemd
        driver's scope `cri-containerd-ID.scope` in the expanded slice, or
        the cgroupfs path."""
        if self.systemd:
            rel = f"{expand_slice(self.cgroup_parent)}/cri-containerd-{cid}.scope"
        else:
            rel = f"{self.cgroup_parent.lstrip('/')}/{cid}"
        return [os.path.join(m, rel) for m in sorted(cgroup_mount_points())
                if m.startswith("/sys/fs/cgroup")]

    def mounts(self) -> list[str]:
        """containerd's mount table (its own namespace: rootfs overlays, shm,
        netns files and the shims' and runtimes' mounts are there)."""
        try:
            with open(f"/proc/{self.proc.pid}/mountinfo") as f:
                return f.read().splitlines()
        except (OSError, AttributeError):
            return []

    def in_daemon_mount_ns(self, code: str) -> None:
        """Run python `code` (libc is `libc`) in containerd's mount namespace:
        a fresh interpreter, single-threaded as setns(CLONE_NEWNS) needs."""
        prologue = ("import ctypes, os\n"
                    "libc = ctypes.CDLL(None, use_errno=True)\n"
                    f"fd = os.open('/proc/{self.proc.pid}/ns/mnt', os.O_RDONLY)\n"
                    "assert libc.setns(fd, 0x00020000) == 0, os.strerror(ctypes.get_errno())\n")
        subprocess.run([sys.executable, "-I", "-c", prologue + code], check=True, timeout=scaled(30),
                       stdin=subprocess.DEVNULL, capture_output=True)

    def log_tail(self, n: int = 30) -> str:
        return log_tail(self.base / "containerd.log", n)

    # --- tear-down ------------------------------------------------------------------
    def leftovers(self) -> list[str]:
        left = []
        if self.rt is not None and self.proc and self.proc.poll() is None:
            left += [f"pod sandbox {s.id} ({s.metadata.name})"
                     for s in self.rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=scaled(10)).items]
            left += [f"container {c.id} ({c.metadata.name})"
                     for c in self.rt.ListContainers(pb.ListContainersRequest(), timeout=scaled(10)).containers]
        left += [f"mount {line.split()[4]} (in containerd's namespace)" for line in self.mounts()
                 if line.split()[4].startswith(str(self.base) + "/")
                 and line.split()[4] != str(self.shared_dir)]
        for handler, root in self.runtime_roots.items():
            ns_root = root / NAMESPACE
            if ns_root.is_dir():
                # dot-names are the runtime's own (pyrunc's config-verdict cache)
                left += [f"{handler} state dir {p}" for p in ns_root.iterdir()
                         if not p.name.startswith(".")]
        return left

    def teardown(self) -> list[str]:
        left = []
        if self.proc and self.proc.poll() is None:
            try:
                left = self.leftovers()
                for s in self.rt.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=scaled(10)).items:
                    self.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=s.id), timeout=scaled(30))
                    self.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=s.id), timeout=scaled(30))
            except grpc.RpcError as exc:
                left.append(f"clean-up through the CRI failed: {exc}")
            left += stop_daemon(self.proc, "containerd")
        if self.channel is not None:
            self.channel.close()
        if self._log:
            self._log.close()
        if self.registry:
            left += self.registry.stop()
        settle(self.base)  # the shims exit (and remove their sockets) just after containerd
        late = [f"process {pid}: {cmd}" for pid, cmd in pids_mentioning(str(self.base))]
        late += [f"mount {m}" for m in mounts_under(self.base)]
        stuck = stop_slice(self.cgroup_parent) if self.systemd else []
        stuck += remove_cgroup_tree(self.daemon_parent)
        if self.netns:
            self.netns.close()
        if not late:
            shutil.rmtree(self.base, ignore_errors=True)
        for p in self.traces.absent:
            if p.startswith("/var/lib/cni"):
                shutil.rmtree(p, ignore_errors=True)  # libcni's cache, made by this run
        self.traces.remove()
        return left + late + [f"cgroup {c}" for c in stuck]

    # --- the CRI calls the tests make ------------------------------------------
    def pull(self) -> str:
        return self.img.PullImage(pb.PullImageRequest(image=pb.ImageSpec(image=self.image)),
                                  timeout=scaled(60)).image_ref

    def run_pod(self, handler: str, *, host_network: bool = False,
                share_pid: bool = False, privileged: bool = False,
                sysctls: dict[str, str] | None = None, cgroup_parent: str = "") -> "Pod":
        """A pod as kubelet asks for one: its own network (CNI) or the host's
        (here: containerd's namespace), a pid namespace per container unless
        `share_pid` (shareProcessNamespace), and a hostname only with its own
        network (kubelet sends none for host-network pods, which share the
        host's UTS namespace)."""
        name = f"pod-{handler}-{uuid.uuid4().hex[:8]}"
        options = pb.NamespaceOption(network=pb.NODE if host_network else pb.POD,
                                     pid=pb.POD if share_pid else pb.CONTAINER)
        config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=uuid.uuid4().hex, namespace="pyrunc-e2e"),
            hostname="" if host_network else name, log_directory=str(self.log_dir / name),
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=cgroup_parent or self.cgroup_parent, sysctls=sysctls or {},
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=options,
                                                                privileged=privileged)))
        resp = self.rt.RunPodSandbox(pb.RunPodSandboxRequest(config=config, runtime_handler=handler),
                                     timeout=scaled(60))
        support.ISSUED_IDS.add(resp.pod_sandbox_id)  # its cgroup is this session's
        return Pod(self, handler, resp.pod_sandbox_id, config)


def _verbose_info(resp) -> dict:
    return json.loads(resp.info["info"])


class Pod:
    """One pod sandbox and the CRI calls about it and its containers."""

    def __init__(self, cri: CriContainerd, handler: str, pod_id: str, config):
        self.cri = cri
        self.rt = cri.rt
        self.handler = handler
        self.id = pod_id
        self.config = config
        self.log_dir = Path(config.log_directory)
        self.made: list[str] = []  # containers created and not yet removed

    def status(self):
        return self.rt.PodSandboxStatus(pb.PodSandboxStatusRequest(pod_sandbox_id=self.id,
                                                                   verbose=True), timeout=scaled(30))

    def info(self) -> dict:
        """containerd's verbose info: pid, runtimeSpec, ..."""
        return _verbose_info(self.status())

    def create(self, command: list[str], *, args=(), security=None, resources=None,
               mounts=(), name: str = "c") -> str:
        name = f"{name}-{uuid.uuid4().hex[:8]}"
        # kubelet repeats the pod's namespace modes in every container's
        # security context: that, not the sandbox's, is what containerd reads
        security = security or pb.LinuxContainerSecurityContext()
        security.namespace_options.CopyFrom(self.config.linux.security_context.namespace_options)
        linux = pb.LinuxContainerConfig(security_context=security, resources=resources)
        config = pb.ContainerConfig(
            metadata=pb.ContainerMetadata(name=name), image=pb.ImageSpec(image=self.cri.image),
            command=command, args=list(args), log_path=f"{name}.log", linux=linux,
            mounts=list(mounts))
        cid = self.rt.CreateContainer(pb.CreateContainerRequest(
            pod_sandbox_id=self.id, config=config, sandbox_config=self.config), timeout=scaled(60)).container_id
        support.ISSUED_IDS.add(cid)
        self.made.append(cid)
        return cid

    def start(self, cid: str) -> None:
        self.rt.StartContainer(pb.StartContainerRequest(container_id=cid), timeout=scaled(60))

    def run(self, command: list[str], **kw) -> str:
        cid = self.create(command, **kw)
        self.start(cid)
        return cid

    def container(self, cid: str):
        return self.rt.ContainerStatus(pb.ContainerStatusRequest(container_id=cid, verbose=True),
                                       timeout=scaled(30))

    def container_info(self, cid: str) -> dict:
        return _verbose_info(self.container(cid))

    def wait_exited(self, cid: str, timeout: float = 20):
        deadline = time.monotonic() + scaled(timeout)
        while True:
            st = self.container(cid).status
            if st.state == pb.CONTAINER_EXITED or time.monotonic() > deadline:
                return st
            time.sleep(0.05)

    def exec_sync(self, cid: str, cmd: list[str], timeout: int = 20):
        timeout = int(scaled(timeout))
        return self.rt.ExecSync(pb.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=timeout),
                                timeout=timeout + scaled(10))

    def stop_container(self, cid: str, grace: int) -> None:
        self.rt.StopContainer(pb.StopContainerRequest(container_id=cid, timeout=grace),
                              timeout=grace + scaled(30))

    def remove_container(self, cid: str) -> None:
        self.rt.RemoveContainer(pb.RemoveContainerRequest(container_id=cid), timeout=scaled(30))
        if cid in self.made:
            self.made.remove(cid)

    def stop(self) -> None:
        self.rt.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=self.id), timeout=scaled(60))

    def remove(self) -> None:
        self.rt.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=self.id), timeout=scaled(60))

    def traces(self, ids, pids=(), netns: str | None = None) -> list[str]:
        """What the runtime left of these containers/sandbox: state dirs under
        its root, cgroups, mounts, the netns file, processes."""
        left = []
        root = self.cri.runtime_roots[self.handler] / NAMESPACE
        left += [f"state dir {root / i}" for i in ids if (root / i).exists()]
        left += [f"cgroup {path}" for i in ids for path in self.cri.cgroup_dirs(i)
                 if os.path.isdir(path)]
        left += [f"mount {line.split()[4]}" for line in self.cri.mounts()
                 if any(i in line for i in ids)]
        if netns and os.path.exists(netns):
            left.append(f"netns {netns}")
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        left.append(f"process {pid}")
            except OSError:
                pass
        return left
