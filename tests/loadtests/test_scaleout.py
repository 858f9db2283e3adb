"""The scale-out scenario, quick: both sizes are measured behind their own load balancer and
the efficiency is computed from their capacities (never asserted: it is this machine's), with
the CPU each request cost the web processes and the rest of the machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.stack, pytest.mark.timeout(600)]

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_quick_scaleout_measures_one_and_two_processes_and_their_efficiency(stack):
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.scaleout", "--quick"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=500, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads(Path(result.stdout.strip().splitlines()[-1].split()[1]).read_text())
    for size in ("1", "2"):
        steps = results["sizes"][size]["steps"]
        assert steps and all(step["errors"] == 0 for step in steps), steps
        assert results["capacity_rps"][size] == results["sizes"][size]["best"]["rps"] > 0
        assert results["sizes"][size]["rounds_capacity_rps"] == [results["capacity_rps"][size]]
        # Serving a request takes web CPU; the load balancer and wrk take some of the rest.
        assert all(step["web_cpu_ms_per_request"] > 0 for step in steps), steps
        assert all(step["shared_cpu_ms_per_request"] > 0 for step in steps), steps
    expected = results["capacity_rps"]["2"] / (2 * results["capacity_rps"]["1"])
    assert results["scaling_efficiency"] == pytest.approx(expected, abs=0.001)
    one, two = results["sizes"]["1"]["best"], results["sizes"]["2"]["best"]
    web, shared = two["web_cpu_ms_per_request"], two["shared_cpu_ms_per_request"]
    assert results["efficiency_bound"] == pytest.approx(web / (web + shared), abs=0.001)
    assert results["per_web_cpu_efficiency"] == pytest.approx(
        one["web_cpu_ms_per_request"] / web, abs=0.001
    )
