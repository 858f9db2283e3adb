"""Render and lint the Bazaar chart with the real Helm v4 engine (PyPI ``helm-python-sdk``).

No ``helm`` binary and no cluster: the engine runs in-process, the way ``helm template`` and
``helm lint`` do. Every chart test, and the Terraform release module's tests, go through here::

    from tests.chart.helm import render, lint

    objects = render(["charts/bazaar/ci/dev-values.yaml"], {"web": {"replicas": 3}})
    report = lint(["charts/bazaar/ci/dev-values.yaml"])
    assert not report["errors"]

Values combine like ``helm -f a.yaml -f b.yaml --set ...``: later files win, ``set_values``
(a nested dict) wins over all files.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import helm_python
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_ROOT / "charts" / "bazaar"
SCENARIOS_DIR = CHART_DIR / "ci"
RELEASE_NAME = "bazaar"
NAMESPACE = "bazaar"

RenderError = helm_python.HelmRenderError
ValuesError = helm_python.HelmValuesError


def scenario_files() -> list[Path]:
    """The chart's ``ci/*-values.yaml`` scenarios, sorted by name."""
    return sorted(SCENARIOS_DIR.glob("*-values.yaml"))


def merge_values(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Deep-merge value layers the way Helm does: maps merge, anything else is replaced."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = merge_values(merged[key], value)
            else:
                merged[key] = value
    return merged


def load_values(
    values_files: Iterable[str | Path] = (), set_values: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """User values: ``-f`` files, then ``--set`` overrides (chart defaults not included)."""
    layers = [yaml.safe_load(Path(path).read_text()) or {} for path in values_files]
    return merge_values(*layers, set_values)


@functools.cache
def _chart(chart_dir: Path) -> helm_python.Chart:
    return helm_python.Chart.load(chart_dir)


def render_manifests(
    values_files: Iterable[str | Path] = (),
    set_values: Mapping[str, Any] | None = None,
    *,
    is_upgrade: bool = False,
    chart_dir: Path = CHART_DIR,
) -> dict[str, str]:
    """Rendered templates keyed by template path, as ``helm template`` would print them.

    Raises ``ValuesError`` when values break ``values.schema.json`` and ``RenderError`` when a
    template (or a render guard's ``fail``) stops the render.
    """
    values = load_values(values_files, set_values)
    return _chart(chart_dir).render(
        values,
        name=RELEASE_NAME,
        namespace=NAMESPACE,
        is_install=not is_upgrade,
        is_upgrade=is_upgrade,
    )


def render(
    values_files: Iterable[str | Path] = (),
    set_values: Mapping[str, Any] | None = None,
    *,
    is_upgrade: bool = False,
    chart_dir: Path = CHART_DIR,
) -> list[dict[str, Any]]:
    """Every Kubernetes object the chart renders (hooks and test pods included), NOTES excluded."""
    manifests = render_manifests(
        values_files, set_values, is_upgrade=is_upgrade, chart_dir=chart_dir
    )
    objects: list[dict[str, Any]] = []
    for template, text in sorted(manifests.items()):
        if not template.endswith((".yaml", ".yml")):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return objects


def render_yaml(
    values_files: Iterable[str | Path] = (), set_values: Mapping[str, Any] | None = None
) -> str:
    """The objects of :func:`render` as one multi-document YAML stream (for checkov, kubectl)."""
    return yaml.safe_dump_all(render(values_files, set_values), sort_keys=False)


def lint(
    values_files: Iterable[str | Path] = (),
    set_values: Mapping[str, Any] | None = None,
    *,
    strict: bool = False,
    kube_version: str | None = None,
    chart_dir: Path = CHART_DIR,
) -> dict[str, Any]:
    """``helm lint`` report: ``{"messages": [{"severity", "path", "error"}], "errors": [...]}``.

    Severity 3 is an error; ``errors`` lists them.
    """
    return helm_python.lint(
        chart_dir,
        load_values(values_files, set_values),
        strict=strict,
        namespace=NAMESPACE,
        kube_version=kube_version,
    )
