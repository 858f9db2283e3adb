# ruff: noqa: S603, S607 - the go command, found on PATH
"""The CustomResourceDefinitions of the add-ons the chart's values use, taken from the add-ons'
own Go modules at pinned versions (the files their releases install), never hand-written.

``go mod download`` fetches each module into the module cache; the CRD files are read from
there. Install them with ``python -m tools.cluster crds`` or ``definitions()``.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

GOMOD_DIR = Path(__file__).resolve().parent / "gomod" / "probe"


@dataclass(frozen=True)
class CrdSource:
    module: str
    version: str
    files: tuple[str, ...]


SOURCES = (
    CrdSource(
        "github.com/kedacore/keda/v2",
        "v2.17.2",
        (
            "config/crd/bases/keda.sh_scaledobjects.yaml",
            "config/crd/bases/keda.sh_triggerauthentications.yaml",
        ),
    ),
    CrdSource(
        "github.com/prometheus-operator/prometheus-operator",
        "v0.83.0",
        tuple(
            f"example/prometheus-operator-crd/monitoring.coreos.com_{plural}.yaml"
            for plural in ("servicemonitors", "podmonitors", "prometheusrules")
        ),
    ),
    CrdSource(
        "github.com/cloudnative-pg/cloudnative-pg",
        "v1.26.1",
        ("config/crd/bases/postgresql.cnpg.io_clusters.yaml",),
    ),
    CrdSource(
        "github.com/external-secrets/external-secrets",
        "v0.16.2",
        ("config/crds/bases/external-secrets.io_externalsecrets.yaml",),
    ),
    CrdSource(
        "sigs.k8s.io/gateway-api",
        "v1.3.0",
        ("config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",),
    ),
)


def module_dir(source: CrdSource) -> Path:
    result = subprocess.run(
        ["go", "mod", "download", "-json", f"{source.module}@{source.version}"],
        cwd=GOMOD_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    answer = json.loads(result.stdout)
    if "Dir" not in answer:
        raise RuntimeError(f"go mod download {source.module}@{source.version}: {answer}")
    return Path(answer["Dir"])


def definitions() -> list[dict]:
    """Every CRD of ``SOURCES``, as the upstream files define them."""
    crds = []
    for source in SOURCES:
        directory = module_dir(source)
        for name in source.files:
            crds += [doc for doc in yaml.safe_load_all((directory / name).read_text()) if doc]
    return crds
