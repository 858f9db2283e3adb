"""The cluster itself: a Ready node, cluster DNS, the metrics API and Pod Security admission."""

from __future__ import annotations

import json
import time

from tools.cluster import configs, versions


def test_the_node_is_ready_at_the_pinned_version(cluster):
    """The one node is Ready, runs the pinned kubelet on containerd, and is schedulable."""
    node = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert len(node) == 1
    status = node[0]["status"]
    ready = {c["type"]: c["status"] for c in status["conditions"]}["Ready"]
    assert ready == "True"
    assert status["nodeInfo"]["kubeletVersion"] == versions.KUBERNETES
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://1.6")
    assert not node[0]["spec"].get("taints")


def test_the_api_server_reports_the_pinned_version(cluster):
    version = json.loads(cluster.kubectl("version", "-o", "json").stdout)["serverVersion"]
    assert version["gitVersion"] == versions.KUBERNETES


def test_a_pod_resolves_services_through_coredns(cluster):
    """A pod's resolver (the kubelet's clusterDNS) answers kubernetes.default through CoreDNS
    with the API server's Service address."""
    namespace = cluster.namespace()
    phase, output = cluster.run_probe(namespace, "dns", "kubernetes.default")
    assert phase == "Succeeded", output
    assert output.split() == [configs.KUBERNETES_SERVICE_IP]
    phase, output = cluster.run_probe(namespace, "dns", "kube-dns.kube-system.svc.cluster.local")
    assert output.split() == [configs.DNS_SERVICE_IP]
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def test_a_pod_reaches_a_service_through_kube_proxy(cluster):
    """Pod to ClusterIP by name, through kube-proxy's iptables rules and the bridge: CoreDNS's
    metrics port answers on the kube-dns Service."""
    namespace = cluster.namespace()
    phase, output = cluster.run_probe(namespace, "http", "http://kube-dns.kube-system:9153/metrics")
    assert phase == "Succeeded", output
    assert output.splitlines()[0] == "200"
    assert "coredns_dns_requests_total" in output or "coredns_build_info" in output
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def test_kubectl_top_node_reads_metrics_server(cluster):
    """metrics-server scrapes the kubelet (the HPA's source): ``kubectl top node`` answers."""
    deadline = time.monotonic() + 120
    while True:
        result = cluster.kubectl("top", "node", "--no-headers", check=False)
        if result.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert result.returncode == 0, result.stderr
    name, cpu, _, memory, _ = result.stdout.split()
    assert name == "bazaar-node"
    assert cpu.endswith("m") and memory.endswith("Mi")


def _privileged_pod(namespace: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "breaks-restricted", "namespace": namespace},
        "spec": {
            "containers": [
                {
                    "name": "root",
                    "image": versions.PROBE_IMAGE,
                    "imagePullPolicy": "Never",
                    "securityContext": {"privileged": True},
                }
            ]
        },
    }


def test_pod_security_restricted_refuses_a_privileged_pod(cluster):
    """PodSecurity admission runs: in a namespace that enforces "restricted" a privileged
    root pod is refused, and the same pod is admitted where nothing is enforced."""
    restricted = cluster.namespace(labels={"pod-security.kubernetes.io/enforce": "restricted"})
    refused = cluster.apply([_privileged_pod(restricted)], "--dry-run=server")
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr
    assert "privileged" in refused.stderr
    open_namespace = cluster.namespace()
    admitted = cluster.apply([_privileged_pod(open_namespace)], "--dry-run=server")
    assert admitted.returncode == 0, admitted.stderr
    cluster.kubectl("delete", "namespace", restricted, open_namespace, "--wait=false")
