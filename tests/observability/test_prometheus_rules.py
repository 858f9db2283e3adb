"""The Prometheus rules load in promtool, pass their unit tests and are fit to page someone."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.observability.queries import (
    RULE_TESTS_DIR,
    RUNBOOKS_DIR,
    alerting_rules,
    rule_files,
)

SEVERITIES = {"critical", "warning"}


def kebab_case(alert_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", alert_name).lower()


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)


def test_promtool_check_rules_accepts_every_rule_file():
    """promtool parses every rule file and every PromQL expression in it."""
    files = [str(path) for path in rule_files()]
    assert files, "no rule files found"
    result = promtool("check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass():
    """`promtool test rules` passes for every unit-test file."""
    files = sorted(str(path) for path in RULE_TESTS_DIR.glob("*.yaml"))
    assert files, "no promtool unit tests found"
    result = promtool("test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_rule_file_has_unit_tests():
    """Each rule file is loaded by at least one promtool unit-test file."""
    tested = {
        (RULE_TESTS_DIR / rule_file).resolve()
        for test_file in RULE_TESTS_DIR.glob("*.yaml")
        for rule_file in yaml.safe_load(test_file.read_text())["rule_files"]
    }
    assert {path.resolve() for path in rule_files()} <= tested


def test_every_alert_has_a_firing_and_a_quiet_unit_test():
    """Each alert is expected to fire in one promtool case and to stay quiet in another."""
    firing, quiet = set(), set()
    for test_file in RULE_TESTS_DIR.glob("*.yaml"):
        for case in yaml.safe_load(test_file.read_text())["tests"]:
            for expectation in case.get("alert_rule_test", []):
                target = firing if expectation.get("exp_alerts") else quiet
                target.add(expectation["alertname"])
    alert_names = {rule["alert"] for rule in alerting_rules()}
    assert alert_names - firing == set(), "alerts never seen firing"
    assert alert_names - quiet == set(), "alerts never seen staying quiet"


@pytest.mark.parametrize("rule", alerting_rules(), ids=lambda rule: rule["alert"])
def test_alert_is_annotated_for_the_on_call(rule):
    """Summary, description, a known severity and a runbook link to an existing page."""
    annotations = rule.get("annotations", {})
    assert annotations.get("summary", "").strip()
    assert annotations.get("description", "").strip()
    assert rule.get("labels", {}).get("severity") in SEVERITIES

    runbook_name = f"{kebab_case(rule['alert'])}.md"
    assert annotations.get("runbook_url", "").endswith(f"/observability/runbooks/{runbook_name}")
    runbook = RUNBOOKS_DIR / runbook_name
    assert runbook.is_file(), f"{runbook} is missing"
    assert runbook.read_text().startswith(f"# {rule['alert']}\n")


def test_every_runbook_belongs_to_an_alert():
    """No runbook is left behind by a renamed or removed alert."""
    expected = {f"{kebab_case(rule['alert'])}.md" for rule in alerting_rules()}
    assert {path.name for path in RUNBOOKS_DIR.glob("*.md")} == expected


def test_alert_names_are_unique():
    names = [rule["alert"] for rule in alerting_rules()]
    assert len(names) == len(set(names))
