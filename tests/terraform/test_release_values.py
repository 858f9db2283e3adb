"""The values the release module hands to the chart render with the real Helm engine.

The module builds its values with ``templatefile("values.yaml.tftpl", local.values_template_vars)``.
Here the template variables are resolved the way Terraform would on a first apply: every
``var.NAME`` from the module's default, or, for the variables an environment must pass, from a
sample of what the other modules output; the few computed expressions from samples listed below.
The rendered values then go through ``charts/bazaar`` with the Helm harness of the chart tests and
are validated against ``charts/bazaar/values.schema.json``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.terraform import hcl

CHART_DIR = hcl.REPO_ROOT / "charts" / "bazaar"
RELEASE_DIR = hcl.MODULES_DIR / "release"
TEMPLATE = RELEASE_DIR / "values.yaml.tftpl"

pytestmark = pytest.mark.skipif(not CHART_DIR.is_dir(), reason="charts/bazaar does not exist yet")

# What the environments pass for the release module's required variables: outputs of the
# network, database, cache and addons modules, and the operator's inputs.
SAMPLE_INPUTS: dict[str, Any] = {
    "environment": "production",
    "image_repository": "123456789012.dkr.ecr.eu-central-1.amazonaws.com/bazaar",
    "image_tag": "1.4.2",
    "hostname": "shop.example.com",
    "ingress_class_name": "traefik",
    "ingress_namespace": "traefik",
    "monitoring_namespace": "monitoring",
    "cluster_issuer_name": "letsencrypt",
    "secret_store_name": "aws-secrets-manager",
    "secret_name_prefix": "bazaar/production/",
    "database_host": "bazaar-production.c9akciq32.eu-central-1.rds.amazonaws.com",
    "database_password_secret_name": "bazaar/production/database-password",
    "redis_host": "master.bazaar-production.abc123.euc1.cache.amazonaws.com",
    "redis_auth_token_secret_name": "bazaar/production/redis-auth-token",
    "datastore_cidrs": ["10.20.64.0/24", "10.20.65.0/24", "10.20.66.0/24"],
}

# Template variables whose expression is more than a reference, as Terraform would compute them
# from SAMPLE_INPUTS and the defaults (remote_keys merges extra_remote_keys, default {}).
SAMPLE_COMPUTED: dict[str, Any] = {
    "remote_keys": {
        "SECRET_KEY": "bazaar/production/secret-key",
        "DATABASE_PASSWORD": "bazaar/production/database-password",
        "REDIS_PASSWORD": "bazaar/production/redis-auth-token",
    },
}

_REFERENCE_ONLY = re.compile(r"^\$\{(var|local)\.(\w+)\}$")
_INTERPOLATION = re.compile(r"\$\{(?:jsonencode\((\w+)\)|(\w+))\}")


def _module_inputs() -> dict[str, Any]:
    variables = hcl.load(RELEASE_DIR).variables
    inputs = {
        name: variable.default for name, variable in variables.items() if not variable.required
    }
    required = {name for name, variable in variables.items() if variable.required}
    assert set(SAMPLE_INPUTS) == required, "SAMPLE_INPUTS must cover exactly the required variables"
    return inputs | SAMPLE_INPUTS


def _resolve(expression: Any, inputs: dict[str, Any], local_values: dict[str, Any]) -> Any:
    """A ``${var.x}``/``${local.x}`` reference, or a string made of them, as Terraform would."""
    if not isinstance(expression, str):
        return expression
    reference = _REFERENCE_ONLY.match(expression)
    if reference:
        kind, name = reference.groups()
        if kind == "var":
            return inputs[name]
        return _resolve(local_values[name], inputs, local_values)

    def substitute(match: re.Match[str]) -> str:
        return str(_resolve(match.group(0), inputs, local_values))

    return re.sub(r"\$\{(?:var|local)\.\w+\}", substitute, expression)


def template_vars() -> dict[str, Any]:
    """The second argument of the module's templatefile() call, evaluated."""
    local_values = hcl.load(RELEASE_DIR).locals
    expressions = local_values["values_template_vars"]
    inputs = _module_inputs()
    simple = {
        name: expression
        for name, expression in expressions.items()
        if not name.startswith("__") and not re.search(r"\$\{(?!(var|local)\.\w+\})", expression)
    }
    computed = set(expressions) - set(simple) - {k for k in expressions if k.startswith("__")}
    assert computed == set(SAMPLE_COMPUTED), "SAMPLE_COMPUTED must cover the computed expressions"
    resolved = {name: _resolve(expr, inputs, local_values) for name, expr in simple.items()}
    return resolved | SAMPLE_COMPUTED


def render_template(variables: dict[str, Any]) -> str:
    """templatefile() for the two forms the template uses: ${jsonencode(x)} and ${x}."""
    text = TEMPLATE.read_text()
    assert "%{" not in text, "template directives are not supported by this renderer"

    def substitute(match: re.Match[str]) -> str:
        encoded, plain = match.groups()
        if encoded:
            return json.dumps(variables[encoded])
        return str(variables[plain])

    rendered = _INTERPOLATION.sub(substitute, text)
    assert "${" not in rendered, "an interpolation this renderer does not know is in the template"
    return rendered


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(render_template(template_vars()))


@pytest.fixture(scope="module")
def values_file(values, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("release") / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.fixture(scope="module")
def objects(values_file) -> list[dict[str, Any]]:
    from tests.chart.helm import render

    return render([values_file])


def test_template_uses_exactly_the_variables_passed_to_it():
    """templatefile() fails on an unknown name; an unused one is dead code."""
    used = {a or b for a, b in _INTERPOLATION.findall(TEMPLATE.read_text())}
    assert used == set(template_vars())


def test_values_validate_against_the_chart_schema(values):
    """Chart defaults overlaid with the module's values satisfy values.schema.json."""
    from tests.chart.helm import merge_values

    schema_path = CHART_DIR / "values.schema.json"
    assert schema_path.is_file(), "charts/bazaar/values.schema.json is missing"
    schema = json.loads(schema_path.read_text())
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    validator = jsonschema.validators.validator_for(schema)
    validator(schema).validate(merge_values(defaults, values))


def test_values_render_with_the_helm_engine(objects):
    """The real Helm engine renders the chart with these values (schema and render guards)."""
    kinds = {obj["kind"] for obj in objects}
    assert {"Deployment", "Ingress", "ExternalSecret", "ScaledObject"} <= kinds


def test_objects_are_valid_for_the_clusters_kubernetes_version(objects):
    """Built-in kinds validate for the cluster module's Kubernetes minor, custom resources
    (ExternalSecret, ScaledObject, ServiceMonitor, ...) against their CRD schemas."""
    from tests.chart.test_schemas import CUSTOM_RESOURCES, crd_validator, kubernetes_errors

    minor = hcl.load(hcl.MODULES_DIR / "cluster").variables["kubernetes_version"].default
    errors = kubernetes_errors(objects, minor)
    for obj in objects:
        schema_file = CUSTOM_RESOURCES.get((obj["apiVersion"], obj["kind"]))
        if schema_file:
            errors += [
                f"{obj['kind']}/{obj['metadata']['name']}: {error.message}"
                for error in crd_validator(schema_file).iter_errors(obj)
            ]
    assert errors == []


def test_external_secret_uses_the_api_version_of_the_cluster_secret_store(objects):
    """The chart's ExternalSecret and the addons module's ClusterSecretStore speak one version."""
    from tests.terraform.test_cluster_config_chart import render_cluster_config

    (external_secret,) = _of(objects, "ExternalSecret")
    store = render_cluster_config()["ClusterSecretStore"]
    assert external_secret["apiVersion"] == store["apiVersion"]
    assert external_secret["spec"]["secretStoreRef"] == {
        "name": store["metadata"]["name"],
        "kind": "ClusterSecretStore",
    }


def test_datastores_are_external_and_nothing_is_bundled(objects):
    """Managed Postgres and Redis only: no bundled StatefulSet, no CloudNativePG cluster."""
    kinds = {obj["kind"] for obj in objects}
    assert "StatefulSet" not in kinds
    assert "Cluster" not in kinds


def test_every_secret_reference_resolves_to_the_external_secret(objects):
    """Each required secretKeyRef names a key the ExternalSecret (or a rendered Secret) provides."""
    provided: dict[str, set[str]] = {}
    for obj in objects:
        if obj["kind"] == "ExternalSecret":
            target = obj["spec"]["target"]["name"]
            provided[target] = {item["secretKey"] for item in obj["spec"]["data"]}
        elif obj["kind"] == "Secret":
            keys = set(obj.get("data", {})) | set(obj.get("stringData", {}))
            provided[obj["metadata"]["name"]] = keys
    references = [
        env["valueFrom"]["secretKeyRef"]
        for obj in objects
        for env in _env_entries(obj)
        if "secretKeyRef" in env.get("valueFrom", {})
    ]
    assert references, "no container reads a secret"
    for reference in references:
        if reference.get("optional"):
            continue
        assert reference["key"] in provided.get(reference["name"], set()), reference
    external_keys = set().union(
        *(provided[obj["spec"]["target"]["name"]] for obj in _of(objects, "ExternalSecret"))
    )
    assert {"SECRET_KEY", "DATABASE_PASSWORD", "REDIS_PASSWORD"} <= external_keys


def test_every_worker_pool_scales_with_keda(values, objects):
    """KEDA is on: one ScaledObject per worker pool, no CPU HPA for the pools."""
    scaled = {obj["spec"]["scaleTargetRef"]["name"] for obj in _of(objects, "ScaledObject")}
    pools = [pool["name"] for pool in values["workers"]]
    assert len(scaled) == len(pools)
    for pool in pools:
        assert any(name.endswith(pool) for name in scaled), pool


def test_web_is_highly_available_behind_the_ingress(objects):
    """Web HPA keeps the module's minimum, the Ingress serves the hostname with TLS."""
    hpas = [
        hpa
        for hpa in _of(objects, "HorizontalPodAutoscaler")
        if hpa["spec"]["scaleTargetRef"]["name"].endswith("-web")
    ]
    assert [hpa["spec"]["minReplicas"] for hpa in hpas] == [_module_inputs()["web_min_replicas"]]
    (ingress,) = _of(objects, "Ingress")
    assert ingress["spec"]["ingressClassName"] == SAMPLE_INPUTS["ingress_class_name"]
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [SAMPLE_INPUTS["hostname"]]
    assert ingress["spec"]["tls"][0]["hosts"] == [SAMPLE_INPUTS["hostname"]]


def test_pods_run_the_requested_image(objects):
    """Every Bazaar container runs image_repository:image_tag."""
    expected = f"{SAMPLE_INPUTS['image_repository']}:{SAMPLE_INPUTS['image_tag']}"
    images = {
        container["image"]
        for obj in objects
        for container in _containers(obj)
        if container["image"].startswith(SAMPLE_INPUTS["image_repository"])
    }
    assert images == {expected}


def _of(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec", {})
    if obj["kind"] == "Pod":
        return spec
    if obj["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return spec.get("template", {}).get("spec")


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = _pod_spec(obj) or {}
    return pod.get("initContainers", []) + pod.get("containers", [])


def _env_entries(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [env for container in _containers(obj) for env in container.get("env", [])]
