"""Locust journeys, SLO gates, the scale-out scenario and the benchmark suite (see README.md)."""
