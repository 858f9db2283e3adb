"""SLO gates: read the gates file, hold a run's summary against it, name every breach.

The summary is what ``loadtests.recorder`` writes at the end of a Locust run::

    {"duration_s": 30.1, "requests": 812, "failures": 0,
     "groups": {"read": {"requests": 640, "failures": 0, "p95_ms": 38, "p99_ms": 71}, ...}}
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_GATES_FILE = Path(__file__).with_name("slo.yaml")
PERCENTILE_KEYS = ("p95_ms", "p99_ms")


@dataclass(frozen=True)
class Breach:
    gate: str
    measured: float
    limit: float
    unit: str = ""

    def __str__(self) -> str:
        over = abs(self.measured - self.limit)
        relative = f" ({over / self.limit:.0%})" if self.limit else ""
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"gate {self.gate}: measured {self.measured:g}{unit}, limit {self.limit:g}{unit}, "
            f"off by {over:g}{unit}{relative}"
        )


def load_gates(path: Path = DEFAULT_GATES_FILE) -> dict[str, Any]:
    gates = yaml.safe_load(Path(path).read_text())
    unknown = set(gates) - {"route_groups", "max_error_ratio", "min_throughput_rps"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}")
    for group, limits in gates.get("route_groups", {}).items():
        if not set(limits) <= set(PERCENTILE_KEYS):
            raise ValueError(f"{path}: route group {group!r} may only set {PERCENTILE_KEYS}")
    return gates


def evaluate(summary: dict[str, Any], gates: dict[str, Any]) -> list[Breach]:
    """Every gate the run broke; empty when it met them all.

    A gated route group that saw no request is a breach too: a journey that silently stopped
    running must not pass its latency gate.
    """
    breaches = []
    for group, limits in gates.get("route_groups", {}).items():
        measured = summary["groups"].get(group)
        if not measured or not measured["requests"]:
            breaches.append(Breach(f"route_groups.{group}.requests", 0, 1, "requests"))
            continue
        for key in PERCENTILE_KEYS:
            if key in limits and measured[key] > limits[key]:
                breaches.append(
                    Breach(f"route_groups.{group}.{key}", measured[key], limits[key], "ms")
                )
    if "max_error_ratio" in gates:
        ratio = summary["failures"] / summary["requests"] if summary["requests"] else 1.0
        if ratio > gates["max_error_ratio"]:
            breaches.append(Breach("max_error_ratio", round(ratio, 4), gates["max_error_ratio"]))
    if "min_throughput_rps" in gates:
        throughput = summary["requests"] / summary["duration_s"] if summary["duration_s"] else 0
        if throughput < gates["min_throughput_rps"]:
            breaches.append(
                Breach(
                    "min_throughput_rps", round(throughput, 1), gates["min_throughput_rps"], "rps"
                )
            )
    return breaches
