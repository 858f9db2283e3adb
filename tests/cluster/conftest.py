"""The ``cluster`` fixture: the local Kubernetes of ``make cluster``, once per session.

The fixture runs ``python -m tools.cluster up`` (which returns once the node is Ready and
CoreDNS and metrics-server are available; it builds what is missing first), yields a
``RunningCluster`` with kubectl bound to ``.cluster/kubeconfig``, and runs ``down`` at the end
of the session unless the cluster was already up before it, in which case it is left running.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tools.cluster import build, versions

REPO_ROOT = Path(__file__).resolve().parents[2]
KUBECONFIG = REPO_ROOT / ".cluster" / "kubeconfig"
# A cold machine builds Kubernetes, etcd, CoreDNS and metrics-server first (4-10 min on 2 cores).
UP_TIMEOUT = 1800


def run_cluster_command(
    *arguments: str, timeout: float = UP_TIMEOUT
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.cluster", *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# What Pod Security "restricted" asks of a pod and of its containers.
RESTRICTED_POD = {"runAsNonRoot": True, "runAsUser": 65532,
                  "seccompProfile": {"type": "RuntimeDefault"}}  # fmt: skip
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def probe_container(*arguments: str, **extra) -> dict:
    """A container of the probe image (``probe dns NAME``, ``probe http URL``, ``probe spin``)."""
    return {
        "name": "probe",
        "image": versions.PROBE_IMAGE,
        "imagePullPolicy": "Never",
        "args": list(arguments),
        "securityContext": RESTRICTED_CONTAINER,
        **extra,
    }


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The first test pays for the cold build and start: beyond the suite's 300 s timeout."""
    for item in items:
        if Path(item.path).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.timeout(UP_TIMEOUT + 300))


class RunningCluster:
    def __init__(self, *, started_here: bool) -> None:
        self.started_here = started_here
        self.kubeconfig = KUBECONFIG

    def kubectl(
        self, *arguments: str, input_text: str | None = None, check: bool = True, timeout=180
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(build.binaries()["kubectl"]), "--kubeconfig", str(self.kubeconfig), *arguments],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(arguments)} failed:\n{result.stderr}")
        return result

    def apply(self, objects: list[dict], *extra: str) -> subprocess.CompletedProcess:
        return self.kubectl("apply", "--server-side", "-f", "-", *extra,
                            input_text=yaml.safe_dump_all(objects), check=False)  # fmt: skip

    def namespace(self, *, labels: dict[str, str] | None = None) -> str:
        """A new namespace (deleted with the cluster, or by the caller)."""
        name = f"test-{uuid.uuid4().hex[:8]}"
        self.apply([{"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": name, "labels": labels or {}}}])  # fmt: skip
        return name

    def run_probe(self, namespace: str, *arguments: str, timeout: float = 90) -> tuple[str, str]:
        """Run the probe image once in a pod that passes Pod Security "restricted"; the pod's
        final phase and its output."""
        name = f"probe-{uuid.uuid4().hex[:8]}"
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "restartPolicy": "Never",
                "securityContext": RESTRICTED_POD,
                "containers": [probe_container(*arguments)],
            },
        }  # fmt: skip
        created = self.apply([pod])
        assert created.returncode == 0, created.stderr
        deadline = time.monotonic() + timeout
        phase = ""
        while time.monotonic() < deadline:
            status = self.kubectl("-n", namespace, "get", "pod", name, "-o", "json")
            phase = json.loads(status.stdout)["status"].get("phase", "")
            if phase in ("Succeeded", "Failed"):
                break
            time.sleep(1)
        logs = self.kubectl("-n", namespace, "logs", name, check=False).stdout
        return phase, logs


@pytest.fixture(scope="session")
def cluster() -> Iterator[RunningCluster]:
    already_running = (
        KUBECONFIG.exists() and run_cluster_command("status", timeout=60).returncode == 0
    )
    result = run_cluster_command("up")
    if result.returncode != 0:
        pytest.fail(f"make cluster failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    running = RunningCluster(started_here=not already_running)
    try:
        yield running
    finally:
        if running.started_here:
            run_cluster_command("down", timeout=300)
