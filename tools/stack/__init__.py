"""``make stack``: the production shape of Bazaar on one machine, without containers.

Postgres, PgBouncer (transaction mode), Redis, two ``bazaar web`` processes behind HAProxy on
127.0.0.1:8080, the chart's worker pools, beat, the queue exporter, the payment-provider
simulator, an SMTP sink, the PgBouncer and Redis exporters, and Prometheus on 127.0.0.1:9090
loaded with the repository's alert rules. Every Bazaar process is started through the launcher
with the chart's environment keys; the worker pools are read from ``workers:`` in
``charts/bazaar/values.yaml``. With ``--slices`` (``make stack SLICES=1``) the two web processes
become one per web slice (``bazaar web --slice NAME``), HAProxy routes each slice's path
prefixes to it and Prometheus labels each with its ``slice``. State and logs live in
``.stack/`` (git-ignored; ``--state-dir`` elsewhere, as the test fixtures do)::

    uv run python -m tools.stack up       # returns once everything is healthy; idempotent
    uv run python -m tools.stack up --slices
    uv run python -m tools.stack status
    uv run python -m tools.stack logs [NAME]
    uv run python -m tools.stack down     # stops every process group and checks none is left
"""
