"""Sentry from ``SENTRY_DSN``; a no-op when it is unset."""

import structlog
from django.conf import settings

UNTRACED_PATHS = ("/healthz", "/readyz", "/metrics")


def _traces_sampler(context: dict) -> float:
    path = (context.get("wsgi_environ") or {}).get("PATH_INFO", "")
    if path.startswith(UNTRACED_PATHS):
        return 0.0
    return settings.SENTRY_TRACES_SAMPLE_RATE


def _tag_request_id(event: dict, hint: dict) -> dict:
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id:
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def init_sentry() -> None:
    if not settings.SENTRY_DSN:
        return
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=settings.SENTRY_ENVIRONMENT,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sampler=_traces_sampler,
        send_default_pii=False,
        before_send=_tag_request_id,
    )
