"""The addons module's local chart (ClusterSecretStore, ClusterIssuer) renders and lints."""

from __future__ import annotations

import pytest

from tests.chart.helm import RenderError, lint, render
from tests.terraform import hcl

CHART_DIR = hcl.MODULES_DIR / "addons" / "cluster-config"

# What modules/addons passes in production.
VALUES = {
    "secretStore": {
        "name": "aws-secrets-manager",
        "region": "eu-central-1",
        "namespaces": ["bazaar"],
    },
    "clusterIssuer": {
        "name": "letsencrypt",
        "server": "https://acme-v02.api.letsencrypt.org/directory",
        "email": "ops@example.com",
        "ingressClassName": "traefik",
    },
}


def render_cluster_config(values=VALUES):
    return {obj["kind"]: obj for obj in render(set_values=values, chart_dir=CHART_DIR)}


def test_chart_lints_clean():
    """helm lint reports no error."""
    assert lint(set_values=VALUES, chart_dir=CHART_DIR)["errors"] == []


def test_secret_store_is_limited_to_the_release_namespaces():
    """The store reads Secrets Manager in the region, for the listed namespaces only."""
    store = render_cluster_config()["ClusterSecretStore"]
    assert store["spec"]["provider"]["aws"] == {
        "service": "SecretsManager",
        "region": "eu-central-1",
    }
    assert store["spec"]["conditions"] == [{"namespaces": ["bazaar"]}]


def test_issuer_solves_http01_through_the_ingress_controller():
    """Let's Encrypt challenges are answered through the Traefik IngressClass."""
    issuer = render_cluster_config()["ClusterIssuer"]["spec"]["acme"]
    assert issuer["email"] == "ops@example.com"
    assert issuer["solvers"] == [{"http01": {"ingress": {"ingressClassName": "traefik"}}}]


@pytest.mark.parametrize(
    ("section", "key"), [("secretStore", "region"), ("clusterIssuer", "email")]
)
def test_missing_required_values_stop_the_render(section, key):
    """An empty region or ACME e-mail fails at render time, not in the controller."""
    values = {**VALUES, section: {**VALUES[section], key: ""}}
    with pytest.raises(RenderError, match=f"{section}.{key} is required"):
        render_cluster_config(values)
