"""checkov's terraform framework passes on the whole tree, and every skip says why.

Community modules are not downloaded (``--download-external-modules false``), so checkov scans the
plain resources of the modules and the module calls of the environments, with the environments'
arguments flowing into the modules' resources.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.terraform import hcl

CHECKOV = Path(sys.executable).with_name("checkov")
CHECK_ID = re.compile(r"^CKV2?_[A-Z0-9]+_\d+$")
SKIP_COMMENT = re.compile(r"#\s*checkov:skip=([^\s:]+)(?::(.*))?")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    completed = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(hcl.TERRAFORM_DIR),
            "--framework",
            "terraform",
            "--download-external-modules",
            "false",
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # An ImportError of START_LINE here means PyPI python-hcl2 overwrote the `hcl2` module of
    # checkov's bc-python-hcl2 in this environment.
    assert completed.stdout.strip(), completed.stderr[-3000:]
    (result,) = [json.loads(completed.stdout)]
    assert isinstance(result, dict) and result.get("check_type") == "terraform", result
    return result


def test_checkov_scans_resources(report):
    """checkov sees the plain resources; zero means it could not parse the tree.

    checkov parses HCL with its fork bc-python-hcl2; when PyPI python-hcl2 overwrites that fork's
    ``hcl2`` module in the same environment, checkov silently scans nothing.
    """
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] > 0, (
        "checkov scanned no resource: is its bc-python-hcl2 shadowed by python-hcl2?"
    )
    assert summary["passed"] > 0


def test_checkov_has_no_failed_checks(report):
    """No check fails."""
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "\n".join(failed)


def test_every_skip_names_its_check_and_a_reason(report):
    """Each inline skip is `#checkov:skip=CKV_..:reason`, and checkov honoured it."""
    comments = [
        match.groups()
        for path in hcl.TERRAFORM_DIR.rglob("*.tf")
        for match in SKIP_COMMENT.finditer(path.read_text())
    ]
    assert comments
    for check_id, reason in comments:
        assert CHECK_ID.match(check_id), f"skip of {check_id!r} does not name a check"
        assert reason and len(reason.strip()) > 20, f"skip of {check_id} gives no reason"
    skipped = report["results"]["skipped_checks"]
    assert len(skipped) == report["summary"]["skipped"]
    for check in skipped:
        assert check["check_result"].get("suppress_comment"), check["check_id"]
