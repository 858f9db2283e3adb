"""Rendered scenarios and kustomize outputs shared by the chart tests, rendered once a session."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.chart.helm import REPO_ROOT, render, scenario_files

K8S_DIR = REPO_ROOT / "k8s"
OVERLAYS = sorted(path.name for path in (K8S_DIR / "overlays").iterdir() if path.is_dir())
ENVIRONMENT_VALUES = sorted((K8S_DIR / "values").glob("*.yaml"))

# Every values file the chart must render: its ci/ scenarios and the per-environment values.
SCENARIOS: dict[str, Path] = {
    **{path.name.removesuffix("-values.yaml"): path for path in scenario_files()},
    **{f"k8s-{path.stem}": path for path in ENVIRONMENT_VALUES},
}

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"}


@functools.cache
def rendered(scenario: str, *, upgrade: bool = False) -> tuple[dict[str, Any], ...]:
    return tuple(render([SCENARIOS[scenario]], is_upgrade=upgrade))


@functools.cache
def kustomized(overlay: str) -> tuple[dict[str, Any], ...]:
    output = subprocess.run(
        ["kubectl", "kustomize", str(K8S_DIR / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return tuple(doc for doc in yaml.safe_load_all(output) if doc)


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload object, or None for anything else."""
    if obj["kind"] == "Pod":
        return obj["spec"]
    if obj["kind"] in WORKLOAD_KINDS:
        return obj["spec"]["template"]["spec"]
    return None


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    if obj["kind"] == "Pod":
        return obj["metadata"].get("labels", {})
    return obj["spec"]["template"]["metadata"].get("labels", {})


def containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every container of a workload, init containers included."""
    spec = pod_spec(obj) or {}
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions)."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        present = expression["key"] in labels
        value = labels.get(expression["key"])
        operator = expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression.get("values", []):
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def run_checkov(directory: Path) -> list[dict[str, Any]]:
    """checkov's JSON report on the Kubernetes manifests under directory, one per framework."""
    completed = subprocess.run(
        [
            str(Path(sys.executable).with_name("checkov")),
            "--directory",
            str(directory),
            "--framework",
            "kubernetes",
            "--compact",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=directory,
    )
    assert completed.stdout.strip(), completed.stderr[-3000:]
    report = json.loads(completed.stdout)
    return report if isinstance(report, list) else [report]
