"""CustomResourceDefinitions for the add-on kinds the chart renders, made from the CRD schemas
the chart tests already keep (tests/chart/crd-schemas, each with its upstream source noted).

A stand-in until the add-ons' own CRDs are taken from their pinned Go modules: the schema is
the upstream ``openAPIV3Schema``, so the API server validates and prunes each object as the
real CRD would; only the CRD's printer columns, subresources and conversion are missing.
"""

from __future__ import annotations

import json
from pathlib import Path

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "chart" / "crd-schemas"
API_APPROVAL = "api-approved.kubernetes.io"
GATEWAY_API_APPROVAL = "https://github.com/kubernetes-sigs/gateway-api/pull/2466"
KINDS = {
    "scaledobject": "ScaledObject",
    "triggerauthentication": "TriggerAuthentication",
    "prometheusrule": "PrometheusRule",
    "podmonitor": "PodMonitor",
    "servicemonitor": "ServiceMonitor",
    "httproute": "HTTPRoute",
    "externalsecret": "ExternalSecret",
    "cluster": "Cluster",
}


def _structural(schema):
    """Drop what a CRD schema may not hold (JSON-schema bookkeeping; additionalProperties
    beside properties, which a structural schema forbids)."""
    if isinstance(schema, list):
        return [_structural(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned = {k: _structural(v) for k, v in schema.items() if k not in ("$schema", "id")}
    if "properties" in cleaned and cleaned.get("additionalProperties") is False:
        del cleaned["additionalProperties"]
    if cleaned.get("type") == "array" and "items" not in cleaned:
        cleaned["items"] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return cleaned


def definitions() -> list[dict]:
    crds = []
    for path in sorted(SCHEMAS_DIR.glob("*/*.json")):
        group = path.parent.name
        stem, version = path.stem.rsplit("_", 1)
        kind = KINDS[stem]
        plural = f"{stem}s"
        crds.append(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {
                    "name": f"{plural}.{group}",
                    # Gateway API's own CRDs carry this approval (a *.k8s.io group requires it).
                    "annotations": {API_APPROVAL: GATEWAY_API_APPROVAL}
                    if group.endswith(".k8s.io")
                    else {},
                },
                "spec": {
                    "group": group,
                    "scope": "Namespaced",
                    "names": {"kind": kind, "plural": plural, "singular": stem,
                              "listKind": f"{kind}List"},
                    "versions": [{
                        "name": version,
                        "served": True,
                        "storage": True,
                        "schema": {"openAPIV3Schema": _structural(json.loads(path.read_text()))},
                    }],
                },
            }
        )  # fmt: skip
    return crds
