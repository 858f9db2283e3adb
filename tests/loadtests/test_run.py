"""``make loadtest`` end to end: a short Locust run against ``make stack``, gated by SLOs.

The gates file of these tests is the shipped ``slo.yaml`` with its latency limits widened
twentyfold and its throughput floor lowered: a test must not depend on how fast a shared
two-core machine is (the real figures come from ``make loadtest``). Everything else is gated
as shipped: every journey's route group must have run, and no request may fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from loadtests import slo

pytestmark = [pytest.mark.stack, pytest.mark.timeout(600)]

REPO_ROOT = Path(__file__).resolve().parents[2]
REPORT_FILES = [
    "report.html",
    "locust_stats.csv",
    "locust_stats_history.csv",
    "summary.json",
    "timeseries.csv",
    "throughput.png",
    "latency.png",
    "gates.json",
]


def run_loadtest(
    stack, report_dir: Path, gates_file: Path, *, workers: int = 0, run_time: str = "20s"
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "loadtests.run", "--host", stack.shop_url.rstrip("/"),
         "--users", "12", "--spawn-rate", "6", "--run-time", run_time, "--workers", str(workers),
         "--slo", str(gates_file), "--report-dir", str(report_dir)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def write_gates(path: Path, gates: dict) -> Path:
    path.write_text(yaml.safe_dump(gates))
    return path


@pytest.fixture(scope="module")
def tolerant_gates(tmp_path_factory) -> Path:
    gates = slo.load_gates()
    for limits in gates["route_groups"].values():
        for key in limits:
            limits[key] *= 20
    gates["min_throughput_rps"] = 1
    return write_gates(tmp_path_factory.mktemp("gates") / "tolerant.yaml", gates)


@pytest.fixture(scope="module")
def passing_run(stack, tmp_path_factory, tolerant_gates):
    report_dir = tmp_path_factory.mktemp("loadtest") / "report"
    return run_loadtest(stack, report_dir, tolerant_gates), report_dir


def test_a_short_run_meets_its_gates_with_every_journey_and_no_error(passing_run):
    result, report_dir = passing_run
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SLO passed" in result.stdout
    summary = json.loads((report_dir / "summary.json").read_text())
    assert summary["failures"] == 0, summary["errors"]
    assert {"read", "cart", "checkout", "payment"} <= set(summary["groups"])
    assert summary["groups"]["payment"]["requests"] > 0, "no order reached paid"


def test_the_run_writes_the_html_report_csv_stats_and_plots(passing_run):
    _, report_dir = passing_run
    for name in REPORT_FILES:
        assert (report_dir / name).stat().st_size > 0, name
    assert (report_dir / "throughput.png").read_bytes().startswith(b"\x89PNG")
    groups_plotted = {line.split(",")[1] for line in (report_dir / "timeseries.csv").open()}
    assert {"read", "checkout"} <= groups_plotted


def test_an_impossible_gate_fails_the_same_run_and_names_the_gate(stack, tmp_path, passing_run):
    gates = slo.load_gates()
    gates["route_groups"]["read"]["p95_ms"] = 0
    impossible = write_gates(tmp_path / "impossible.yaml", gates)
    result = run_loadtest(stack, tmp_path / "report", impossible)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SLO FAILED" in result.stdout
    assert "gate route_groups.read.p95_ms: measured" in result.stdout
    assert "limit 0 ms" in result.stdout
    verdict = json.loads((tmp_path / "report" / "gates.json").read_text())
    assert verdict["passed"] is False


def test_a_master_with_two_local_workers_runs_every_journey_within_the_gates(
    stack, tmp_path, tolerant_gates
):
    result = run_loadtest(stack, tmp_path / "report", tolerant_gates, workers=2, run_time="15s")
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["failures"] == 0, summary["errors"]
    assert summary["groups"]["payment"]["requests"] > 0
