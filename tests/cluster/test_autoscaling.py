"""The autoscaling pipeline the chart's HPAs rely on: kubelet → metrics-server → the
controller manager's HorizontalPodAutoscaler → the Deployment's replicas."""

from __future__ import annotations

import json
import time

from tests.cluster.conftest import RESTRICTED_POD, probe_container


def _spinning_deployment(namespace: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "spin", "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "spin"}},
            "template": {
                "metadata": {"labels": {"app": "spin"}},
                "spec": {
                    "securityContext": RESTRICTED_POD,
                    # 100m of CPU at most (a shared machine), five times the request.
                    "containers": [probe_container("spin", resources={
                        "requests": {"cpu": "20m"}, "limits": {"cpu": "100m"}})],
                },
            },
        },
    }  # fmt: skip


def _autoscaler(namespace: str) -> dict:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "spin", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "spin"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
        },
    }  # fmt: skip


def test_the_hpa_scales_a_busy_deployment_out_through_metrics_server(cluster):
    namespace = cluster.namespace()
    try:
        applied = cluster.apply([_spinning_deployment(namespace), _autoscaler(namespace)])
        assert applied.returncode == 0, applied.stderr
        started = time.monotonic()
        history = []
        while time.monotonic() - started < 180:
            hpa = json.loads(cluster.kubectl("-n", namespace, "get", "hpa", "spin", "-o",
                                             "json").stdout)  # fmt: skip
            status = hpa.get("status", {})
            history.append((round(time.monotonic() - started), status.get("desiredReplicas")))
            if status.get("desiredReplicas") == 3:
                break
            time.sleep(5)
        print("HPA desired replicas over time (s, replicas):", history)
        assert history[-1][1] == 3, history
        cluster.kubectl("-n", namespace, "rollout", "status", "deployment/spin", "--timeout=90s")
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")
