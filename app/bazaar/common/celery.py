"""Celery process plumbing: liveness/readiness files for the worker and beat probes, task
metrics, the publish timestamp the queue-age exporter reads, and the worker metrics endpoint."""

import os
import time
from pathlib import Path

import structlog
from celery import bootsteps, signals
from celery.beat import PersistentScheduler
from django.conf import settings

from . import metrics

logger = structlog.get_logger(__name__)
HEARTBEAT_INTERVAL_SECONDS = 10.0
BEAT_TICK_CACHE_KEY = "celery:beat:last_tick"
PUBLISHED_AT_HEADER = "bazaar_published_at"
_task_started: dict[str, float] = {}


def _touch(path: str) -> None:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(str(time.time()))


class HeartbeatStep(bootsteps.StartStopStep):
    """Touch the heartbeat file from the worker's own timer, so the liveness probe fails when
    the consumer's loop is stuck, without a remote-control ping through the broker."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None
        self.pool_name = os.environ.get("BAZAAR_WORKER_POOL", "default")

    def start(self, worker):
        self.beat()
        self.tref = worker.timer.call_repeatedly(HEARTBEAT_INTERVAL_SECONDS, self.beat)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
        Path(settings.CELERY_HEARTBEAT_FILE).unlink(missing_ok=True)

    def beat(self):
        _touch(settings.CELERY_HEARTBEAT_FILE)
        metrics.CELERY_WORKER_HEARTBEAT.labels(pool=self.pool_name).set(time.time())


class TaskLogContextStep(bootsteps.Step):
    """django-structlog's worker half: bind the task id and the request id that came in the task
    headers for every line of the task, and log ``task_started``/``task_succeeded``/….

    Its publish half (request id into the headers, ``task_enqueued``) is already connected in
    every process by django-structlog's app config; the library's ``DjangoStructLogInitStep``
    would connect it a second time and log every enqueue twice.
    """

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        from django_structlog.celery.receivers import CeleryReceiver

        receiver = CeleryReceiver()
        for signal, handler in (
            (signals.task_prerun, receiver.receiver_task_prerun),
            (signals.task_retry, receiver.receiver_task_retry),
            (signals.task_success, receiver.receiver_task_success),
            (signals.task_failure, receiver.receiver_task_failure),
            (signals.task_revoked, receiver.receiver_task_revoked),
            (signals.task_unknown, receiver.receiver_task_unknown),
            (signals.task_rejected, receiver.receiver_task_rejected),
        ):
            signal.connect(handler, weak=False)


class TickingScheduler(PersistentScheduler):
    """Beat's scheduler, recording each tick for the liveness probe and the exporter."""

    def tick(self, *args, **kwargs):
        next_in = super().tick(*args, **kwargs)
        _touch(settings.CELERY_BEAT_TICK_FILE)
        from django.core.cache import cache

        cache.set(BEAT_TICK_CACHE_KEY, time.time(), timeout=None)
        return next_in


def _queue_of(task) -> str:
    delivery = getattr(task.request, "delivery_info", None) or {}
    return delivery.get("routing_key") or "default"


def _on_task_prerun(task_id=None, **kwargs):
    _task_started[task_id] = time.perf_counter()


def _on_task_postrun(task_id=None, task=None, state=None, **kwargs):
    started = _task_started.pop(task_id, None)
    queue = _queue_of(task)
    outcome = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}.get(
        state or "", (state or "unknown").lower()
    )
    metrics.CELERY_TASKS.labels(task=task.name, queue=queue, state=outcome).inc()
    if started is not None:
        metrics.CELERY_TASK_RUNTIME.labels(task=task.name, queue=queue).observe(
            time.perf_counter() - started
        )


def _on_before_publish(headers=None, **kwargs):
    if headers is not None:
        headers.setdefault(PUBLISHED_AT_HEADER, time.time())


def _on_worker_ready(sender=None, **kwargs):
    _touch(settings.CELERY_READY_FILE)
    port = int(settings.METRICS_PORT)
    if port:
        from .metrics_server import start_metrics_server

        start_metrics_server(port)
    logger.info("worker_ready", metrics_port=port)


def _on_worker_shutdown(**kwargs):
    Path(settings.CELERY_READY_FILE).unlink(missing_ok=True)


def connect_signals() -> None:
    signals.task_prerun.connect(_on_task_prerun, weak=False)
    signals.task_postrun.connect(_on_task_postrun, weak=False)
    signals.before_task_publish.connect(_on_before_publish, weak=False)
    signals.worker_ready.connect(_on_worker_ready, weak=False)
    signals.worker_shutdown.connect(_on_worker_shutdown, weak=False)
