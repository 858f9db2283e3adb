"""``make cluster-down`` leaves nothing behind: no process, mount, network namespace, bridge,
iptables chain, CNI state or cgroup of the cluster. Runs last (file order): it stops the
cluster, and starts it again when it was running before the session."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from tests.cluster.conftest import REPO_ROOT, run_cluster_command
from tools.cluster import configs, versions

STATE_DIR = REPO_ROOT / ".cluster"
BINARY_CACHE = REPO_ROOT / ".cache" / "cluster" / "bin"


def _pod_with_a_host_port(cluster) -> None:
    """A running pod whose hostPort makes the portmap plugin add its chains (CNI-HOSTPORT-*)."""
    namespace = cluster.namespace()
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "host-port", "namespace": namespace},
        "spec": {"containers": [{
            "name": "pause", "image": versions.PAUSE_IMAGE, "imagePullPolicy": "Never",
            "ports": [{"containerPort": 8080, "hostPort": 25999}],
        }]},
    }  # fmt: skip
    assert cluster.apply([pod]).returncode == 0
    cluster.kubectl("-n", namespace, "wait", "--for=condition=Ready", "pod/host-port",
                    "--timeout=60s")  # fmt: skip


def _cluster_processes() -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["status"] != psutil.STATUS_ZOMBIE and (
            str(STATE_DIR) in cmdline or str(BINARY_CACHE) in cmdline
        ):
            found.append(cmdline[:200])
    return found


def _veths_on_the_bridge() -> list[str]:
    """The host ends of the pods' veth pairs (``ip link show master BRIDGE``)."""
    output = subprocess.run(["ip", "-o", "link", "show", "master", configs.BRIDGE],
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [line.split(": ")[1].split("@")[0] for line in output.splitlines()]


def _chains() -> list[str]:
    chains = []
    for save in ("iptables-save", "ip6tables-save"):
        output = subprocess.run([save], capture_output=True, text=True, check=True).stdout
        chains += [line for line in output.splitlines() if line.startswith((":KUBE-", ":CNI-"))]
    return chains


def test_cluster_down_leaves_nothing_behind(cluster):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("stops the cluster other xdist workers share: run it without -n")
    _pod_with_a_host_port(cluster)
    assert any(chain.startswith(":CNI-HOSTPORT") for chain in _chains())
    assert Path("/var/run/netns").is_dir() and list(Path("/var/run/netns").glob("cni-*"))

    pod_veths = _veths_on_the_bridge()
    assert pod_veths

    started = time.monotonic()
    result = run_cluster_command("down", timeout=300)
    try:
        assert result.returncode == 0, result.stderr
        print(f"cluster-down took {time.monotonic() - started:.1f} s")
        _assert_nothing_is_left()
        remaining = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True,
                                   check=True).stdout  # fmt: skip
        assert [veth for veth in pod_veths if f" {veth}@" in remaining] == []
    finally:
        if not cluster.started_here:
            assert run_cluster_command("up").returncode == 0


def _assert_nothing_is_left() -> None:
    assert _cluster_processes() == []
    mounts = Path("/proc/self/mountinfo").read_text().split("\n")
    assert [m for m in mounts if f" {STATE_DIR}/" in m] == []
    assert list(Path("/var/run/netns").glob("cni-*")) == []
    link = subprocess.run(["ip", "link", "show", configs.BRIDGE], capture_output=True, check=False)
    assert link.returncode != 0, "the bridge is still there"
    assert _chains() == []
    assert list(Path("/var/lib/cni/results").glob(f"{configs.CNI_NETWORK}-*")) == []
    assert not (Path("/var/lib/cni/networks") / configs.CNI_NETWORK).exists()
    assert list(Path("/sys/fs/cgroup").glob("*/kubepods")) == []
    assert not STATE_DIR.exists(), list(STATE_DIR.iterdir())
