# ruff: noqa: S603, S607 - commands are built here from fixed tool names found on PATH
"""Bring the single-node cluster up and down; see the package docstring for what it runs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import string
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil
import yaml

from tools.cluster import build, configs, pki, versions
from tools.cluster.configs import Layout
from tools.image.engine import docker_cli
from tools.iptables import delete_chains
from tools.locks import exclusive_lock
from tools.mounts import unmount, unmount_below
from tools.stack.processes import RunningProcess, free_ports, start_detached, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR = REPO_ROOT / ".cluster"
ADDONS_DIR = Path(__file__).resolve().parent / "addons"
NODE_NAME = "bazaar-node"
# Ports are probed from here: below the stack's (29000) and above the fixtures' (20000), below
# the ephemeral range (32768-60999) that is busy on these machines.
FIRST_PORT = 26000
PORT_NAMES = (
    "apiserver",
    "etcd",
    "etcd_peer",
    "kubelet",
    "kubelet_healthz",
    "controller_manager",
    "scheduler",
    "kube_proxy_healthz",
    "kube_proxy_metrics",
    "containerd_stream",
)
READY_TIMEOUT = 240
STOP_TIMEOUT = 30
REQUIRED_TOOLS = {
    "containerd": "containerd",
    "runc": "runc",
    "ctr": "containerd",
    "iptables": "iptables",
    "conntrack": "conntrack",
    "socat": "socat",
    "openssl": "openssl",
    "gcc": "gcc",
    "ip": "iproute2",
}
CLUSTER_CHAINS = ("KUBE-", "CNI-")
# Enough for a release with bundled Postgres and Redis, twice over (an upgrade test, say).
LOCAL_VOLUMES = 6
LOCAL_VOLUME_SIZE = "20Gi"
VOLUME_LABEL = "bazaar.local/volume"
SYSCTLS = {"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1"}


class ClusterError(RuntimeError):
    """The cluster could not be brought to the requested state; the message says why."""


def node_ip() -> str:
    """The address of the interface of the default route: the node's InternalIP."""
    route = subprocess.run(
        ["ip", "-4", "-o", "route", "get", "1.1.1.1"], capture_output=True, text=True, check=True
    ).stdout.split()
    return route[route.index("src") + 1]


def systemd_is_init() -> bool:
    return Path("/proc/1/comm").read_text().strip() == "systemd"


class Cluster:
    def __init__(self, state_dir: Path = STATE_DIR) -> None:
        self.layout = Layout(state_dir)
        self.state_file = state_dir / "state.json"
        self._state: dict = {}

    # --- commands ---------------------------------------------------------------------------

    def up(self) -> None:
        started = time.monotonic()
        with self._lock():
            previous = self._load_state()
            if previous and self._is_healthy(previous):
                # A changed image (a rebuilt probe, say) replaces the one the cluster has.
                self._import_images(build.build_all())
                print(f"The cluster is already running; KUBECONFIG={self.layout.kubeconfig}")
                return
            if previous or self.layout.containerd_root.exists():
                print("A previous cluster is partly running; stopping it first.")
                self._teardown(previous)
            self._check_tools()
            images = build.build_all()
            self._state = {
                "ports": dict(
                    zip(PORT_NAMES, free_ports(len(PORT_NAMES), FIRST_PORT), strict=True)
                ),
                "node_ip": node_ip(),
                "node_name": NODE_NAME,
                "netns_before": sorted(_netns()),
                "processes": [],
            }
            self._save_state()
            try:
                self._start_everything(images)
            except (ClusterError, subprocess.CalledProcessError, OSError) as error:
                print(f"Start failed ({error}); the logs are in {self.layout.logs}. Stopping.")
                self._teardown(self._state, keep_logs=True)
                raise ClusterError(str(error)) from error
        print(f"Cluster up in {time.monotonic() - started:.0f} s: node {NODE_NAME} Ready.")
        print(f"  export KUBECONFIG={self.layout.kubeconfig}")

    def down(self) -> None:
        with self._lock():
            state = self._load_state()
            if not state and not self.layout.root.exists():
                print("No cluster is running.")
                return
            self._teardown(state)
        print("Cluster stopped; nothing of it is left running.")

    def print_status(self) -> bool:
        state = self._load_state()
        if not state:
            print("No cluster is running.")
            return False
        for process in self._processes(state):
            alive = "up" if process.is_alive() else "DOWN"
            print(f"  {process.name:<24} pid {process.pid:<8} {alive}")
        healthy = self._is_healthy(state)
        readiness = "ready" if healthy else "NOT ready"
        print(f"API server https://127.0.0.1:{state['ports']['apiserver']}: {readiness}")
        print(f"  export KUBECONFIG={self.layout.kubeconfig}")
        return healthy

    # --- kubectl ----------------------------------------------------------------------------

    def kubectl(
        self, *arguments: str, input_text: str | None = None, check: bool = True, timeout=120
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(build.binaries()["kubectl"]), "--kubeconfig", str(self.layout.kubeconfig),
             *arguments],
            input=input_text, capture_output=True, text=True, check=check, timeout=timeout,
        )  # fmt: skip

    # --- start ------------------------------------------------------------------------------

    def _start_everything(self, images: dict[str, Path]) -> None:
        layout, ports, ip = self.layout, self._state["ports"], self._state["node_ip"]
        for key, value in SYSCTLS.items():
            Path("/proc/sys", key).write_text(value)
        for directory in (layout.config, layout.logs, layout.cni_conf_dir, layout.etcd_data):
            directory.mkdir(parents=True, exist_ok=True)
        pki.ensure(
            layout.pki, node_name=NODE_NAME, node_ip=ip, service_ip=configs.KUBERNETES_SERVICE_IP
        )
        self._write_configs()

        self._start("containerd", ["containerd", "--config", layout.config / "containerd.toml"])
        self._wait("containerd", lambda: self._ctr("version", check=False).returncode == 0, 60)
        self._import_images(images)

        binaries = build.binaries()
        self._start("etcd", [binaries["etcd"], *self._etcd_flags()])
        self._start("kube-apiserver", [binaries["kube-apiserver"], *self._apiserver_flags()])
        self._wait(
            "kube-apiserver",
            lambda: self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0,
            120,
        )
        pki_dir, config = layout.pki, layout.config
        self._start("kube-controller-manager", [
            binaries["kube-controller-manager"],
            *self._component_kubeconfig_flags("controller-manager"),
            f"--secure-port={ports['controller_manager']}", "--bind-address=127.0.0.1",
            "--leader-elect=false", "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki_dir / 'sa.key'}",
            f"--root-ca-file={pki_dir / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki_dir / 'ca.crt'}",
            f"--cluster-signing-key-file={pki_dir / 'ca.key'}",
            f"--service-cluster-ip-range={configs.SERVICE_CIDR}",
            # The HPA's scale-in wait: short, so tests see it scale back in minutes.
            "--horizontal-pod-autoscaler-downscale-stabilization=1m",
        ])  # fmt: skip
        self._start("kube-scheduler", [
            binaries["kube-scheduler"], *self._component_kubeconfig_flags("scheduler"),
            f"--secure-port={ports['scheduler']}", "--bind-address=127.0.0.1",
            "--leader-elect=false",
        ])  # fmt: skip
        self._start("kubelet", [
            binaries["kubelet"], f"--config={config / 'kubelet.yaml'}",
            f"--kubeconfig={config / 'kubelet.kubeconfig'}", f"--hostname-override={NODE_NAME}",
            f"--node-ip={ip}", f"--root-dir={layout.kubelet_root}",
        ])  # fmt: skip
        self._start(
            "kube-proxy", [binaries["kube-proxy"], f"--config={config / 'kube-proxy.yaml'}"]
        )
        self._wait("node Ready", self._node_ready, READY_TIMEOUT)

        for addon in ("coredns", "metrics-server"):
            self.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-",
                         input_text=self._addon(addon))  # fmt: skip
        for deployment in ("coredns", "metrics-server"):
            result = self.kubectl(
                "-n", "kube-system", "rollout", "status", f"deployment/{deployment}",
                f"--timeout={READY_TIMEOUT}s", check=False, timeout=READY_TIMEOUT + 10,
            )  # fmt: skip
            if result.returncode != 0:
                raise ClusterError(f"{deployment} did not become available: {result.stderr}")
        self._wait("the metrics API", self._metrics_api_available, READY_TIMEOUT)
        self._create_local_volumes()

    def _create_local_volumes(self) -> None:
        """hostPath PersistentVolumes under ``.cluster/volumes`` for claims that name no
        StorageClass (a StatefulSet's volumeClaimTemplates, say): this cluster has no volume
        provisioner. A hostPath gets no fsGroup, so each folder is writable by any pod user."""
        volumes = []
        for index in range(1, LOCAL_VOLUMES + 1):
            folder = self.layout.root / "volumes" / f"local-{index}"
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o777)
            volumes.append({
                "apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": f"local-{index}", "labels": {VOLUME_LABEL: "hostpath"}},
                "spec": {
                    "capacity": {"storage": LOCAL_VOLUME_SIZE},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "",
                    "hostPath": {"path": str(folder), "type": "Directory"},
                },
            })  # fmt: skip
        self.kubectl("apply", "--server-side", "-f", "-", input_text=yaml.safe_dump_all(volumes))

    def reclaim_volumes(self) -> list[str]:
        """Empty the local volumes whose claim is gone (``Released``) and make them
        ``Available`` again, as a provisioner's delete-and-create would; their names."""
        listed = self.kubectl("get", "pv", "-l", VOLUME_LABEL, "-o", "json")
        reclaimed = []
        for volume in json.loads(listed.stdout)["items"]:
            if volume["status"].get("phase") != "Released":
                continue
            folder = Path(volume["spec"]["hostPath"]["path"])
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            folder.chmod(0o777)
            self.kubectl("patch", "pv", volume["metadata"]["name"], "--type=json",
                         "-p", '[{"op": "remove", "path": "/spec/claimRef"}]')  # fmt: skip
            reclaimed.append(volume["metadata"]["name"])
        return reclaimed

    def _write_configs(self) -> None:
        layout, ports, ip = self.layout, self._state["ports"], self._state["node_ip"]
        config = layout.config
        (config / "containerd.toml").write_text(
            configs.containerd_config(
                layout, stream_port=ports["containerd_stream"], systemd_cgroup=systemd_is_init()
            )
        )
        (layout.cni_conf_dir / "10-bazaar.conflist").write_text(configs.cni_config(layout))
        local = f"https://127.0.0.1:{ports['apiserver']}"
        for user in ("admin", "controller-manager", "scheduler", "kube-proxy", "kubelet"):
            target = layout.kubeconfig if user == "admin" else config / f"{user}.kubeconfig"
            target.write_text(
                configs.kubeconfig(server=local, pki=layout.pki, user=user, name="bazaar")
            )
            target.chmod(0o600)
        (config / "kubelet.yaml").write_text(
            configs.kubelet_config(
                layout, node_ip=ip, port=ports["kubelet"], healthz_port=ports["kubelet_healthz"]
            )
        )
        (config / "kube-proxy.yaml").write_text(
            configs.kube_proxy_config(
                layout,
                node_name=NODE_NAME,
                healthz_port=ports["kube_proxy_healthz"],
                metrics_port=ports["kube_proxy_metrics"],
            )
        )

    def load_docker_images(
        self, references: Sequence[str], env: Mapping[str, str] | None = None
    ) -> None:
        """``docker save REF... | ctr images import -``: images a Docker engine built, into the
        cluster's containerd (pods then use them with ``imagePullPolicy: Never``). ``env``
        names the engine (``DOCKER_HOST``), the caller's environment by default."""
        if not self._is_healthy(self._load_state()):
            raise ClusterError("no cluster is running; start it with make cluster")
        save = subprocess.Popen(
            [str(docker_cli()), "save", *references],
            stdout=subprocess.PIPE,
            env=dict(env or os.environ),
        )
        imported = subprocess.run(
            ["ctr", "--address", str(self.layout.containerd_socket), "--namespace", "k8s.io",
             "images", "import", "--snapshotter", "overlayfs", "-"],
            stdin=save.stdout, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if save.wait() != 0 or imported.returncode != 0:
            raise ClusterError(f"docker save | ctr import failed: {imported.stderr}")
        print(imported.stdout, end="")

    def _import_images(self, images: dict[str, Path]) -> None:
        for tarball in images.values():
            self._ctr("images", "import", "--snapshotter", "overlayfs", str(tarball))

    def _etcd_flags(self) -> list[str]:
        client = f"http://127.0.0.1:{self._state['ports']['etcd']}"
        peer = f"http://127.0.0.1:{self._state['ports']['etcd_peer']}"
        return [
            "--name=default", f"--data-dir={self.layout.etcd_data}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            # A throw-away dev cluster on a disk shared by several builds: fsync latency, not
            # durability, is what would make it slow.
            "--unsafe-no-fsync",
        ]  # fmt: skip

    def _apiserver_flags(self) -> list[str]:
        p, ports = self.layout.pki, self._state["ports"]
        return [
            f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
            f"--secure-port={ports['apiserver']}", "--bind-address=0.0.0.0",
            f"--advertise-address={self._state['node_ip']}",
            f"--service-cluster-ip-range={configs.SERVICE_CIDR}",
            f"--tls-cert-file={p / 'apiserver.crt'}",
            f"--tls-private-key-file={p / 'apiserver.key'}",
            f"--client-ca-file={p / 'ca.crt'}",
            f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
            f"--kubelet-certificate-authority={p / 'ca.crt'}",
            "--kubelet-preferred-address-types=InternalIP",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={p / 'sa.pub'}",
            f"--service-account-signing-key-file={p / 'sa.key'}",
            "--authorization-mode=Node,RBAC",
            # The default admission plugins (PodSecurity among them) plus NodeRestriction.
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            f"--requestheader-client-ca-file={p / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-username-headers=X-Remote-User",
            f"--proxy-client-cert-file={p / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={p / 'front-proxy-client.key'}",
            "--enable-aggregator-routing=true",
        ]  # fmt: skip

    def _component_kubeconfig_flags(self, user: str) -> list[str]:
        path = self.layout.config / f"{user}.kubeconfig"
        return [f"--kubeconfig={path}", f"--authentication-kubeconfig={path}",
                f"--authorization-kubeconfig={path}"]  # fmt: skip

    def _addon(self, name: str) -> str:
        return string.Template((ADDONS_DIR / f"{name}.yaml").read_text()).substitute(
            CLUSTER_DOMAIN=configs.CLUSTER_DOMAIN,
            DNS_SERVICE_IP=configs.DNS_SERVICE_IP,
            COREDNS_IMAGE=versions.COREDNS_IMAGE,
            METRICS_SERVER_IMAGE=versions.METRICS_SERVER_IMAGE,
        )

    def _start(self, name: str, command: Sequence[object]) -> None:
        process = start_detached(
            name, command, env=dict(os.environ), cwd=self.layout.root,
            log_path=self.layout.logs / f"{name}.log",
        )  # fmt: skip
        self._state["processes"].append(process.to_json())
        self._save_state()

    def _wait(self, what: str, condition, timeout: float) -> None:
        def alive_and_ready() -> bool:
            dead = [p.name for p in self._processes(self._state) if not p.is_alive()]
            if dead:
                raise ClusterError(f"{', '.join(dead)} exited; see {self.layout.logs}")
            return condition()

        if not wait_until(alive_and_ready, timeout, interval=0.5):
            raise ClusterError(f"{what} not ready after {timeout:.0f} s")

    def _ctr(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["ctr", "--address", str(self.layout.containerd_socket), "--namespace", "k8s.io",
             *arguments],
            capture_output=True, text=True, check=check, timeout=120,
        )  # fmt: skip

    def _node_ready(self) -> bool:
        result = self.kubectl(
            "get", "node", NODE_NAME, "-o",
            'jsonpath={.status.conditions[?(@.type=="Ready")].status}', check=False,
        )  # fmt: skip
        return result.stdout.strip() == "True"

    def _metrics_api_available(self) -> bool:
        result = self.kubectl(
            "get", "apiservice", "v1beta1.metrics.k8s.io", "-o",
            'jsonpath={.status.conditions[?(@.type=="Available")].status}', check=False,
        )  # fmt: skip
        return result.stdout.strip() == "True"

    # --- stop -------------------------------------------------------------------------------

    def _teardown(self, state: dict, *, keep_logs: bool = False) -> None:
        """Stop everything and remove what the cluster made; safe to run on a partial cluster."""
        processes = {p.name: p for p in self._processes(state)}
        for name in ("kube-controller-manager", "kube-scheduler"):
            if name in processes:
                processes[name].stop(STOP_TIMEOUT)
        if "kube-apiserver" in processes and processes["kube-apiserver"].is_alive():
            # Deleting every pod makes the kubelet stop each sandbox, which runs CNI DEL: the
            # veth, the address and the port-map rules go the way they came.
            self.kubectl("delete", "pods", "--all", "--all-namespaces", "--grace-period=0",
                         "--force", "--wait=false", check=False)  # fmt: skip
            if self.layout.containerd_socket.exists():
                wait_until(lambda: not self._running_sandboxes(), 60, interval=1)
        for name in ("kubelet", "kube-proxy", "kube-apiserver", "etcd"):
            if name in processes:
                processes[name].stop(STOP_TIMEOUT)
        kube_proxy = build.binaries()["kube-proxy"]
        if kube_proxy.exists():
            subprocess.run([str(kube_proxy), "--cleanup"], capture_output=True, check=False)
        if "containerd" in processes and processes["containerd"].is_alive():
            self._remove_all_containers()
        if "containerd" in processes:
            processes["containerd"].stop(STOP_TIMEOUT)
        self._kill_shims()
        self._sweep(set(state.get("netns_before", [])))
        for child in self.layout.root.iterdir() if self.layout.root.exists() else ():
            if keep_logs and child == self.layout.logs:
                continue
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        with contextlib.suppress(OSError):
            self.layout.root.rmdir()  # unless the logs of a failed start are kept there

    def _running_sandboxes(self) -> list[str]:
        result = self._ctr("tasks", "ls", "-q", check=False)
        return result.stdout.split()

    def _remove_all_containers(self) -> None:
        for task in self._running_sandboxes():
            self._ctr("tasks", "kill", "-s", "SIGKILL", task, check=False)
        wait_until(lambda: not self._running_sandboxes(), 20)
        for container in self._ctr("containers", "ls", "-q", check=False).stdout.split():
            self._ctr("tasks", "delete", "-f", container, check=False)
            self._ctr("containers", "delete", container, check=False)

    def _kill_shims(self) -> None:
        """Shims outlive containerd by design; ours are the ones told our socket's address."""
        address = str(self.layout.containerd_socket)
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if cmdline and "containerd-shim" in cmdline[0] and address in cmdline:
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.send_signal(signal.SIGKILL)

    def _sweep(self, netns_before: set[str]) -> None:
        """What a killed pod or kubelet would leave: mounts, netns, the bridge, CNI chains,
        cgroups, the kubelet's log links."""
        unmount_below(self.layout.root)
        for name in _netns() - netns_before:
            path = Path("/var/run/netns") / name
            unmount(path)
            with contextlib.suppress(OSError):
                path.unlink()
        subprocess.run(["ip", "link", "delete", configs.BRIDGE], capture_output=True, check=False)
        delete_chains(CLUSTER_CHAINS)
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            _remove_cgroup_tree(hierarchy / "kubepods")
        for cached in Path("/var/lib/cni/results").glob(f"{configs.CNI_NETWORK}-*"):
            cached.unlink()
        shutil.rmtree(Path("/var/lib/cni/networks") / configs.CNI_NETWORK, ignore_errors=True)
        log_dir = self.layout.root / "pod-logs"
        for link in Path("/var/log/containers").glob("*.log"):
            if link.is_symlink() and str(os.readlink(link)).startswith(str(log_dir)):
                link.unlink()

    # --- state ------------------------------------------------------------------------------

    def _processes(self, state: dict) -> list[RunningProcess]:
        return [RunningProcess(**p) for p in state.get("processes", [])]

    def _is_healthy(self, state: dict) -> bool:
        self._state = state
        processes = self._processes(state)
        return (
            len(processes) == 7
            and all(p.is_alive() for p in processes)
            and self.kubectl("get", "--raw", "/readyz", check=False).returncode == 0
            and self._node_ready()
        )

    def _check_tools(self) -> None:
        missing = sorted({pkg for tool, pkg in REQUIRED_TOOLS.items() if not shutil.which(tool)})
        for plugin in ("bridge", "host-local", "loopback", "portmap"):
            if not Path(configs.CNI_BIN_DIR, plugin).exists():
                missing.append("containernetworking-plugins")
                break
        if not list(Path("/usr/lib").glob("*-linux-gnu/libc.a")):
            missing.append("libc6-dev")  # the static pause binary
        if not shutil.which("go"):
            raise ClusterError(
                "go (1.24 or newer) is not on PATH; the cluster builds from Go modules"
            )
        if missing and os.geteuid() == 0:
            print(f"Installing Debian packages: {' '.join(missing)}")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
            subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
        elif missing:
            raise ClusterError(
                f"missing Debian packages; run: apt-get install -y {' '.join(missing)}"
            )

    def _load_state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def _save_state(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(self._state, indent=2))

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        return exclusive_lock(self.layout.root.with_name(".cluster.lock"))


def _netns() -> set[str]:
    directory = Path("/var/run/netns")
    return {path.name for path in directory.iterdir()} if directory.exists() else set()


def _remove_cgroup_tree(path: Path) -> None:
    if not path.is_dir():
        return
    for child in path.iterdir():
        if child.is_dir():
            _remove_cgroup_tree(child)
    with contextlib.suppress(OSError):
        path.rmdir()
