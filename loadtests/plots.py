"""PNG plots of a run from ``timeseries.csv``: throughput and latency percentiles over time,
one line (throughput) or one panel (latency) per route group."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

PERCENTILE_STYLES = {"p50_ms": ":", "p95_ms": "-", "p99_ms": "--"}


def _series(timeseries_csv: Path) -> dict[str, list[dict]]:
    by_group: dict[str, list[dict]] = defaultdict(list)
    with timeseries_csv.open() as rows:
        for row in csv.DictReader(rows):
            by_group[row["group"]].append(row)
    return dict(sorted(by_group.items()))


def plot_run(report_dir: Path) -> list[Path]:
    """Write ``throughput.png`` and ``latency.png`` next to ``timeseries.csv``."""
    series = _series(report_dir / "timeseries.csv")
    throughput_png = report_dir / "throughput.png"
    figure, axes = plt.subplots(figsize=(10, 4))
    for group, rows in series.items():
        axes.plot(
            [float(r["elapsed_s"]) for r in rows], [float(r["rps"]) for r in rows], label=group
        )
    axes.set(
        xlabel="seconds since start",
        ylabel="requests per second",
        title="Throughput by route group",
    )
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(throughput_png, dpi=100)
    plt.close(figure)

    latency_png = report_dir / "latency.png"
    figure, panels = plt.subplots(
        len(series), 1, figsize=(10, 2.6 * len(series)), sharex=True, squeeze=False
    )
    for panel, (group, rows) in zip(panels[:, 0], series.items(), strict=True):
        for key, style in PERCENTILE_STYLES.items():
            points = [(float(r["elapsed_s"]), float(r[key])) for r in rows if r[key]]
            if points:
                panel.plot(*zip(*points, strict=True), style, label=key.removesuffix("_ms"))
        panel.set(ylabel="ms", title=f"{group}: latency percentiles per sampling window")
        panel.legend(loc="upper right")
        panel.grid(alpha=0.3)
    panels[-1, 0].set_xlabel("seconds since start")
    figure.tight_layout()
    figure.savefig(latency_png, dpi=100)
    plt.close(figure)
    return [throughput_png, latency_png]
