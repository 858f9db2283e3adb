"""The example Alertmanager configuration loads, routes by severity and inhibits real alerts."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.observability.queries import ALERTMANAGER_CONFIG, alerting_rules


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["amtool", *args], capture_output=True, text=True, check=False)


def test_amtool_check_config_passes():
    result = amtool("check-config", str(ALERTMANAGER_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("severity", "receiver"), [("critical", "pager"), ("warning", "tickets")])
def test_alerts_are_routed_by_severity(severity, receiver):
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={ALERTMANAGER_CONFIG}",
        f"--verify.receivers={receiver}",
        "alertname=AnyAlert",
        f"severity={severity}",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_inhibition_rules_name_existing_alerts():
    """Every alertname pattern of an inhibition matches at least one shipped alert."""
    alert_names = {rule["alert"] for rule in alerting_rules()}
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    matcher = re.compile(r'alertname\s*(=~|=)\s*"([^"]+)"')
    patterns = [
        matcher.fullmatch(text.strip()).groups()
        for rule in config["inhibit_rules"]
        for text in [*rule["source_matchers"], *rule["target_matchers"]]
    ]
    assert patterns
    for operator, value in patterns:
        alternatives = value.split("|") if operator == "=~" else [re.escape(value)]
        for alternative in alternatives:
            assert any(re.fullmatch(alternative, name) for name in alert_names), alternative
