"""Per-route-group measurements of a Locust run, written for the SLO gates and the plots.

Locust keeps statistics per request name; the gates and plots need them per route group (the
part of the name before ``/``). On the master (or the single local process) this module:

* samples every ``SAMPLE_SECONDS`` the requests per second and the p50/p95/p99 of the requests
  completed in that window, per group, into ``timeseries.csv``;
* writes ``summary.json`` when Locust quits: the whole-run percentiles per group (Locust's
  histograms of every request name of the group, merged), request and failure counts.

Nothing is recorded unless ``LOADTEST_REPORT_DIR`` names the folder to write to.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections import Counter
from pathlib import Path

import gevent
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import StatsEntry, calculate_response_time_percentile

SAMPLE_SECONDS = 2.0
PERCENTILES = {"p50_ms": 0.50, "p95_ms": 0.95, "p99_ms": 0.99}
TIMESERIES_FIELDS = ["elapsed_s", "group", "rps", "failures_per_s", *PERCENTILES]


def route_group(request_name: str) -> str:
    return request_name.split("/", 1)[0]


class GroupRecorder:
    def __init__(self, environment: Environment, report_dir: Path) -> None:
        self.environment = environment
        self.report_dir = report_dir
        self.started = time.monotonic()
        self.rows: list[dict] = []
        self._previous: dict[str, tuple[Counter, int, int]] = {}
        self._sampler = gevent.spawn(self._sample_forever)

    def _entries_by_group(self) -> dict[str, list[StatsEntry]]:
        groups: dict[str, list[StatsEntry]] = {}
        for entry in self.environment.stats.entries.values():
            groups.setdefault(route_group(entry.name), []).append(entry)
        return groups

    def _sample_forever(self) -> None:
        while True:
            gevent.sleep(SAMPLE_SECONDS)
            self.sample()

    def sample(self) -> None:
        """One row per group: rates and percentiles of what completed since the last sample."""
        elapsed = time.monotonic() - self.started
        for group, entries in self._entries_by_group().items():
            histogram = Counter()
            for entry in entries:
                histogram.update(entry.response_times)
            requests = sum(entry.num_requests for entry in entries)
            failures = sum(entry.num_failures for entry in entries)
            last_histogram, last_requests, last_failures = self._previous.get(
                group, (Counter(), 0, 0)
            )
            self._previous[group] = (histogram, requests, failures)
            window = histogram - last_histogram
            window_requests = sum(window.values())
            row = {
                "elapsed_s": round(elapsed, 1),
                "group": group,
                "rps": round((requests - last_requests) / SAMPLE_SECONDS, 2),
                "failures_per_s": round((failures - last_failures) / SAMPLE_SECONDS, 2),
            }
            for key, percent in PERCENTILES.items():
                row[key] = (
                    calculate_response_time_percentile(window, window_requests, percent)
                    if window_requests
                    else ""
                )
            self.rows.append(row)

    def summary(self) -> dict:
        total = self.environment.stats.total
        groups = {}
        for group, entries in self._entries_by_group().items():
            merged = StatsEntry(self.environment.stats, group, "", use_response_times_cache=False)
            for entry in entries:
                merged.extend(entry)
            groups[group] = {
                "requests": merged.num_requests,
                "failures": merged.num_failures,
                "rps": round(merged.total_rps, 2),
                "median_ms": merged.median_response_time,
                "p95_ms": merged.get_response_time_percentile(0.95),
                "p99_ms": merged.get_response_time_percentile(0.99),
                "max_ms": round(merged.max_response_time or 0),
            }
        duration = (total.last_request_timestamp or total.start_time) - total.start_time
        return {
            "duration_s": round(duration, 1),
            "requests": total.num_requests,
            "failures": total.num_failures,
            "rps": round(total.num_requests / duration, 2) if duration else 0,
            "groups": groups,
            "errors": [
                {"name": error.name, "error": str(error.error), "occurrences": error.occurrences}
                for error in self.environment.stats.errors.values()
            ],
        }

    def write(self) -> None:
        self._sampler.kill(block=False)
        self.sample()
        self.report_dir.mkdir(parents=True, exist_ok=True)
        (self.report_dir / "summary.json").write_text(json.dumps(self.summary(), indent=2) + "\n")
        with (self.report_dir / "timeseries.csv").open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=TIMESERIES_FIELDS)
            writer.writeheader()
            writer.writerows(self.rows)


_recorder: GroupRecorder | None = None


@events.test_start.add_listener
def _start_recording(environment: Environment, **kwargs) -> None:
    global _recorder
    report_dir = os.environ.get("LOADTEST_REPORT_DIR")
    if report_dir and not isinstance(environment.runner, WorkerRunner) and _recorder is None:
        _recorder = GroupRecorder(environment, Path(report_dir))


@events.quitting.add_listener
def _write_recording(environment: Environment, **kwargs) -> None:
    if _recorder is not None:
        _recorder.write()
