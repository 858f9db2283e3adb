"""The ``/metrics`` endpoint of processes that are not gunicorn (workers, the exporter)."""

import os

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector


def metrics_registry() -> CollectorRegistry:
    """The registry to expose: the sum over all child processes in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


def start_metrics_server(port: int, registry: CollectorRegistry | None = None) -> None:
    start_http_server(
        port,
        addr=os.environ.get("METRICS_HOST", "0.0.0.0"),  # noqa: S104 - scraped by Prometheus
        registry=registry or metrics_registry(),
    )
