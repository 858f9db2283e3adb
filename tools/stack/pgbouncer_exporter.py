"""Debian's prometheus-pgbouncer-exporter, made to read the SHOW STATS of PgBouncer >= 1.8.

Bookworm's exporter still asks for the ``total_requests`` column, which PgBouncer 1.8 replaced
with ``total_query_count`` (and ``total_xact_count``); against the 1.18 server it crashes at its
first scrape. This maps the column and then runs the exporter unchanged. It runs under Debian's
own ``/usr/bin/python3``, where the exporter package is installed, not under the project venv.
"""

import sys

from prometheus_pgbouncer_exporter import cli, collectors

stats_metrics = collectors.StatsCollector.metrics
if "total_requests" in stats_metrics:
    stats_metrics["total_query_count"] = stats_metrics.pop("total_requests")

sys.exit(cli.main())
