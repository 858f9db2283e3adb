"""The SLO gate evaluation, on hand-made run summaries."""

from pathlib import Path

import pytest

from loadtests import slo

GATES = {
    "route_groups": {"read": {"p95_ms": 100, "p99_ms": 250}, "checkout": {"p95_ms": 250}},
    "max_error_ratio": 0.01,
    "min_throughput_rps": 10,
}


def summary(**overrides) -> dict:
    run = {
        "duration_s": 10.0,
        "requests": 200,
        "failures": 0,
        "groups": {
            "read": {"requests": 180, "failures": 0, "p95_ms": 80, "p99_ms": 200},
            "checkout": {"requests": 20, "failures": 0, "p95_ms": 240, "p99_ms": 400},
        },
    }
    return {**run, **overrides}


def test_a_run_within_every_gate_has_no_breach():
    assert slo.evaluate(summary(), GATES) == []


def test_a_slow_percentile_names_its_group_gate_and_the_overshoot():
    run = summary()
    run["groups"]["read"]["p95_ms"] = 142
    [breach] = slo.evaluate(run, GATES)
    assert breach.gate == "route_groups.read.p95_ms"
    assert "measured 142 ms, limit 100 ms, off by 42 ms (42%)" in str(breach)


def test_a_gated_group_without_requests_breaks_its_gate():
    run = summary()
    del run["groups"]["checkout"]
    assert [breach.gate for breach in slo.evaluate(run, GATES)] == [
        "route_groups.checkout.requests"
    ]


def test_errors_above_the_ratio_and_low_throughput_both_break():
    gates = [breach.gate for breach in slo.evaluate(summary(failures=5, requests=50), GATES)]
    assert gates == ["max_error_ratio", "min_throughput_rps"]


def test_the_shipped_gates_file_loads_and_gates_every_journey_group():
    gates = slo.load_gates()
    assert set(gates["route_groups"]) == {"read", "cart", "checkout", "payment"}
    assert gates["max_error_ratio"] == 0


def test_a_gates_file_with_an_unknown_key_is_rejected(tmp_path: Path):
    path = tmp_path / "gates.yaml"
    path.write_text("route_groups: {read: {p90_ms: 10}}\n")
    with pytest.raises(ValueError, match="p95_ms"):
        slo.load_gates(path)
