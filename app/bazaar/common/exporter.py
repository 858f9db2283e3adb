"""``bazaar exporter``: queue depth and oldest-message age per Celery queue, and beat's last
tick, read from Redis on every scrape. One small process, so the numbers exist even when a
worker pool is scaled to zero."""

import json
import os
import signal
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

import redis
from django.conf import settings
from django.core.cache import cache
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily

from .celery import BEAT_TICK_CACHE_KEY, PUBLISHED_AT_HEADER


def known_queues() -> list[str]:
    configured = os.environ.get("EXPORTER_QUEUES")
    if configured:
        return [queue.strip() for queue in configured.split(",") if queue.strip()]
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return sorted(routed | {settings.CELERY_TASK_DEFAULT_QUEUE})


class CeleryQueueCollector:
    def __init__(self, client: redis.Redis, queues: list[str]):
        self.client = client
        self.queues = queues

    def collect(self):
        length = GaugeMetricFamily(
            "bazaar_celery_queue_length", "Messages waiting in the queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "bazaar_celery_queue_oldest_message_age_seconds",
            "Age of the oldest waiting message (0 when the queue is empty).",
            labels=["queue"],
        )
        now = time.time()
        for queue in self.queues:
            length.add_metric([queue], self.client.llen(queue))
            age.add_metric([queue], self._oldest_age(queue, now))
        yield length
        yield age
        last_tick = cache.get(BEAT_TICK_CACHE_KEY)
        if last_tick is not None:
            tick = GaugeMetricFamily(
                "bazaar_celery_beat_last_tick_timestamp_seconds", "Unix time of beat's last tick."
            )
            tick.add_metric([], float(last_tick))
            yield tick

    def _oldest_age(self, queue: str, now: float) -> float:
        # Celery's Redis transport pushes on the left and pops on the right: the oldest
        # message is the last element.
        raw = self.client.lindex(queue, -1)
        if raw is None:
            return 0.0
        try:
            published_at = float(json.loads(raw)["headers"][PUBLISHED_AT_HEADER])
        except (ValueError, KeyError, TypeError):
            return 0.0
        return max(0.0, now - published_at)


class MigrationsCollector:
    """Unapplied migrations of this image's code, per scrape (the PendingMigrations alert)."""

    def collect(self):
        from django.db import DatabaseError

        from .schema import unapplied_migrations

        unapplied = GaugeMetricFamily(
            "django_migrations_unapplied_total",
            "Migrations of this code not applied to the database.",
            labels=["connection"],
        )
        try:
            unapplied.add_metric(["default"], len(unapplied_migrations()))
        except DatabaseError:
            return
        yield unapplied


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        return


def build_app():
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=2)
    registry = CollectorRegistry()
    registry.register(CeleryQueueCollector(client, known_queues()))
    registry.register(MigrationsCollector())
    metrics_app = make_wsgi_app(registry)

    def app(environ, start_response):
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status": "ok"}']
        return metrics_app(environ, start_response)

    return app


def _exit_cleanly(signum, frame) -> None:
    raise SystemExit(0)


def serve() -> None:
    signal.signal(signal.SIGTERM, _exit_cleanly)
    host = os.environ.get("METRICS_HOST", "0.0.0.0")  # noqa: S104
    with make_server(
        host, int(settings.METRICS_PORT), build_app(), handler_class=_QuietHandler
    ) as server:
        server.serve_forever()
