"""Every overlay and every chart scenario through the real API server: ``kubectl apply
--server-side --dry-run=server`` runs validation, defaulting, field management and admission
(Pod Security included) beyond what the JSON schemas check. Warnings fail too: a workload that
would violate the namespace's Pod Security level only warns at apply time, then never starts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.chart.helm import NAMESPACE, render, scenario_files
from tools.cluster import crds, versions

REPO_ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = sorted(p.name for p in (REPO_ROOT / "k8s" / "overlays").iterdir() if p.is_dir())
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}


@pytest.fixture(scope="module")
def add_on_crds(cluster):
    applied = cluster.apply(crds.definitions())
    assert applied.returncode == 0, applied.stderr
    names = [crd["metadata"]["name"] for crd in crds.definitions()]
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    *(f"crd/{name}" for name in names))  # fmt: skip


def _dry_run(cluster, objects: list[dict]) -> subprocess.CompletedProcess:
    return cluster.apply(objects, "--dry-run=server", "--field-manager=bazaar-tests")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_is_accepted_by_the_api_server(cluster, overlay):
    built = cluster.kubectl("kustomize", str(REPO_ROOT / "k8s" / "overlays" / overlay))
    objects = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    assert len(namespaces) == 1
    # Namespaced objects cannot be dry-run into a namespace that does not exist: create it.
    created = cluster.apply(namespaces)
    assert created.returncode == 0, created.stderr
    try:
        result = _dry_run(cluster, objects)
        assert result.returncode == 0, result.stderr
        assert "Warning" not in result.stderr, result.stderr
        assert result.stdout.count("serverside-applied (server dry run)") == len(objects)
    finally:
        cluster.kubectl("delete", "namespace", namespaces[0]["metadata"]["name"], "--wait=false")


@pytest.mark.parametrize("scenario", scenario_files(), ids=lambda path: path.stem)
def test_chart_scenario_is_accepted_by_the_api_server(cluster, add_on_crds, scenario):
    """The scenario's objects, hooks and test pods included, into a namespace that enforces
    Pod Security "restricted", as the overlays make it."""
    objects = render([scenario])
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": NAMESPACE, "labels": RESTRICTED}}])  # fmt: skip
    # A pod's admission looks its ServiceAccount up, which a dry run never creates (Helm
    # installs it before any pod): the ServiceAccounts are applied for real first.
    accounts = cluster.apply([o for o in objects if o["kind"] == "ServiceAccount"])
    assert accounts.returncode == 0, accounts.stderr
    result = _dry_run(cluster, objects)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    assert result.stdout.count("(server dry run)") == len(objects)


def test_dev_overlay_applied_for_real_enforces_restricted(cluster):
    """``kubectl apply -k k8s/overlays/dev`` as the k8s README tells ops: the namespace exists
    with its quota, limits and policies, and the API server then refuses a privileged pod in it."""
    overlay = str(REPO_ROOT / "k8s" / "overlays" / "dev")
    applied = cluster.kubectl("apply", "--server-side", "-k", overlay)
    namespace = "bazaar-dev"
    try:
        assert "Warning" not in applied.stderr, applied.stderr
        for kind in ("resourcequota", "limitrange", "networkpolicy", "serviceaccount"):
            assert cluster.kubectl("-n", namespace, "get", kind, "-o", "name").stdout.strip()
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "privileged", "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": versions.PROBE_IMAGE,
                                     "securityContext": {"privileged": True}}]},
        }  # fmt: skip
        refused = cluster.apply([pod])
        assert refused.returncode != 0
        assert 'violates PodSecurity "restricted:latest"' in refused.stderr
    finally:
        cluster.kubectl("delete", "-k", overlay, "--wait=false", check=False)


def test_a_broken_chart_is_refused(cluster, add_on_crds):
    """The check has teeth: the dev scenario with the web Deployment's pod labels no longer
    matching its selector is refused by the API server (no JSON schema sees that)."""
    objects = render([REPO_ROOT / "charts" / "bazaar" / "ci" / "dev-values.yaml"])
    web = next(o for o in objects if o["kind"] == "Deployment" and "web" in o["metadata"]["name"])
    web["spec"]["template"]["metadata"]["labels"] = {"app.kubernetes.io/name": "something-else"}
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace",
                    "metadata": {"name": NAMESPACE, "labels": RESTRICTED}}])  # fmt: skip
    result = _dry_run(cluster, [web])
    assert result.returncode != 0
    assert "`selector` does not match template `labels`" in result.stderr
