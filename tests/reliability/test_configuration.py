"""Prod settings pass Django's deploy checks at WARNING level. (That every pod the chart
renders keeps Pod Security "restricted" is proven by
tests/chart/test_structure.py::test_every_pod_meets_pod_security_restricted.)"""

from __future__ import annotations

import subprocess

from tests.plugins.services import APP_DIR, launcher_command

from .conftest import web_environment


def test_prod_settings_pass_the_deploy_checks_at_warning_level(django_db_setup, figures):
    result = subprocess.run(
        [*launcher_command(), "check"],
        env=web_environment(STATIC_ROOT="/tmp/bazaar-check-static"),
        cwd=APP_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    figures.record("configuration", "check --deploy --fail-level WARNING", result.returncode)
    assert result.returncode == 0, result.stdout + result.stderr
