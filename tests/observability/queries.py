"""Every PromQL expression the observability pack ships, ready to run.

The rule-file tests, the metric-name check and the live test against `make stack` all read the
rules and dashboards through this module, so none of them can skip a query the others see.
Dashboard queries come back with their Grafana variables replaced: interval variables by fixed
windows, dashboard variables by the value Grafana sends for "All".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY_DIR = REPO_ROOT / "observability"
RULES_DIR = OBSERVABILITY_DIR / "prometheus" / "rules"
RULE_TESTS_DIR = OBSERVABILITY_DIR / "prometheus" / "tests"
DASHBOARDS_DIR = OBSERVABILITY_DIR / "grafana" / "dashboards"
RUNBOOKS_DIR = OBSERVABILITY_DIR / "runbooks"
ALERTMANAGER_CONFIG = OBSERVABILITY_DIR / "alertmanager" / "alertmanager.yml"

# Grafana's built-in variables. `$__rate_interval` is at least four scrape intervals, so 1m
# covers scrape intervals up to 15 s; `$__range` only needs to reach back over the test's load.
GRAFANA_BUILTIN_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "1m",
    "__range": "1h",
}

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it comes from (shown as the pytest id)."""

    source: str
    expr: str


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yaml"))


def rules() -> Iterator[tuple[Path, dict]]:
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                yield path, rule


def recording_rules() -> list[Query]:
    return [
        Query(f"{path.name}:{rule['record']}", rule["expr"].strip())
        for path, rule in rules()
        if "record" in rule
    ]


def alerting_rules() -> list[dict]:
    return [rule for _, rule in rules() if "alert" in rule]


def alert_queries() -> list[Query]:
    return [
        Query(f"{path.name}:{rule['alert']}", rule["expr"].strip())
        for path, rule in rules()
        if "alert" in rule
    ]


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load_dashboard(path: Path) -> dict:
    return json.loads(path.read_text())


def panels(dashboard: dict) -> Iterator[dict]:
    """Every panel, including those nested in collapsed rows; rows themselves excluded."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def expand_variables(expr: str, dashboard: dict) -> str:
    """Replace Grafana variables the way Grafana does with every variable set to "All"."""
    values = dict(GRAFANA_BUILTIN_VARIABLES)
    for variable in dashboard["templating"]["list"]:
        if variable["type"] in {"query", "custom"}:
            values[variable["name"]] = variable["allValue"]

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(substitute, expr)


def dashboard_queries() -> list[Query]:
    """Every panel target of every dashboard, variables expanded."""
    queries = []
    for path in dashboard_files():
        dashboard = load_dashboard(path)
        for panel in panels(dashboard):
            for target in panel["targets"]:
                queries.append(
                    Query(
                        f"{path.stem}:{panel['title']}:{target['refId']}",
                        expand_variables(target["expr"], dashboard),
                    )
                )
    return queries


def variable_queries() -> list[Query]:
    """The `label_values(metric, label)` queries behind the dashboard variables, as PromQL."""
    label_values = re.compile(r"label_values\((?P<selector>.+),\s*(?P<label>\w+)\)")
    queries = []
    for path in dashboard_files():
        for variable in load_dashboard(path)["templating"]["list"]:
            if variable["type"] != "query":
                continue
            match = label_values.fullmatch(variable["query"]["query"])
            if match is None:
                raise ValueError(f"{path.name}: variable {variable['name']} is not label_values()")
            queries.append(
                Query(
                    f"{path.stem}:${variable['name']}",
                    f"count by ({match['label']}) ({match['selector']})",
                )
            )
    return queries


_QUOTED = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_LABEL_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w.:])[a-zA-Z_:][a-zA-Z0-9_:]*")
_PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names (including recording-rule names) an expression selects."""
    stripped = _QUOTED.sub('""', expr)
    stripped = _LABEL_MATCHERS.sub("", stripped)
    stripped = _RANGES.sub("", stripped)
    stripped = _LABEL_LISTS.sub("", stripped)
    names = set()
    for match in _IDENTIFIER.finditer(stripped):
        name = match.group()
        is_function_call = stripped[match.end() :].lstrip().startswith("(")
        if not is_function_call and name.lower() not in _PROMQL_KEYWORDS:
            names.add(name)
    return names
