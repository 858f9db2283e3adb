"""``make bench BENCH_QUICK=1``: every benchmark runs once and the results are complete.

Only the shape and sanity of the results are checked, never a speed: the figures are for
``make bench`` to report, not for a test to assert on a shared machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests import web
from loadtests.bench import suite

pytestmark = [pytest.mark.stack, pytest.mark.timeout(600)]

REPO_ROOT = Path(__file__).resolve().parents[2]
EXPECTED_RATIOS = {
    "detail_cached_vs_baseline",
    "detail_uncached_vs_baseline",
    "list_cached_vs_baseline",
    "list_uncached_vs_baseline",
    "pgbouncer_vs_direct",
    "detail_uncached_replica_vs_primary",
    "list_uncached_replica_vs_primary",
    "checkout_orders_vs_baseline_requests",
    "orders_paid_ratio",
    "web_worker_rss_vs_baseline",
    "web_ready_vs_baseline",
    "container_ready_vs_process",
    "container_worker_rss_vs_process",
}


@pytest.fixture(scope="module")
def quick_bench(stack) -> tuple[subprocess.CompletedProcess, dict, Path]:
    readme_before = suite.README.read_text()
    result = subprocess.run(
        [sys.executable, "-m", "loadtests.bench", "--quick"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=500, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    json_path = Path(result.stdout.strip().splitlines()[-1].split()[1])
    assert suite.README.read_text() == readme_before, "a quick run must not publish its table"
    return result, json.loads(json_path.read_text()), json_path


def test_every_ratio_is_measured(quick_bench):
    _, results, _ = quick_bench
    assert set(results["ratios"]) == EXPECTED_RATIOS
    missing = [name for name, value in results["ratios"].items() if not value or value <= 0]
    assert not missing, f"ratios without a measurement: {missing}"


def test_every_http_benchmark_ran_without_errors_and_reports_the_generator_cpu(quick_bench):
    _, results, _ = quick_bench
    for name, run in results["http"].items():
        assert run["rps"] > 0 and run["errors"] == 0, (name, run)
        assert 0 <= run["generator_cpu_cores"] <= results["machine"]["cores"], name


def test_every_http_run_records_how_its_connections_spread_over_the_workers(quick_bench):
    _, results, _ = quick_bench
    for name, run in results["http"].items():
        for spread in run["rounds_connections_per_worker"]:
            assert len(spread) == int(suite.WEB_CONCURRENCY), (name, spread)
            assert sum(spread) == suite.WRK_CONNECTIONS, (name, spread)
        assert 1 <= run["attempts"] <= web.SPREAD_ATTEMPTS, (name, run)


def test_the_replica_server_read_the_catalog_through_the_read_pool(quick_bench):
    """Its figures are the replica's: the read pool passed the standby at least a query for
    each request of the runs (2 s each in a quick run, more than one second's worth)."""
    _, results, _ = quick_bench
    served = results["replica"]["queries_served"]
    assert served >= results["http"]["detail_uncached_replica"]["rps"]
    assert {"detail_uncached_replica", "list_uncached_replica"} <= set(results["http"])


def test_checkouts_go_through_the_real_worker_to_paid(quick_bench):
    _, results, _ = quick_bench
    checkout = results["checkout"]
    assert checkout["orders"] > 0 and checkout["failures"] == 0, checkout
    assert checkout["paid"] == checkout["orders"]
    assert checkout["paid_p95_s"] >= checkout["paid_p50_s"] > 0


def test_memory_and_start_time_are_measured_per_server(quick_bench):
    _, results, _ = quick_bench
    assert set(results["processes"]) == {
        "baseline",
        "app",
        "app-uncached",
        "app-direct",
        "app-replica",
    }
    for figures in results["processes"].values():
        assert len(figures["worker_rss_mb"]) == int(suite.WEB_CONCURRENCY)
        assert figures["ready_seconds"] > 0


def test_the_markdown_table_is_written_beside_the_json(quick_bench):
    _, results, json_path = quick_bench
    table = json_path.with_suffix(".md").read_text()
    for name in (*EXPECTED_RATIOS, *results["targets"]):
        assert f"| {name} |" in table


def test_the_image_figures_are_measured(quick_bench):
    """The image built, its size, and the hardened web container ready with its workers."""
    _, results, _ = quick_bench
    container = results["container"]
    assert container["image_size_mb"] > 0
    assert 0 < container["ready_seconds"] < 60
    assert len(container["worker_rss_mb"]) == int(suite.WEB_CONCURRENCY)
    assert all(rss > 0 for rss in container["worker_rss_mb"])
