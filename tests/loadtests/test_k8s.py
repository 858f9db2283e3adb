"""The in-cluster Locust (``loadtests/k8s``): valid for every supported Kubernetes minor,
hardened like the chart's pods, wired master to workers, and its image lints clean."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.chart.manifests import pod_spec
from tests.chart.test_schemas import SUPPORTED_MINORS, kubernetes_errors

K8S_DIR = Path(__file__).resolve().parents[2] / "loadtests" / "k8s"


@cache
def manifests() -> tuple[dict, ...]:
    output = subprocess.run(
        ["kubectl", "kustomize", str(K8S_DIR)], check=True, capture_output=True, text=True
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(output) if doc)


def objects(kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in manifests() if obj["kind"] == kind}


@pytest.mark.parametrize("minor", SUPPORTED_MINORS)
def test_every_object_is_valid_kubernetes(minor):
    assert kubernetes_errors(manifests(), minor) == []


def test_every_object_lives_in_the_loadtest_namespace():
    namespaced = [obj for obj in manifests() if obj["kind"] != "Namespace"]
    assert {obj["metadata"].get("namespace") for obj in namespaced} == {"bazaar-loadtest"}


def test_pods_are_hardened_like_the_charts():
    for obj in manifests():
        spec = pod_spec(obj)
        if spec is None:
            continue
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["limits"]


def test_workers_reach_the_master_service_on_its_port():
    [master_job] = objects("Job").values()
    service = objects("Service")["locust-master"]
    [worker] = objects("Deployment")["locust-worker"]["spec"]["template"]["spec"]["containers"]
    assert (
        service["spec"]["selector"].items()
        <= master_job["spec"]["template"]["metadata"]["labels"].items()
    )
    assert "--master-host=locust-master" in worker["args"]
    master_args = master_job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--master-port=5557" in master_args and "--master-port=5557" in worker["args"]


def test_the_master_expects_as_many_workers_as_the_deployment_runs():
    settings = next(iter(objects("ConfigMap").values()))["data"]
    assert (
        int(settings["LOADTEST_WORKERS"])
        == objects("Deployment")["locust-worker"]["spec"]["replicas"]
    )


def test_the_master_runs_the_gated_entry_point_with_the_prepared_data():
    [master_job] = objects("Job").values()
    args = master_job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "loadtests.run"
    assert "--external-workers=$(LOADTEST_WORKERS)" in args
    assert "--data=/data/data.json" in args


def test_the_image_copies_every_module_the_entry_points_import():
    dockerfile = (K8S_DIR / "Dockerfile").read_text()
    for module in ("locustfile.py", "recorder.py", "run.py", "slo.py", "slo.yaml", "plots.py"):
        assert f"loadtests/{module}" in dockerfile, module


def test_the_image_lints_clean_with_hadolint():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "hadolint"), "--format", "json",
         "--failure-threshold", "warning", str(K8S_DIR / "Dockerfile")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    findings = json.loads(result.stdout or "[]")
    assert [f for f in findings if f["level"] in {"warning", "error"}] == []
    assert result.returncode == 0, result.stderr
