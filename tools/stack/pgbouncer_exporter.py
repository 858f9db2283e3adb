"""A stand-in for prometheus-community/pgbouncer_exporter, the exporter the chart runs.

The chart runs ``prometheuscommunity/pgbouncer-exporter`` beside PgBouncer, and the rules and
dashboards under ``observability/`` use its metric names. That exporter is a Go binary that
neither Debian nor PyPI ships, and Debian's ``prometheus-pgbouncer-exporter`` is another
exporter with other names (``pgbouncer_waiting_clients``, ``pgbouncer_query_microseconds_total``…).
So the stack runs this: the same ``SHOW`` commands read into the same names, labels and units as
the Go exporter's ``collector.go`` (only the metrics of those commands; no Go runtime metrics),
so that a query that works against the stack works against a cluster.

Flags and environment as the Go exporter's: ``--web.listen-address`` and
``--pgBouncer.connectionString`` (default ``$PGBOUNCER_EXPORTER_CONNECTION_STRING``).
"""

from __future__ import annotations

import argparse
import os
import threading
from collections.abc import Iterator

import psycopg
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

MICROSECONDS = 1e-6
# SHOW command -> (label columns, {column: (metric suffix, counter?, factor, help)}).
COLUMN_METRICS: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, bool, float, str]]]] = {
    "databases": (
        ("name", "host", "port", "database", "force_user", "pool_mode"),
        {
            "pool_size": ("pool_size", False, 1, "Maximum number of server connections"),
            "reserve_pool": ("reserve_pool", False, 1, "Additional connections allowed"),
            "max_connections": ("max_connections", False, 1, "Maximum allowed connections"),
            "current_connections": ("current_connections", False, 1, "Current connections"),
            "paused": ("paused", False, 1, "1 if this database is paused, else 0"),
            "disabled": ("disabled", False, 1, "1 if this database is disabled, else 0"),
        },
    ),
    "stats_totals": (
        ("database",),
        {
            "query_count": ("queries_pooled_total", True, 1, "SQL queries pooled"),
            "query_time": (
                "queries_duration_seconds_total", True, MICROSECONDS,
                "Seconds spent connected to PostgreSQL, executing queries",
            ),
            "bytes_received": ("received_bytes_total", True, 1, "Bytes received from clients"),
            "bytes_sent": ("sent_bytes_total", True, 1, "Bytes sent to clients"),
            "wait_time": (
                "client_wait_seconds_total", True, MICROSECONDS,
                "Seconds clients spent waiting for a server",
            ),
            "xact_count": ("sql_transactions_pooled_total", True, 1, "SQL transactions pooled"),
            "xact_time": (
                "server_in_transaction_seconds_total", True, MICROSECONDS,
                "Seconds spent connected to PostgreSQL in a transaction",
            ),
        },
    ),
    "pools": (
        ("database", "user"),
        {
            "cl_active": ("client_active_connections", False, 1, "Clients linked to a server"),
            "cl_waiting": ("client_waiting_connections", False, 1, "Clients waiting for a server"),
            "sv_active": ("server_active_connections", False, 1, "Servers linked to a client"),
            "sv_idle": ("server_idle_connections", False, 1, "Servers idle and ready"),
            "sv_used": ("server_used_connections", False, 1, "Servers needing a check query"),
            "sv_tested": ("server_testing_connections", False, 1, "Servers running a reset/check"),
            "sv_login": ("server_login_connections", False, 1, "Servers logging in"),
            "maxwait": ("client_maxwait_seconds", False, 1, "Age of the oldest unserved client"),
        },
    ),
}  # fmt: skip
# SHOW CONFIG key -> metric name.
CONFIG_METRICS = {
    "max_client_conn": "pgbouncer_config_max_client_connections",
    "max_user_connections": "pgbouncer_config_max_user_connections",
}


class PgBouncerCollector(Collector):
    """Reads PgBouncer's admin console at every scrape; ``pgbouncer_up`` 0 when it cannot."""

    def __init__(self, connection_string: str) -> None:
        self.connection_string = connection_string

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("pgbouncer_up", "The pgbouncer scrape succeeded")
        try:
            # The admin console speaks only the simple query protocol: no prepared statements.
            with psycopg.connect(
                self.connection_string, autocommit=True, prepare_threshold=None, connect_timeout=5
            ) as connection:
                metrics = list(self._read(connection))
        except psycopg.Error:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self, connection: psycopg.Connection) -> Iterator[Metric]:
        for command, (labels, columns) in COLUMN_METRICS.items():
            cursor = connection.execute(f"SHOW {command.upper()}")
            names = [column.name for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            for column, (suffix, is_counter, factor, help_text) in columns.items():
                family_type = CounterMetricFamily if is_counter else GaugeMetricFamily
                family = family_type(
                    f"pgbouncer_{command.split('_')[0]}_{suffix}", help_text, labels=labels
                )
                for row in rows:
                    if row.get(column) is None:
                        continue
                    label_values = [
                        "" if row.get(label) is None else str(row[label]) for label in labels
                    ]
                    family.add_metric(label_values, float(row[column]) * factor)
                yield family
        config = {key: value for key, value, *_ in connection.execute("SHOW CONFIG").fetchall()}
        for key, name in CONFIG_METRICS.items():
            family = GaugeMetricFamily(name, f"Config {key}")
            family.add_metric([], float(config[key]))
            yield family


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--web.listen-address", dest="listen_address", default=":9127")
    parser.add_argument(
        "--pgBouncer.connectionString",
        dest="connection_string",
        default=os.environ.get("PGBOUNCER_EXPORTER_CONNECTION_STRING"),
    )
    args = parser.parse_args()
    if not args.connection_string:
        parser.error("--pgBouncer.connectionString or $PGBOUNCER_EXPORTER_CONNECTION_STRING")
    host, _, port = args.listen_address.rpartition(":")
    registry = CollectorRegistry()
    registry.register(PgBouncerCollector(args.connection_string))
    start_http_server(int(port), addr=host or "0.0.0.0", registry=registry)  # noqa: S104
    threading.Event().wait()


if __name__ == "__main__":
    main()
