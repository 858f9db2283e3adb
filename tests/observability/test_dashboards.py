"""The Grafana dashboards load in the sidecar and query only metrics that exist."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.observability.metric_catalogue import known_metrics
from tests.observability.queries import (
    alert_queries,
    dashboard_files,
    dashboard_queries,
    load_dashboard,
    metric_names,
    panels,
    recording_rules,
    variable_queries,
)

EXPECTED_DASHBOARDS = {"overview", "api", "celery", "data", "business"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


@pytest.fixture(scope="module", params=dashboard_files(), ids=lambda path: path.stem)
def dashboard(request):
    return load_dashboard(request.param)


def test_the_five_dashboards_are_shipped():
    assert {path.stem for path in dashboard_files()} == EXPECTED_DASHBOARDS


def test_dashboard_uids_are_unique():
    uids = [load_dashboard(path)["uid"] for path in dashboard_files()]
    assert len(uids) == len(set(uids))


def test_dashboard_is_identified_and_tagged(dashboard):
    assert dashboard["uid"].startswith("bazaar-")
    assert len(dashboard["uid"]) <= 40
    assert dashboard["title"].startswith("Bazaar / ")
    assert "bazaar" in dashboard["tags"]
    assert "id" not in dashboard or dashboard["id"] is None


def test_dashboard_has_a_prometheus_datasource_variable(dashboard):
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_every_panel_and_target_uses_the_datasource_variable(dashboard):
    for panel in panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


def test_panels_have_unique_ids_and_fit_the_grid(dashboard):
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]


def test_dashboard_queries_are_valid_promql(tmp_path):
    """promtool parses every panel and variable query (wrapped as recording rules)."""
    queries = dashboard_queries() + variable_queries()
    rules = [
        {"record": f"dashboard:query_{index}", "expr": query.expr}
        for index, query in enumerate(queries)
    ]
    rule_file = tmp_path / "dashboard-queries.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        ["promtool", "check", "rules", str(rule_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "query",
    recording_rules() + alert_queries() + dashboard_queries() + variable_queries(),
    ids=lambda query: query.source,
)
def test_query_uses_only_known_metric_names(query):
    """A misspelt metric name would make a panel or an alert silently empty."""
    assert metric_names(query.expr) <= known_metrics(), metric_names(query.expr) - known_metrics()


def test_metric_name_check_catches_a_misspelt_name():
    expr = 'sum by (view) (rate(django_http_requests_totl{view="x"}[5m])) > 1e3'
    assert metric_names(expr) == {"django_http_requests_totl"}
    assert not metric_names(expr) <= known_metrics()


def test_the_api_dashboard_filters_and_splits_by_web_slice():
    """Web slices scrape with a ``slice`` target label: the API dashboard selects on it in every
    raw request query and has panels per slice (recording-rule panels are per view, and each
    view belongs to one slice)."""
    (path,) = [path for path in dashboard_files() if path.stem == "api"]
    dashboard = load_dashboard(path)
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["slice"]["query"]["query"] == (
        "label_values(django_http_requests_total_by_view_transport_method_total, slice)"
    )
    assert variables["slice"]["allValue"] == ".*", "All must match a web with no slice too"
    raw = [
        target["expr"]
        for panel in panels(dashboard)
        for target in panel["targets"]
        if re.search(r"(?<![:\w])django_http_", target["expr"])
    ]
    assert raw
    assert [expr for expr in raw if 'slice=~"$slice"' not in expr] == []
    per_slice = [
        panel["title"]
        for panel in panels(dashboard)
        if any(target["legendFormat"] == "{{slice}}" for target in panel["targets"])
    ]
    assert per_slice == ["Requests per second by slice", "p95 latency by slice"]
