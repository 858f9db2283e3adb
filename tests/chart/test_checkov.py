"""checkov passes on the rendered chart and the kustomize output; each skip names check and why.

checkov's helm framework silently skips charts when no helm binary is installed, so it scans the
manifests the real Helm engine rendered.
"""

from __future__ import annotations

import re

import pytest
import yaml

from tests.chart.manifests import OVERLAYS, SCENARIOS, kustomized, rendered, run_checkov

SKIP_ANNOTATION = re.compile(r"^checkov\.io/skip\d+$")
SKIP_VALUE = re.compile(r"^CKV_K8S_\d+=\S.{10,}$")


@pytest.fixture(scope="module")
def checkov_report(tmp_path_factory):
    directory = tmp_path_factory.mktemp("manifests")
    for scenario in SCENARIOS:
        objects = rendered(scenario) + rendered(scenario, upgrade=True)
        (directory / f"chart-{scenario}.yaml").write_text(yaml.safe_dump_all(objects))
    for overlay in OVERLAYS:
        (directory / f"kustomize-{overlay}.yaml").write_text(
            yaml.safe_dump_all(kustomized(overlay))
        )
    (kubernetes,) = [r for r in run_checkov(directory) if r["check_type"] == "kubernetes"]
    return kubernetes


def test_checkov_scans_resources(checkov_report):
    assert checkov_report["summary"]["resource_count"] > 0
    assert checkov_report["summary"]["passed"] > 0


def test_checkov_has_no_failed_check(checkov_report):
    failed = sorted(
        {
            f"{c['check_id']} {c['resource']} ({c['file_path']})"
            for c in checkov_report["results"]["failed_checks"]
        }
    )
    assert failed == []
    assert checkov_report["summary"]["parsing_errors"] == 0


def test_checkov_scanned_every_scenario_and_overlay(checkov_report):
    passed_files = {c["file_path"].lstrip("/") for c in checkov_report["results"]["passed_checks"]}
    expected = {f"chart-{s}.yaml" for s in SCENARIOS} | {f"kustomize-{o}.yaml" for o in OVERLAYS}
    assert expected <= passed_files


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_skip_names_its_check_and_reason(scenario):
    skips = [
        (obj["metadata"]["name"], key, value)
        for obj in rendered(scenario)
        for key, value in (obj["metadata"].get("annotations") or {}).items()
        if key.startswith("checkov.io/")
    ]
    assert skips, "the chart documents its checkov skips on the objects"
    assert [s for s in skips if not (SKIP_ANNOTATION.match(s[1]) and SKIP_VALUE.match(s[2]))] == []
