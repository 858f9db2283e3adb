"""The Celery application. Tasks only call services; the process plumbing (heartbeat, probes,
metrics) lives in ``bazaar.common.celery``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = Celery("bazaar")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _register_worker_steps() -> None:
    from bazaar.common.celery import HeartbeatStep, TaskLogContextStep

    app.steps["worker"].add(HeartbeatStep)
    app.steps["worker"].add(TaskLogContextStep)


_register_worker_steps()
