"""The Bazaar release on the local cluster, as the k8s README tells ops to make it.

``prepare`` builds the images (``tools/image``: the app image and the twins of Postgres,
PgBouncer, Redis and the exporter), imports them into the cluster's containerd, applies
``k8s/overlays/dev`` (Pod Security "restricted" enforced), the add-ons' CRDs and the release's
peers (``tools/cluster/release/peers.yaml``: the payment-provider simulator and Mailpit).
``Release`` then drives Helm (the v4 engine of ``helm-python-sdk``) with
``k8s/values/dev.yaml`` and ``tools/cluster/release/values.yaml`` and reaches the web Service
at its ClusterIP, which kube-proxy routes from the node itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import helm_python
import httpx
import yaml

from tests.chart.helm import CHART_DIR, load_values
from tests.cluster.conftest import RunningCluster
from tests.load import SteadyLoad
from tools.cluster import crds
from tools.cluster.runner import Cluster
from tools.image import build, versions
from tools.image.engine import Engine

REPO_ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "bazaar-dev"
OVERLAY = REPO_ROOT / "k8s" / "overlays" / "dev"
VALUES_FILES = [
    REPO_ROOT / "k8s" / "values" / "dev.yaml",
    REPO_ROOT / "tools" / "cluster" / "release" / "values.yaml",
]
PEERS = REPO_ROOT / "tools" / "cluster" / "release" / "peers.yaml"
RELEASE_NAME = "bazaar"
HOST = "bazaar.dev.example.com"  # config.allowedHosts of k8s/values/dev.yaml
HELM_TIMEOUT = 600
APP_TAGS = ("v1", "v2")
PEER_IMAGE_TAG = "local"  # peers.yaml and release/values.yaml name bazaar.local/bazaar:local


def prepare(cluster: RunningCluster, engine: Engine) -> dict[str, float]:
    """Images built in ``engine`` and imported, the namespace, the CRDs and the peers in place;
    seconds each step took."""
    seconds = {}
    started = time.monotonic()
    app = build.app_image(engine, APP_TAGS[0])
    for tag in (*APP_TAGS[1:], PEER_IMAGE_TAG):
        engine.docker("tag", app.reference, f"{versions.APP_IMAGE}:{tag}")
    twins = build.twins(engine, ("postgres", "pgbouncer", "pgbouncer-exporter", "redis", "mailpit"))
    seconds["images built"] = time.monotonic() - started

    started = time.monotonic()
    app_references = [f"{versions.APP_IMAGE}:{tag}" for tag in (*APP_TAGS, PEER_IMAGE_TAG)]
    Cluster().load_docker_images([*app_references, *twins.values()], env=engine.env)
    seconds["images imported"] = time.monotonic() - started

    remove(cluster)
    applied = cluster.kubectl("apply", "--server-side", "-k", str(OVERLAY))
    assert "Warning" not in applied.stderr, applied.stderr
    definitions = crds.definitions()
    assert cluster.apply(definitions).returncode == 0
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                    *(f"crd/{crd['metadata']['name']}" for crd in definitions))  # fmt: skip
    peers = cluster.kubectl("-n", NAMESPACE, "apply", "--server-side", "-f", str(PEERS))
    assert "Warning" not in peers.stderr, peers.stderr
    cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deployment/psp", "deployment/mail",
                    "--timeout=180s", timeout=200)  # fmt: skip
    return seconds


def remove(cluster: RunningCluster) -> None:
    """No release, no namespace, every local volume free again: what a failed run or the
    dry-run tests left is gone (``helm uninstall`` keeps a StatefulSet's claims)."""
    Release(cluster).uninstall()
    cluster.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true",
                    "--timeout=300s", timeout=320)  # fmt: skip
    Cluster().reclaim_volumes()


class Release:
    def __init__(self, cluster: RunningCluster) -> None:
        self.cluster = cluster
        self.helm = helm_python.Config(kubeconfig_path=cluster.kubeconfig, namespace=NAMESPACE)

    # --- helm -----------------------------------------------------------------------------

    def values(self, **overrides: Any) -> dict[str, Any]:
        return load_values(VALUES_FILES, overrides)

    def install(self, **overrides: Any) -> dict:
        return self.helm.install(
            str(CHART_DIR), RELEASE_NAME, self.values(**overrides),
            namespace=NAMESPACE, wait="watcher", timeout=HELM_TIMEOUT,
        )  # fmt: skip

    def upgrade(self, **overrides: Any) -> dict:
        return self.helm.upgrade(
            str(CHART_DIR), RELEASE_NAME, self.values(**overrides),
            namespace=NAMESPACE, wait="watcher", timeout=HELM_TIMEOUT,
        )  # fmt: skip

    def rollback(self, revision: int) -> None:
        self.helm.rollback(RELEASE_NAME, version=revision, wait="watcher", timeout=HELM_TIMEOUT)

    def test(self) -> dict:
        return self.helm.test(RELEASE_NAME, timeout=300, logs=True)

    def history(self) -> list[dict]:
        return self.helm.history(RELEASE_NAME)

    def uninstall(self) -> None:
        self.helm.uninstall(RELEASE_NAME, ignore_not_found=True, wait="watcher", timeout=300)

    # --- what runs ------------------------------------------------------------------------

    def get(self, *what: str) -> dict:
        return json.loads(self.cluster.kubectl("-n", NAMESPACE, "get", *what, "-o", "json").stdout)

    def deployments(self) -> list[dict]:
        return self.get("deployments", "-l", f"app.kubernetes.io/instance={RELEASE_NAME}")["items"]

    def pods(self, component: str) -> list[dict]:
        """The component's pods, not counting those already terminating."""
        selector = (
            f"app.kubernetes.io/instance={RELEASE_NAME},app.kubernetes.io/component={component}"
        )
        pods = self.get("pods", "-l", selector)["items"]
        return [pod for pod in pods if "deletionTimestamp" not in pod["metadata"]]

    def exec_in_web(self, *command: str) -> str:
        result = self.cluster.kubectl(
            "-n", NAMESPACE, "exec", f"deployment/{RELEASE_NAME}-web", "-c", "web", "--", *command,
            timeout=300,
        )  # fmt: skip
        return result.stdout

    def service_url(self, name: str, port: int) -> str:
        service = self.get("service", name)
        return f"http://{service['spec']['clusterIP']}:{port}"

    def client(self, **kwargs: Any) -> httpx.Client:
        """The web Service as the ingress reaches it: its host name, TLS ended in front."""
        return httpx.Client(
            base_url=self.service_url(f"{RELEASE_NAME}-web", 80),
            headers={"Host": HOST, "X-Forwarded-Proto": "https"},
            timeout=30,
            **kwargs,
        )

    def load(self, requests: list[tuple[str, Callable]], threads: int = 3) -> SteadyLoad:
        """Browsing from a few threads, a new connection for every request (as many clients
        behind an ingress would open), so each one is routed by kube-proxy afresh."""
        base_url = self.service_url(f"{RELEASE_NAME}-web", 80)

        def fresh_connections(url: str, user: Any) -> httpx.Client:
            return httpx.Client(
                base_url=url, headers={"Host": HOST, "X-Forwarded-Proto": "https"}, timeout=30,
                limits=httpx.Limits(max_keepalive_connections=0),
            )  # fmt: skip

        return SteadyLoad(base_url, requests, threads=threads, make_client=fresh_connections)


def browsing() -> list[tuple[str, Callable[[httpx.Client], httpx.Response]]]:
    return [
        ("list products", lambda http: http.get("/api/v1/products/")),
        ("search", lambda http: http.get("/api/v1/products/", params={"q": "classic"})),
        ("categories", lambda http: http.get("/api/v1/categories/")),
    ]


def manifest_objects(release: dict) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(release["manifest"]) if doc]
