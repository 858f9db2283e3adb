"""Every rendered object and kustomize output is valid for each supported Kubernetes minor, and
every custom resource against its CRD schema (crd-schemas/README.md names the sources)."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from tests.chart.manifests import OVERLAYS, SCENARIOS, kustomized, rendered

SUPPORTED_MINORS = ["1.29", "1.30", "1.31", "1.32", "1.33"]

# kubernetes-validate re-reads its JSON schema files on every call; they never change in a run.
kubernetes_validate.utils.schema_contents = functools.cache(
    kubernetes_validate.utils.schema_contents
)
CRD_SCHEMAS_DIR = Path(__file__).parent / "crd-schemas"
CUSTOM_RESOURCES = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh/scaledobject_v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh/triggerauthentication_v1alpha1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com/servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PodMonitor"): "monitoring.coreos.com/podmonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com/prometheusrule_v1.json",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io/cluster_v1.json",
    (
        "external-secrets.io/v1beta1",
        "ExternalSecret",
    ): "external-secrets.io/externalsecret_v1beta1.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway.networking.k8s.io/httproute_v1.json",
}


@functools.cache
def crd_validator(schema_file: str) -> jsonschema.protocols.Validator:
    schema = json.loads((CRD_SCHEMAS_DIR / schema_file).read_text())
    return jsonschema.Draft7Validator(schema)


def kubernetes_errors(objects, minor: str) -> list[str]:
    errors = []
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_RESOURCES:
            continue
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        try:
            kubernetes_validate.validate(obj, minor, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(part) for part in error.path)
            errors.append(f"{name}: {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{name}: {obj['apiVersion']} is not served by Kubernetes {minor}")
    return errors


def test_kubernetes_validate_ships_every_supported_minor():
    """Validation runs offline from the schemas the package ships."""
    shipped = {version.rsplit(".", 1)[0] for version in kubernetes_validate.utils.all_versions()}
    assert set(SUPPORTED_MINORS) <= shipped


@pytest.mark.parametrize("minor", SUPPORTED_MINORS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_rendered_objects_are_valid_kubernetes(scenario, minor):
    objects = rendered(scenario) + rendered(scenario, upgrade=True)
    assert kubernetes_errors(objects, minor) == []


@pytest.mark.parametrize("minor", SUPPORTED_MINORS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_output_is_valid_kubernetes(overlay, minor):
    objects = kustomized(overlay)
    assert {"Namespace", "ResourceQuota", "LimitRange", "PriorityClass"} <= {
        obj["kind"] for obj in objects
    }
    assert kubernetes_errors(objects, minor) == []


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_custom_resources_match_their_crd_schemas(scenario):
    errors = []
    for obj in rendered(scenario):
        schema_file = CUSTOM_RESOURCES.get((obj["apiVersion"], obj["kind"]))
        if schema_file is None:
            continue
        errors += [
            f"{obj['kind']}/{obj['metadata']['name']}: {'.'.join(map(str, e.path))}: {e.message}"
            for e in crd_validator(schema_file).iter_errors(obj)
        ]
    assert errors == []


def test_every_custom_resource_kind_is_rendered_by_some_scenario():
    """Each CRD schema kept here is exercised, so none can rot unnoticed."""
    rendered_kinds = {
        (obj["apiVersion"], obj["kind"]) for name in SCENARIOS for obj in rendered(name)
    }
    assert set(CUSTOM_RESOURCES) <= rendered_kinds


def test_crd_schemas_reject_what_the_operator_would_reject():
    """The schemas are not vacuous: a misspelt ScaledObject field fails."""
    scaled_object = next(obj for obj in rendered("production") if obj["kind"] == "ScaledObject")
    broken = json.loads(json.dumps(scaled_object))
    broken["spec"]["maxReplicas"] = broken["spec"].pop("maxReplicaCount")
    assert list(
        crd_validator(CUSTOM_RESOURCES[("keda.sh/v1alpha1", "ScaledObject")]).iter_errors(broken)
    )
