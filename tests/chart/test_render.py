"""The chart renders and lints with the real Helm v4 engine; bad values fail with clear messages."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from tests.chart.helm import CHART_DIR, RenderError, ValuesError, lint, render
from tests.chart.manifests import SCENARIOS, rendered

DEFAULT = [SCENARIOS["default"]]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_renders_and_lints_without_errors(scenario):
    """Each ci/ scenario and k8s/values file renders, and strict helm lint finds nothing."""
    objects = rendered(scenario)
    assert {"Deployment", "Service", "NetworkPolicy"} <= {obj["kind"] for obj in objects}
    report = lint([SCENARIOS[scenario]], strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_scenario_renders_as_an_upgrade(scenario):
    """Upgrades render too, with the migrate Job as a pre-upgrade hook."""
    jobs = [obj for obj in rendered(scenario, upgrade=True) if obj["kind"] == "Job"]
    assert [job["metadata"]["name"] for job in jobs] == ["bazaar-migrate"]
    assert "pre-upgrade" in jobs[0]["metadata"]["annotations"]["helm.sh/hook"]


BAD_VALUES = {
    "two autoscalers on one pool": (
        {
            "keda": {"enabled": True},
            "workers": [
                {
                    "name": "default",
                    "queues": ["default"],
                    "autoscaling": {"hpa": {"enabled": True}, "keda": {"enabled": True}},
                }
            ],
        },
        "autoscaling.hpa and autoscaling.keda are both enabled",
    ),
    "beat replicas above one": ({"beat": {"replicas": 2}}, "Celery beat must run exactly once"),
    "bundled and external postgres": (
        {"postgresql": {"bundled": {"enabled": True}}},
        "Postgres is configured more than once",
    ),
    "cnpg and external postgres": (
        {"postgresql": {"cnpg": {"enabled": True}}},
        "Postgres is configured more than once",
    ),
    "bundled and external redis": (
        {"redis": {"bundled": {"enabled": True}}},
        "Redis is configured twice",
    ),
    "keda pool without keda": (
        {
            "workers": [
                {
                    "name": "x",
                    "queues": ["x"],
                    "autoscaling": {"hpa": {"enabled": False}, "keda": {"enabled": True}},
                }
            ]
        },
        "needs keda.enabled",
    ),
    "duplicate pool names": (
        {"workers": [{"name": "x", "queues": ["x"]}, {"name": "x", "queues": ["y"]}]},
        'pool name "x" is used twice',
    ),
    "grace period shorter than the drain": (
        {"web": {"terminationGracePeriodSeconds": 30}},
        "must exceed web.preStopSleepSeconds + web.gracefulTimeoutSeconds",
    ),
    "unknown web slice": (
        {"web": {"slices": [{"name": "search"}]}},
        'web.slices: "search" is not a web slice; the slices are catalog, checkout, accounts',
    ),
    "web slice listed twice": (
        {"web": {"slices": [{"name": n} for n in ("catalog", "checkout", "accounts", "catalog")]}},
        'the slice "catalog" is listed twice',
    ),
    "some web slices only": (
        {"web": {"slices": [{"name": "catalog"}]}},
        "web.slices must list every slice or none: checkout, accounts missing",
    ),
    "fixed replicas on an autoscaled web slice": (
        {
            "web": {
                "slices": [
                    {"name": "catalog", "replicas": 4},
                    {"name": "checkout"},
                    {"name": "accounts"},
                ]
            }
        },
        "web.slices[catalog]: replicas is set but the slice is autoscaled",
    ),
    "web slice bounds upside down": (
        {
            "web": {
                "slices": [
                    {"name": "catalog", "autoscaling": {"minReplicas": 12}},
                    {"name": "checkout"},
                    {"name": "accounts"},
                ]
            }
        },
        "web.slices[catalog]: autoscaling.minReplicas (12) is above autoscaling.maxReplicas (10)",
    ),
    "web bounds upside down": (
        {"web": {"autoscaling": {"minReplicas": 3, "maxReplicas": 2}}},
        "web: autoscaling.minReplicas (3) is above autoscaling.maxReplicas (2)",
    ),
    "read replica of the bundled postgres": (
        {
            "postgresql": {
                "external": {"host": ""},
                "bundled": {"enabled": True},
                "readReplica": {"enabled": True},
            }
        },
        "the bundled StatefulSet is a single server",
    ),
    "read replica host beside cnpg": (
        {
            "postgresql": {
                "external": {"host": ""},
                "cnpg": {"enabled": True},
                "readReplica": {"enabled": True, "host": "replica.example.internal"},
            }
        },
        "the read pool uses the cluster's -ro Service",
    ),
    "read replica of a one-instance cnpg cluster": (
        {
            "postgresql": {
                "external": {"host": ""},
                "cnpg": {"enabled": True, "instances": 1},
                "readReplica": {"enabled": True},
            }
        },
        "needs postgresql.cnpg.instances of 2 or more (it is 1)",
    ),
    "external read replica without a host": (
        {"postgresql": {"readReplica": {"enabled": True}}},
        "needs postgresql.readReplica.host",
    ),
    "read replica without pgbouncer": (
        {
            "pgbouncer": {"enabled": False},
            "postgresql": {"readReplica": {"enabled": True, "host": "replica.example.internal"}},
        },
        "postgresql.readReplica.enabled needs pgbouncer.enabled",
    ),
    "removed worker block": ({"worker": {"concurrency": 4}}, "`worker` was removed"),
    "removed web.replicaCount": ({"web": {"replicaCount": 3}}, "`web.replicaCount` was removed"),
    "two secret holders": (
        {"secrets": {"externalSecret": {"enabled": True, "secretStoreRef": {"name": "vault"}}}},
        "secrets.existingSecret and secrets.externalSecret.enabled are both set",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_conflicting_or_removed_values_fail_with_a_clear_message(case):
    values, message = BAD_VALUES[case]
    with pytest.raises(RenderError, match=re.escape(message)):
        render(DEFAULT, values)


def test_no_postgres_at_all_is_refused():
    with pytest.raises(RenderError, match="No Postgres"):
        render([], {"redis": {"external": {"host": "redis"}}})


@pytest.mark.parametrize(
    ("values", "where"),
    [
        ({"web": {"replicaz": 2}}, "/web"),
        ({"workers": [{"name": "default", "queues": ["default"], "concurency": 2}]}, "/workers/0"),
        ({"unknownTopLevel": True}, "''"),
        ({"beat": {"replicas": "one"}}, "/beat/replicas"),
        ({"web": {"slices": [{"name": "catalog", "replicaz": 2}]}}, "/web/slices/0"),
        ({"web": {"slices": [{"replicas": 2}]}}, "/web/slices/0"),
        ({"pgbouncer": {"readPool": {"image": {"tag": "1"}}}}, "/pgbouncer/readPool"),
    ],
)
def test_values_the_schema_does_not_know_are_refused(values, where):
    with pytest.raises(ValuesError, match=where):
        render(DEFAULT, values)


def test_lint_reports_schema_errors():
    report = lint(DEFAULT, {"web": {"replicaz": 2}})
    assert any("replicaz" in error for error in report["errors"])


def hack_check(script: str) -> subprocess.CompletedProcess:
    """``hack/SCRIPT --check``: fails when the file the script writes is stale."""
    return subprocess.run(
        [sys.executable, str(CHART_DIR / "hack" / script), "--check"],
        capture_output=True,
        text=True,
    )


def test_observability_copy_matches_its_source():
    """files/observability is observability/ as copied by `make chart-sync`."""
    completed = hack_check("sync-observability.py")
    assert completed.returncode == 0, completed.stderr


def test_web_slices_copy_matches_the_app():
    """files/web-slices.yaml is what `make chart-sync` writes from app/bazaar/common/slices.py."""
    completed = hack_check("web-slices.py")
    assert completed.returncode == 0, completed.stderr


def test_prometheus_rule_carries_every_group_of_the_synced_rule_files():
    expected = [
        group["name"]
        for path in sorted((CHART_DIR / "files/observability/prometheus/rules").glob("*.yaml"))
        for group in yaml.safe_load(path.read_text())["groups"]
    ]
    rules = [obj for obj in rendered("production") if obj["kind"] == "PrometheusRule"]
    assert len(rules) == 1
    assert [group["name"] for group in rules[0]["spec"]["groups"]] == expected


def test_dashboards_become_sidecar_configmaps():
    dashboards = sorted((CHART_DIR / "files/observability/grafana/dashboards").glob("*.json"))
    if not dashboards:
        pytest.skip("observability/grafana/dashboards holds no dashboard yet")
    configmaps = [
        obj
        for obj in rendered("production")
        if obj["kind"] == "ConfigMap" and obj["metadata"]["labels"].get("grafana_dashboard") == "1"
    ]
    assert sorted(key for cm in configmaps for key in cm["data"]) == [p.name for p in dashboards]


def test_readme_values_table_is_current():
    """README.md's table is what hack/values-table.py writes from values.schema.json."""
    completed = hack_check("values-table.py")
    assert completed.returncode == 0, completed.stderr


def test_schema_describes_every_default_value():
    """values.schema.json covers every value of values.yaml, each with a description."""
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    defaults = yaml.safe_load((CHART_DIR / "values.yaml").read_text())

    def undescribed(node, values, path):
        missing = [] if node.get("description") or not path else [path]
        if "$ref" in node or not isinstance(values, dict) or "properties" not in node:
            return missing
        for key, value in values.items():
            child = node["properties"].get(key)
            missing += [key] if child is None else undescribed(child, value, f"{path}.{key}")
        return missing

    assert undescribed(schema, defaults, "") == []
