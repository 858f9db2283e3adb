"""The metric names rules and dashboards may use, so that a misspelt name fails a test.

Bazaar's own names are read from the "Metrics" section of docs/runtime-contract.md (the one
place they are written); third-party names are listed here with the exporter they come from.
"""

from __future__ import annotations

import functools
import re

from tests.observability.queries import REPO_ROOT, recording_rules

RUNTIME_CONTRACT = REPO_ROOT / "docs" / "runtime-contract.md"

# prometheus-community/pgbouncer_exporter, the exporter the chart runs beside PgBouncer.
PGBOUNCER_EXPORTER_METRICS = {
    "pgbouncer_up",
    "pgbouncer_config_max_client_connections",
    "pgbouncer_databases_pool_size",
    "pgbouncer_pools_client_active_connections",
    "pgbouncer_pools_client_waiting_connections",
    "pgbouncer_pools_client_maxwait_seconds",
    "pgbouncer_pools_server_active_connections",
    "pgbouncer_pools_server_idle_connections",
    "pgbouncer_stats_queries_pooled_total",
    "pgbouncer_stats_queries_duration_seconds_total",
    "pgbouncer_stats_client_wait_seconds_total",
    "pgbouncer_stats_sql_transactions_pooled_total",
}

# oliver006/redis_exporter (Debian `prometheus-redis-exporter`), names checked against its output.
REDIS_EXPORTER_METRICS = {
    "redis_up",
    "redis_memory_used_bytes",
    "redis_memory_max_bytes",
    "redis_evicted_keys_total",
    "redis_commands_processed_total",
    "redis_connected_clients",
    "redis_db_keys",
    "redis_keyspace_hits_total",
    "redis_keyspace_misses_total",
}

KUBE_STATE_METRICS = {
    "kube_pod_container_status_restarts_total",
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_horizontalpodautoscaler_spec_max_replicas",
}

# Written by Prometheus itself for every scrape target.
PROMETHEUS_METRICS = {"up"}

_METRIC_NAME = re.compile(r"`([a-z_:][a-z0-9_:]*)(?:\{[^}`]*\})?`")


def contract_metrics() -> set[str]:
    """Metric names in backticks in the contract's Metrics section, with histogram siblings."""
    text = RUNTIME_CONTRACT.read_text()
    section = text.split("## Metrics", 1)[1].split("\n## ", 1)[0]
    names = {name for name in _METRIC_NAME.findall(section) if "_" in name}
    for name in list(names):
        if name.endswith("_bucket"):
            base = name.removesuffix("_bucket")
            names |= {f"{base}_count", f"{base}_sum"}
    return names


@functools.cache
def known_metrics() -> frozenset[str]:
    return frozenset(
        contract_metrics()
        | PGBOUNCER_EXPORTER_METRICS
        | REDIS_EXPORTER_METRICS
        | KUBE_STATE_METRICS
        | PROMETHEUS_METRICS
        | {query.source.split(":", 1)[1] for query in recording_rules()}
    )
